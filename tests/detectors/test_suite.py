from __future__ import annotations

import json

import numpy as np
import pytest
from driftline.detectors import (
    DriftSettings,
    DriftSuite,
    ReferenceProfile,
    TestSpec,
    WindowSketch,
    adjust_p_values,
)
from driftline.detectors.correction import cauchy_combination
from driftline.detectors.suite import simes
from scipy import stats


def settings(**kw):
    base = {"numeric": (TestSpec("psi", 0.2), TestSpec("ks", 0.05)), "categorical": (TestSpec("chi2", 0.01),),
            "correction": "bh", "accumulate": 1}
    base.update(kw)
    return DriftSettings(**base)


def window_of(reference, cols):
    w = WindowSketch(reference)
    w.update(cols)
    return w


def test_same_distribution_does_not_drift(reference, columns):
    results = DriftSuite(reference, settings()).evaluate(window_of(reference, columns(5_000, seed=11)))
    assert [(r.feature, r.test) for r in results] == [
        ("age", "psi"), ("age", "ks"), ("income", "psi"), ("income", "ks"), ("country", "chi2")]
    assert not any(r.drifted for r in results)


def test_shifted_distribution_drifts(reference, columns):
    results = DriftSuite(reference, settings()).evaluate(window_of(reference, columns(5_000, seed=12, shift=1.0)))
    assert all(r.drifted for r in results)
    psi_age = next(r for r in results if r.feature == "age" and r.test == "psi")
    assert psi_age.p_value is None and psi_age.corrected == "none" and psi_age.statistic > 0.5


def test_small_shift_detected_by_psi_and_ks(reference, columns):
    results = DriftSuite(reference, settings()).evaluate(window_of(reference, columns(5_000, seed=13, shift=0.3)))
    verdicts = {(r.feature, r.test): r.drifted for r in results}
    assert verdicts[("age", "ks")] and verdicts[("income", "ks")] and verdicts[("income", "psi")]


def test_bh_correction_matches_manual(reference, columns):
    suite = DriftSuite(reference, settings(numeric=(TestSpec("ks", 0.05),), categorical=(TestSpec("chi2", 0.05),)))
    results = suite.evaluate(window_of(reference, columns(3_000, seed=14, shift=0.05)))
    raw = np.array([r.p_value for r in results])
    m = len(raw)
    order = np.argsort(raw)
    q = np.minimum.accumulate((raw[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    manual = np.empty(m)
    manual[order] = np.minimum(q, 1)
    np.testing.assert_allclose([r.adjusted_p_value for r in results], manual)
    for r in results:
        assert r.corrected == "bh"
        assert r.raw_drifted == (r.p_value < 0.05)
        assert r.drifted == (r.adjusted_p_value < 0.05)


def test_adjust_p_values_bonferroni_and_known_bh_example():
    p = [0.01, 0.02, 0.03, 0.04, 0.05]
    assert adjust_p_values(p, "bonferroni").tolist() == pytest.approx([0.05, 0.1, 0.15, 0.2, 0.25])
    assert adjust_p_values(p, "bh").tolist() == pytest.approx([0.05] * 5)
    # scipy >= 1.11 ships BH; cross-check on random p-values.
    rand = np.random.default_rng(0).random(40) ** 3
    np.testing.assert_allclose(adjust_p_values(rand, "bh"), stats.false_discovery_control(rand, method="bh"))


def holm_by_definition(p: np.ndarray, alpha: float) -> np.ndarray:
    """Holm (1979) as stated: sort ascending; reject H_(1..k) for the largest k with p_(i) <= alpha / (m - i + 1)
    for every i <= k (step-down: stop at the first acceptance)."""
    m = len(p)
    rejected = np.zeros(m, dtype=bool)
    for rank, i in enumerate(np.argsort(p, kind="stable")):
        if p[i] > alpha / (m - rank):
            break
        rejected[i] = True
    return rejected


def test_holm_matches_its_step_down_definition_at_every_level():
    # An independent formulation (rejection sets, level by level) of what adjust_p_values computes as
    # adjusted p-values; statsmodels' multipletests(method="holm") agrees too but is a bench extra only.
    assert adjust_p_values([0.01, 0.04, 0.03, 0.005], "holm").tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    rng = np.random.default_rng(4)
    for _ in range(50):
        p = rng.random(int(rng.integers(1, 15))) ** 4
        adjusted = adjust_p_values(p, "holm")
        assert np.all(adjusted >= p) and np.all(adjusted <= 1.0)
        assert np.all(adjusted <= adjust_p_values(p, "bonferroni") + 1e-15)
        for alpha in (0.001, 0.01, 0.05, 0.2):
            np.testing.assert_array_equal(adjusted <= alpha, holm_by_definition(p, alpha))


def test_holm_keeps_the_other_features_at_alpha_over_m_where_bh_relaxes():
    # One feature truly drifted (tiny p-values): BH then tests the rest at about k alpha / m, Holm at alpha / (m - k).
    p = np.array([1e-9, 1e-9, 0.004, 0.3, 0.5, 0.7])
    assert adjust_p_values(p, "bh")[2] < 0.01 < adjust_p_values(p, "holm")[2]


def test_bonferroni_can_clear_a_raw_hit(reference, columns):
    cols = columns(3_000, seed=15)
    cols["age"] = cols["age"] + 1.5  # a small shift (0.15 std) in one feature only
    results = DriftSuite(reference, settings(numeric=(TestSpec("ks", 0.05),), categorical=(),
                                             correction="bonferroni")).evaluate(window_of(reference, cols))
    age = results[0]
    assert age.raw_drifted and age.adjusted_p_value == pytest.approx(min(1.0, age.p_value * 2))


def test_persistence_k_of_n_and_snapshot(reference, columns):
    s = settings(numeric=(TestSpec("psi", 0.2),), categorical=(), persistence=(2, 3))
    suite = DriftSuite(reference, s)
    shifted, same = window_of(reference, columns(3_000, seed=16, shift=1.0)), window_of(reference, columns(3_000, seed=17))
    seq = [shifted, shifted, same, shifted, same, same]
    verdicts = []
    for i, w in enumerate(seq):
        if i == 3:  # restart mid-sequence from a JSON snapshot
            suite = DriftSuite.restore(reference, s, json.loads(json.dumps(suite.snapshot())))
        verdicts.append(suite.evaluate(w)[0].drifted)
    assert verdicts == [False, True, True, True, False, False]


def test_feature_without_values_is_skipped(reference, columns):
    cols = columns(1_000, seed=18)
    cols["age"] = np.full(1_000, np.nan)
    results = DriftSuite(reference, settings()).evaluate(window_of(reference, cols))
    assert "age" not in {r.feature for r in results}


def test_importances_are_attached(reference, columns):
    results = DriftSuite(reference, settings(importances={"age": 0.7})).evaluate(window_of(reference, columns(1_000, seed=19)))
    assert {r.feature: r.importance for r in results} == {"age": 0.7, "income": None, "country": None}


def test_prediction_and_score_columns_are_features():
    rng = np.random.default_rng(20)
    kinds = {"prediction": "categorical", "score": "numeric"}
    ref = ReferenceProfile.from_columns(kinds, {"prediction": rng.choice(np.array(["0", "1"], dtype=object), 5000, p=[0.8, 0.2]),
                                               "score": rng.beta(2, 5, 5000)})
    w = WindowSketch(ref)
    w.update({"prediction": rng.choice(np.array(["0", "1"], dtype=object), 2000, p=[0.5, 0.5]), "score": rng.beta(5, 2, 2000)})
    results = DriftSuite(ref, DriftSettings()).evaluate(w)
    assert {r.feature for r in results if r.drifted} == {"prediction", "score"}


def accumulating(**kw):
    base = {"numeric": (TestSpec("wasserstein", "auto"), TestSpec("moments", "auto")),
            "categorical": (TestSpec("chi2", "auto"),), "accumulate": 2}
    base.update(kw)
    return DriftSettings(**base)


def test_accumulation_combines_the_window_and_the_merge_of_the_last_two_by_simes(reference, columns):
    first, second = window_of(reference, columns(800, seed=31, shift=0.02)), window_of(reference, columns(800, seed=32, shift=0.02))
    suite = DriftSuite(reference, accumulating())
    alone = DriftSuite(reference, accumulating(accumulate=1))
    # The first window has no history: its p-values are the window's own.
    assert [r.p_value for r in suite.evaluate(first)] == [r.p_value for r in alone.evaluate(first)]
    merged = WindowSketch(reference)
    merged.merge(first)
    merged.merge(second)
    p_window = [r.p_value for r in alone.evaluate(second)]
    p_merged = [r.p_value for r in DriftSuite(reference, accumulating(accumulate=1)).evaluate(merged)]
    got = suite.evaluate(second)
    assert [r.p_value for r in got] == pytest.approx([simes(a, b) for a, b in zip(p_window, p_merged, strict=True)])
    # The two tests of a feature are one hypothesis (their Cauchy combination), then Holm over the features.
    features = list(dict.fromkeys(r.feature for r in got))
    groups = [features.index(r.feature) for r in got]
    family = adjust_p_values(cauchy_combination([r.p_value for r in got], groups), "holm")
    assert [r.adjusted_p_value for r in got] == pytest.approx([family[g] for g in groups])
    flat = DriftSuite(reference, accumulating(combine="none")).evaluate(second)
    assert [r.adjusted_p_value for r in flat] == pytest.approx(adjust_p_values([r.p_value for r in flat], "holm").tolist())


def test_accumulation_finds_a_small_lasting_shift_with_much_smaller_p_values(reference, columns):
    # A 0.1 sd shift of age in 1,000-row windows: a z of about 3 per window, about 4.2 over two.
    second = {1: [], 2: []}
    for acc in second:
        for i in range(12):
            suite = DriftSuite(reference, accumulating(accumulate=acc))
            suite.evaluate(window_of(reference, columns(1_000, seed=100 + i)))  # the stream's past
            for j in range(2):
                w = columns(1_000, seed=200 + 2 * i + j)
                w["age"] = w["age"] + 1.0
                p = [r.p_value for r in suite.evaluate(window_of(reference, w)) if r.feature == "age"]
            second[acc].append(min(p))
    assert np.median(second[2]) < np.median(second[1]) / 5, second


def test_accumulated_windows_survive_a_snapshot_and_baselines_do_not_join_them(reference, columns):
    windows = [window_of(reference, columns(700, seed=40 + i, shift=0.03)) for i in range(3)]
    straight = DriftSuite(reference, accumulating(accumulate=3))
    expected = [[r.p_value for r in straight.evaluate(w)] for w in windows]
    suite = DriftSuite(reference, accumulating(accumulate=3))
    suite.evaluate(windows[0])
    suite.evaluate(windows[1], windows[0], "previous_1")  # a rolling baseline's evaluation: not accumulated
    suite = DriftSuite.restore(reference, suite.settings, json.loads(json.dumps(suite.snapshot())))
    assert len(suite.snapshot()["recent"]) == 1
    got = [[r.p_value for r in suite.evaluate(w)] for w in windows[1:]]
    assert sum(got, []) == pytest.approx(sum(expected[1:], []))
    suite.reset()
    assert suite.snapshot()["recent"] == []
    # A checkpoint from before accumulation existed restores with no history.
    old = {"persistence": suite.snapshot()["persistence"]}
    assert DriftSuite.restore(reference, suite.settings, old).snapshot()["recent"] == []

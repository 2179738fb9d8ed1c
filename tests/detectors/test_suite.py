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
from scipy import stats


def settings(**kw):
    base = {"numeric": (TestSpec("psi", 0.2), TestSpec("ks", 0.05)), "categorical": (TestSpec("chi2", 0.01),)}
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
    assert all(r.drifted for r in DriftSuite(ref, DriftSettings()).evaluate(w))

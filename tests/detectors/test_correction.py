"""The Cauchy combination of a feature's calibrated tests, checked against scipy's Cauchy distribution."""

from __future__ import annotations

import numpy as np
import pytest
from driftline.detectors import DriftSettings, DriftSuite, ReferenceProfile, TestSpec, WindowSketch
from driftline.detectors.correction import cauchy_combination
from driftline.detectors.errors import DetectorConfigError
from scipy import stats


def scipy_cauchy(p: np.ndarray) -> float:
    return float(stats.cauchy.sf(np.mean(stats.cauchy.isf(np.minimum(p, 0.99)))))


def test_equals_scipy_cauchy_sf_of_the_mean_isf_over_the_whole_range():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.random(600), 10.0 ** rng.uniform(-14, -1, 600)])
    groups = np.repeat(np.arange(400), 3)
    got = cauchy_combination(p, groups)
    want = [scipy_cauchy(p[3 * g:3 * g + 3]) for g in range(400)]
    assert got == pytest.approx(want, rel=1e-9)


def test_keeps_precision_where_scipy_saturates_and_handles_zero_and_one():
    # scipy's isf(1e-20) is tan(pi/2) in float: 1.6e16; the exact form keeps 1e-20.
    assert cauchy_combination([1e-20, 1e-20], [0, 0])[0] == pytest.approx(1e-20, rel=1e-9)
    assert cauchy_combination([0.0, 0.7], [0, 0])[0] == 0.0
    assert cauchy_combination([1.0, 1.0], [0, 0])[0] == pytest.approx(0.99)
    assert cauchy_combination([1.0], [0]).tolist() == [1.0]  # a group of one keeps its p-value


def test_is_valid_for_strongly_dependent_p_values_at_small_alpha():
    # Two tests of one feature see the same data: p-values from z's correlated at 0.9.
    rng = np.random.default_rng(1)
    z = rng.standard_normal((200_000, 2)) @ np.linalg.cholesky([[1, 0.9], [0.9, 1]]).T
    p = 2 * stats.norm.sf(np.abs(z))
    combined = cauchy_combination(p.ravel(), np.repeat(np.arange(len(p)), 2))
    for alpha in (0.01, 0.001):
        # Exact under perfect dependence and as alpha -> 0 under independence; in between a little
        # above alpha (measured here: 1.03x at 0.01, 1.16x at 0.001, 231 of 200,000 +- 15).
        assert (combined < alpha).mean() <= alpha * 1.3
        # and it does not pay Bonferroni's factor when the tests agree
        assert (combined < alpha).mean() > (np.minimum(2 * p.min(axis=1), 1) < alpha).mean()


def test_a_feature_is_one_hypothesis_and_names_the_tests_that_decided_it():
    rng = np.random.default_rng(3)
    ref = ReferenceProfile.from_columns({"x": "numeric", "y": "numeric"},
                                        {"x": rng.normal(0, 1, 10_000), "y": rng.normal(0, 1, 10_000)})
    settings = DriftSettings(numeric=(TestSpec("wasserstein", "auto"), TestSpec("ranks", "auto")), accumulate=1)
    w = WindowSketch(ref)
    w.update({"x": rng.normal(0.3, 1, 1000), "y": rng.normal(0, 1, 1000)})
    results = DriftSuite(ref, settings).evaluate(w)
    by = {(r.feature, r.test): r for r in results}
    # One adjusted p-value per feature (Holm over 2 features, not 4 tests).
    assert by["x", "wasserstein"].adjusted_p_value == by["x", "ranks"].adjusted_p_value
    combined = cauchy_combination([by["x", t].p_value for t in ("wasserstein", "ranks")], [0, 0])[0]
    assert by["x", "wasserstein"].adjusted_p_value == pytest.approx(min(1.0, 2 * combined))
    flagged = [r.test for r in results if r.drifted]
    assert flagged and all(by["x", t].p_value <= combined for t in flagged)
    assert not any(r.drifted for r in results if r.feature == "y")
    # Without the combination each test is its own hypothesis (Holm over 4).
    flat = {(r.feature, r.test): r for r in DriftSuite(ref, DriftSettings(
        numeric=settings.numeric, accumulate=1, combine="none")).evaluate(w)}
    assert flat["x", "wasserstein"].adjusted_p_value != flat["x", "ranks"].adjusted_p_value


def test_unknown_combination_names_the_key():
    with pytest.raises(DetectorConfigError, match="combine: 'fisher' is not a known combination"):
        DriftSettings(combine="fisher")

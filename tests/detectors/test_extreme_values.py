"""Values near the float64 limit (a feature value of 1e308) keep every sketch and test finite, without warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats
from driftline.detectors import (
    DriftSettings,
    DriftSuite,
    PCAReconstructionDrift,
    ReferenceBuilder,
    ReferenceProfile,
    TestSpec,
    WindowSketch,
)
from driftline.detectors.distances import wasserstein


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning means an inf or NaN is on its way
        yield


def with_extremes(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(0, 1, n)
    x[::100] = 1e308
    x[50::100] = -1e308
    return x


def test_a_reference_with_1e308_has_a_finite_mean_and_std():
    x = with_extremes(5_000, 0)
    for ref in (ReferenceProfile.from_columns({"x": "numeric"}, {"x": x}),
                _warmup({"x": x})):
        p = ref.features["x"]
        assert np.isfinite([p.mean, p.std, p.min, p.max]).all()
        assert p.std == pytest.approx(np.std(x / 1e300) * 1e300, rel=1e-9)
    plain = ReferenceProfile.from_columns({"x": "numeric"}, {"x": np.arange(10.0)}).features["x"]
    assert (plain.mean, plain.std) == (4.5, float(np.std(np.arange(10.0))))  # unchanged for ordinary values


def _warmup(columns):
    builder = ReferenceBuilder({"x": "numeric"}, warmup_events=len(columns["x"]))
    builder.update(columns)
    return builder.build()


def test_drift_tests_on_windows_with_1e308_stay_finite():
    ref = ReferenceProfile.from_columns({"x": "numeric"}, {"x": np.random.default_rng(1).normal(0, 1, 5_000)})
    tests = (TestSpec("psi"), TestSpec("ks"), TestSpec("wasserstein"), TestSpec("jensen_shannon"))
    suite = DriftSuite(ref, DriftSettings(numeric=tests))
    window = WindowSketch(ref)
    window.update({"x": with_extremes(2_000, 2)})
    again = WindowSketch.restore(ref, window.snapshot())
    results = suite.evaluate(again)
    assert {r.test for r in results} == {"psi", "ks", "wasserstein", "jensen_shannon"}
    assert all(np.isfinite(r.statistic) for r in results)
    assert window.features["x"].out_of_range == 40


def test_wasserstein_near_the_float64_limit_matches_scipy_on_scaled_values():
    a = np.sort(with_extremes(500, 3))
    b = with_extremes(300, 4) * 0.5
    expected = scipy.stats.wasserstein_distance(a / 1e300, b / 1e300) * 1e300
    assert wasserstein(a, b) == pytest.approx(expected, rel=1e-9)
    assert np.isfinite(wasserstein(np.array([-1e308, 1e308]), np.array([1e308, 1e308])))


def test_pca_reconstruction_error_with_1e308_is_finite():
    rng = np.random.default_rng(5)
    reference = {"a": with_extremes(4_000, 6), "b": rng.normal(0, 1, 4_000)}
    pca = PCAReconstructionDrift(chunk_size=500).fit(reference)
    errors = pca.reconstruction_error({"a": np.array([1e308, -1e308, 0.0]), "b": np.array([1e308, 0.0, 0.0])})
    assert np.isfinite(errors).all() and np.isfinite([pca.lower, pca.upper]).all()

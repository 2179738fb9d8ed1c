from __future__ import annotations

import numpy as np
import pytest
from driftline.detectors import ReferenceProfile, WindowSketch, make_detector
from driftline.detectors.moments import cell_values, moments_z
from scipy import stats


def sketch(profile, values):
    w = WindowSketch(profile)
    w.update({"x": values})
    return w.features["x"]


def test_on_a_lattice_the_moments_are_numpys():
    rng = np.random.default_rng(0)
    ref_values = rng.integers(0, 30, 20_000).astype(float)
    win_values = rng.integers(2, 33, 3_000).astype(float)  # also beyond the reference's range
    profile = ReferenceProfile.from_columns({"x": "numeric"}, {"x": ref_values})
    p, w = profile.features["x"], sketch(profile, win_values)
    z, _ = make_detector("moments").compare(p, w)
    n_r, n_w = len(ref_values), len(win_values)
    m_r, v_r, m_w, v_w = ref_values.mean(), ref_values.var(), win_values.mean(), win_values.var()
    inv = 1 / n_w + 1 / n_r
    z_mean = abs(m_w - m_r) / np.sqrt(v_r * inv)
    # Values beyond the reference count at their mean distance past the edge: exact here (all are 30..32
    # and the edge is just above 29), up to the spread of those few values.
    # The variance's sampling error from the reference's kurtosis (scipy's, Pearson's definition).
    z_var = abs(v_w - v_r) / (v_r * np.sqrt((stats.kurtosis(ref_values, fisher=False) - 1) * inv))
    assert z == pytest.approx(max(z_mean, z_var), rel=0.02)
    # A narrower window about the same mean: the variance's z decides, on the kurtosis scale (1.8 here, not 3).
    narrow = rng.integers(5, 25, 3_000).astype(float)
    z, _ = make_detector("moments").compare(p, sketch(profile, narrow))
    z_var = abs(narrow.var() - v_r) / (v_r * np.sqrt((stats.kurtosis(ref_values, fisher=False) - 1) * inv))
    assert z_var > 10 * abs(narrow.mean() - m_r) / np.sqrt(v_r * inv)
    assert z == pytest.approx(z_var, rel=1e-9)


def test_the_variance_z_has_unit_scale_on_a_skewed_feature_too():
    # With the normal-theory scale (2 sigma^4) a log-normal's z_var had a standard deviation of about 2 under
    # no change, and decided the max; with the reference's kurtosis it is about 1, like z_mean's.
    rng = np.random.default_rng(5)
    ref_values = rng.lognormal(0, 0.6, 20_000)
    profile = ReferenceProfile.from_columns({"x": "numeric"}, {"x": ref_values})
    values = cell_values(profile.features["x"].grid)
    ref = profile.features["x"].grid_counts.counts
    cur = rng.multinomial(1_000, ref / ref.sum(), size=4_000)
    n_r = ref.sum()
    m_r = (values * ref).sum() / n_r
    v_r = ((values - m_r) ** 2 * ref).sum() / n_r
    m_w = cur @ values / 1_000
    v_w = (cur @ values**2) / 1_000 - m_w**2
    kurtosis = ((values - m_r) ** 4 * ref).sum() / n_r / v_r**2
    inv = 1 / 1_000 + 1 / n_r
    z_var = (v_w - v_r) / (v_r * np.sqrt((kurtosis - 1) * inv))
    assert 0.85 < z_var.std() < 1.15 and kurtosis > 5
    z = moments_z(values, ref[None, :], cur)
    np.testing.assert_allclose(z, np.maximum(np.abs(m_w - m_r) / np.sqrt(v_r * inv), np.abs(z_var)), rtol=1e-6)


def test_a_wider_or_shifted_window_scores_high_and_the_same_distribution_low():
    rng = np.random.default_rng(1)
    profile = ReferenceProfile.from_columns({"x": "numeric"}, {"x": rng.normal(5, 2, 20_000)})
    test = make_detector("moments")
    same = [test.compare(profile.features["x"], sketch(profile, rng.normal(5, 2, 1_000)))[0] for _ in range(20)]
    assert max(same) < 4.0
    wider = test.compare(profile.features["x"], sketch(profile, rng.normal(5, 2.3, 1_000)))[0]
    shifted = test.compare(profile.features["x"], sketch(profile, rng.normal(5.4, 2, 1_000)))[0]
    assert wider > 4.0 and shifted > 4.0


def test_a_constant_reference_flags_any_movement():
    values = cell_values(np.array([1.0, 1.0 + 1e-12]))
    assert moments_z(values, np.array([[0, 10, 0]]), np.array([[0, 10, 0]]))[0] == 0.0
    assert moments_z(values, np.array([[0, 10, 0]]), np.array([[0, 5, 5]]))[0] == np.inf


def test_threshold_and_snapshot():
    test = make_detector("moments", threshold=3.0)
    assert test.is_drift(3.5, None) and not test.is_drift(2.0, None)
    assert type(test).restore(test.snapshot()).threshold == 3.0

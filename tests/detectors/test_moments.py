from __future__ import annotations

import numpy as np
import pytest
from driftline.detectors import ReferenceProfile, WindowSketch, make_detector
from driftline.detectors.moments import cell_values, moments_z


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
    z_var = abs(v_w - v_r) / (v_r * np.sqrt(2 * inv))
    assert z == pytest.approx(max(z_mean, z_var), rel=0.02)


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

from __future__ import annotations

import json

import numpy as np
import pytest
from driftline.detectors import QuantileSketch


@pytest.mark.parametrize("q", [0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0])
def test_relative_accuracy_against_numpy(q):
    x = np.random.default_rng(0).lognormal(3, 1.5, 200_000)
    s = QuantileSketch(relative_accuracy=0.01)
    for chunk in np.array_split(x, 37):
        s.update(chunk)
    exact = np.quantile(x, q, method="lower")
    assert abs(s.quantile(q) - exact) <= 0.01 * exact + 1e-12


def test_merge_equals_single_sketch_and_zeros():
    rng = np.random.default_rng(1)
    a_vals, b_vals = rng.exponential(50, 10_000), np.concatenate([np.zeros(100), rng.exponential(500, 5_000)])
    a, b, both = QuantileSketch(), QuantileSketch(), QuantileSketch()
    a.update(a_vals)
    b.update(b_vals)
    both.update(np.concatenate([a_vals, b_vals]))
    a.merge(b)
    assert a.snapshot() == both.snapshot()
    assert a.quantile(0.0) == 0.0


def test_bucket_count_is_bounded_and_top_quantiles_survive():
    s = QuantileSketch(max_buckets=128)
    x = np.random.default_rng(2).lognormal(0, 0.5, 100_000)  # ~250 buckets' worth of range
    for chunk in np.array_split(x, 10):
        s.update(chunk)
    assert len(s.snapshot()["buckets"]) == 128
    for q in (0.9, 0.99, 1.0):
        exact = np.quantile(x, q, method="lower")
        assert abs(s.quantile(q) - exact) <= 0.01 * exact
    assert s.quantile(0.001) > np.quantile(x, 0.001)  # low tail collapsed upward, as documented


def test_snapshot_round_trip_and_validation():
    s = QuantileSketch()
    s.update(np.array([1.0, 2.0, np.nan, 3.0]))
    r = QuantileSketch.restore(json.loads(json.dumps(s.snapshot())))
    assert r.n == 3 and r.quantile(0.5) == s.quantile(0.5)
    with pytest.raises(ValueError, match="^values: negative"):
        s.update(np.array([-1.0]))
    with pytest.raises(ValueError, match="^relative_accuracy: "):
        QuantileSketch(relative_accuracy=0.0)
    with pytest.raises(ValueError, match="^other: relative_accuracy differs"):
        s.merge(QuantileSketch(relative_accuracy=0.02))

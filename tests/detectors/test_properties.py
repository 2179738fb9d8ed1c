"""Property tests: batching never changes a window, corrections behave as specified."""

from __future__ import annotations

import numpy as np
from driftline.detectors import ReferenceProfile, Reservoir, WindowSketch, adjust_p_values
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

REF = ReferenceProfile.from_columns(
    {"x": "numeric", "c": "categorical"},
    {"x": np.linspace(-3, 3, 1000), "c": np.array(["a", "b", "c", "d"] * 250, dtype=object)},
    reservoir_size=50,
)
values = st.one_of(st.floats(min_value=-10, max_value=10), st.just(float("nan")))
cats = st.sampled_from(["a", "b", "zz", None])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(values, cats), min_size=1, max_size=300), st.lists(st.integers(1, 50), min_size=1, max_size=10))
def test_counts_do_not_depend_on_batching(rows, cuts):
    x = np.array([r[0] for r in rows], dtype=np.float64)
    c = np.array([r[1] for r in rows], dtype=object)
    whole, pieces = WindowSketch(REF), WindowSketch(REF)
    whole.update({"x": x, "c": c})
    i = 0
    for k in cuts * 10:
        if i >= len(x):
            break
        pieces.update({"x": x[i : i + k], "c": c[i : i + k]})
        i += k
    pieces.update({"x": x[i:], "c": c[i:]})
    for name in ("x", "c"):
        a, b = whole.features[name], pieces.features[name]
        assert a.counts.tolist() == b.counts.tolist() and (a.n, a.missing) == (b.n, b.missing)
    assert whole.features["x"].grid.counts.tolist() == pieces.features["x"].grid.counts.tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_bh_matches_scipy_and_is_bounded(p):
    adj = adjust_p_values(p, "bh")
    np.testing.assert_allclose(adj, stats.false_discovery_control(np.array(p), method="bh"), atol=1e-12)
    assert np.all(adj >= np.array(p) - 1e-15) and np.all(adj <= 1)
    assert np.all(adjust_p_values(p, "bonferroni") >= adj - 1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 30), st.lists(st.integers(0, 200), min_size=1, max_size=20))
def test_reservoir_holds_only_seen_values(size, batch_sizes):
    r = Reservoir(size=size, seed=1)
    start = 0
    for k in batch_sizes:
        r.update(np.arange(start, start + k, dtype=float))
        start += k
    assert r.seen == start and len(r.values) == min(size, start)
    assert len(set(r.values.tolist())) == len(r.values) and np.all(r.values < start)

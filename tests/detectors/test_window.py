from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
from driftline.detectors import WindowSketch


def test_window_counts_match_reference_binning(reference, columns):
    cols = columns(5_000, seed=7, shift=0.5)
    w = WindowSketch(reference)
    for i in range(0, 5_000, 700):
        w.update({k: v[i : i + 700] for k, v in cols.items()})
    age = cols["age"][np.isfinite(cols["age"])]
    p = reference.features["age"]
    fw = w.features["age"]
    assert w.n == 5_000
    assert fw.counts.tolist() == np.bincount(np.searchsorted(p.edges, age, side="right"), minlength=len(p.counts)).tolist()
    assert fw.missing == 5_000 - len(age)
    assert fw.below == int((age < p.min).sum()) and fw.above == int((age > p.max).sum())
    fine = np.bincount(np.searchsorted(p.grid, age, side="right"), minlength=len(p.grid) + 1)
    assert fw.grid.counts.tolist() == fine.tolist()
    assert fw.grid.low_excess == pytest.approx(np.sum(p.grid[0] - age[age < p.grid[0]]))
    assert fw.grid.high_excess == pytest.approx(np.sum(age[age >= p.grid[-1]] - p.grid[-1]))
    cw = w.features["country"]
    expected = {c: int((cols["country"] == c).sum()) for c in reference.features["country"].categories}
    assert dict(zip(reference.features["country"].categories, cw.counts.tolist(), strict=True)) == expected
    assert cw.missing == int(sum(v is None for v in cols["country"]))


def test_unseen_categories_and_absent_columns(reference, columns):
    w = WindowSketch(reference)
    w.update({"country": np.array(["de", "xx", "yy", "xx", None], dtype=object)})
    cw = w.features["country"]
    assert (cw.unseen, cw.n, cw.missing) == (3, 4, 1)
    assert cw.unseen_examples == {"xx": 2, "yy": 1}
    assert w.features["age"].missing == 5


def test_snapshot_restore_continues_identically(reference, columns):
    a = WindowSketch(reference)
    a.update(columns(3_000, seed=8))
    snap = json.loads(json.dumps(a.snapshot()))
    b = WindowSketch.restore(reference, snap)
    more = columns(4_000, seed=9)
    a.update(more)
    b.update(more)
    assert a.snapshot() == b.snapshot()


def test_merged_windows_equal_the_window_of_all_their_rows_in_any_order(reference, columns):
    parts = [columns(2_000, seed=s, shift=0.3 * s) for s in range(4)]
    whole = WindowSketch(reference)
    for part in parts:
        whole.update(part)
    sketches = []
    for part in parts:
        sketches.append(WindowSketch(reference))
        sketches[-1].update(part)
    for order in ([0, 1, 2, 3], [3, 1, 0, 2]):
        merged = WindowSketch(reference)
        for i in order:
            merged.merge(sketches[i])
        got, want = merged.snapshot(), whole.snapshot()
        assert got["n"] == want["n"]
        for name in ("age", "income"):
            g, w = got["features"][name], want["features"][name]
            assert g["grid"]["counts"] == w["grid"]["counts"] and (g["n"], g["missing"]) == (w["n"], w["missing"])
            assert g["grid"]["high_excess"] == pytest.approx(w["grid"]["high_excess"], rel=1e-12)
        assert got["features"]["country"]["counts"] == want["features"]["country"]["counts"]


def test_memory_bounded(reference, columns):
    w = WindowSketch(reference)
    batch = columns(10_000, seed=10)
    w.update(batch)
    size_before = len(json.dumps(w.snapshot()))
    tracemalloc.start()
    w.update(batch)
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(100):
        w.update(batch)
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert w.n == 1_020_000
    # Counts and sums only: 100x the rows adds digits to the counts, nothing else.
    assert len(json.dumps(w.snapshot())) < size_before * 1.6
    assert grown < 100_000


def test_numeric_counts_live_in_one_array_and_merge_alike_across_equal_profiles(reference, columns, tmp_path):
    from driftline.detectors import ReferenceProfile

    a, b = WindowSketch(reference), WindowSketch(reference)
    a.update(columns(1_500, seed=3))
    b.update(columns(2_500, seed=4, shift=0.4))
    # every numeric feature's cells are a view of the sketch's one array: a batch adds in one step
    assert all(fw.grid.counts.base is a._counts for name, fw in a._numeric)
    same = WindowSketch(reference)
    same.merge(a)
    same.merge(b)
    # a sketch of an equal profile that is another object merges feature by feature: the same state
    reference.save(tmp_path / "ref.json")
    twin = ReferenceProfile.load(tmp_path / "ref.json")
    assert twin is not reference
    other = WindowSketch(twin)
    assert other._layout is not same._layout
    other.merge(a)
    other.merge(b)
    assert other.snapshot() == same.snapshot()
    assert same.n == 4_000 and sum(fw.n + fw.missing for _, fw in same._numeric) == 4_000 * len(same._numeric)

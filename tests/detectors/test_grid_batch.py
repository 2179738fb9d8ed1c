"""Binning every feature of a batch at once (detectors/grid_batch.py) equals one feature at a time."""

from __future__ import annotations

import json

import numpy as np
import pytest
from driftline.detectors.grid import GridCounts, make_grid
from driftline.detectors.grid_batch import GridLayout


def _one_at_a_time(grid: np.ndarray, row: np.ndarray) -> tuple[list[int], int, float, float]:
    values = row[np.isfinite(row)]
    c = GridCounts.of(grid, values)
    return c.counts.tolist(), len(values), c.low_excess, c.high_excess


def _check(grids: list[np.ndarray], x: np.ndarray) -> None:
    layout = GridLayout(grids)
    b = layout.bin(x)
    for j, (grid, counts) in enumerate(zip(grids, layout.split(b.counts), strict=True)):
        expected_counts, finite, low, high = _one_at_a_time(grid, x[j])
        # the bins of np.searchsorted(grid, x, side="right") themselves, not only GridCounts' counts
        assert counts.tolist() == expected_counts
        assert counts.tolist() == np.bincount(np.searchsorted(grid, x[j][np.isfinite(x[j])], side="right"),
                                              minlength=len(grid) + 1).tolist()
        assert int(b.finite[j]) == finite
        # bit for bit: the same sums in the same order
        assert (float(b.low_excess[j]), float(b.high_excess[j])) == (low, high)


def _adversarial(grid: np.ndarray, rows: int, rng: np.random.Generator) -> np.ndarray:
    """Values on grid points, one ulp either side of them, ±0, ±inf, NaN, the float64 extremes."""
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e308, -1e308, np.finfo(float).max,
                         -np.finfo(float).max, 5e-324, -5e-324, np.finfo(float).tiny])
    pool = [specials]
    if len(grid):
        with np.errstate(over="ignore"):
            pool += [grid, np.nextafter(grid, np.inf), np.nextafter(grid, -np.inf), grid[:-1] / 2 + grid[1:] / 2,
                     grid[0] - rng.random(5), grid[-1] + rng.random(5)]
    pool = np.concatenate(pool)
    return rng.choice(pool, rows)


def test_adversarial_values_bin_exactly_as_searchsorted_per_feature():
    rng = np.random.default_rng(17)
    grids = [
        make_grid(np.round(rng.normal(50, 10, 5000), 2), np.array([40.0, 60.0])),  # the usual quantile grid
        make_grid(np.arange(10.0), np.array([5.0])),  # discrete: the values are the grid
        np.array([3.0, np.nextafter(3.0, np.inf)]),  # a constant reference: its value and nextafter
        np.array([]),  # no finite reference value: one cell
        np.array([-1e308, 0.0, 1e308, np.finfo(float).max]),  # overflow-prone widths
        np.array([0.0, 5e-324, 1e-323]),  # subnormal spacing: the map cannot tell them apart
        np.cumsum(np.r_[1.0, np.full(40, 1e-12)]),  # points closer than the map's resolution
    ]
    for rows in (1, 2, 7, 300):
        x = np.stack([_adversarial(g, rows, rng) for g in grids])
        _check(grids, x)


def test_constant_all_missing_and_all_tail_rows():
    grids = [np.array([1.0, 2.0, 3.0])] * 4
    x = np.array([[2.0] * 6, [np.nan] * 6, [-1e308, -5.0, -np.inf, -1e300, -2.0, 0.0],
                  [3.0, 1e308, np.inf, 4.0, 3.0, np.finfo(float).max]])
    _check(grids, x)


def test_tails_of_one_two_and_three_values_sum_like_gridcounts():
    grids = [np.array([0.0, 1.0])] * 6
    x = np.array([[-0.1, 0.5, 0.5, 0.5], [-0.1, -1e308, 0.5, 0.5], [-0.1, -0.2, -0.3, 0.5],
                  [1.0, 0.5, 0.5, 0.5], [3.3, 1e308, 0.5, -np.inf], [1e308, 1.7976931348623157e308, 1.3, np.nan]])
    _check(grids, x)


@pytest.mark.parametrize("seed", range(5))
def test_random_batches_of_many_features(seed):
    rng = np.random.default_rng(seed)
    grids = [make_grid(rng.normal(rng.uniform(-1e3, 1e3), rng.uniform(1e-6, 1e6), 300).round(rng.integers(0, 6)),
                       np.array([])) for _ in range(40)]
    x = np.stack([np.where(rng.random(500) < 0.05, np.nan, rng.choice(g, 500) if rng.random() < 0.3 else
                           rng.normal(g[len(g) // 2], (g[-1] - g[0]) / 3, 500)) for g in grids])
    _check(grids, x)


def test_shapes_and_empty_batches():
    layout = GridLayout([np.array([0.0, 1.0]), np.array([2.0])])
    assert layout.cells == 5 and [len(c) for c in layout.split(np.arange(5))] == [3, 2]
    b = layout.bin(np.empty((2, 0)))
    assert b.counts.tolist() == [0] * 5 and b.finite.tolist() == [0, 0]
    with pytest.raises(ValueError, match="shape"):
        layout.bin(np.zeros((3, 4)))
    assert GridLayout([]).bin(np.empty((0, 4))).counts.tolist() == []


def _per_feature(profile, batches) -> dict:
    """The sketch's state fed one feature at a time (NumericWindow.update / CategoricalWindow.update)."""
    from driftline.detectors import WindowSketch

    w = WindowSketch(profile)
    for columns in batches:
        length = len(next(iter(columns.values())))
        for name, fw in w.features.items():
            if name in columns:
                fw.update(columns[name])
            else:
                fw.missing += length
        w.n += length
    return w.snapshot()


@pytest.mark.parametrize("seed", range(4))
def test_sketch_snapshot_equals_the_per_feature_path(seed):
    from driftline.detectors import ReferenceProfile, WindowSketch

    rng = np.random.default_rng(seed)
    kinds = {f"x{i}": "numeric" for i in range(12)} | {"c": "categorical", "k": "numeric", "e": "numeric"}
    ref = {f"x{i}": np.round(rng.normal(i, 1 + i, 3000), int(rng.integers(0, 4))) for i in range(12)}
    ref |= {"c": rng.choice(np.array(["a", "b"], dtype=object), 3000), "k": np.full(3000, 7.0),
            "e": np.full(3000, np.nan)}
    profile = ReferenceProfile.from_columns(kinds, ref)
    batches = []
    for _ in range(6):
        n = int(rng.integers(1, 400))
        cols = {f"x{i}": np.where(rng.random(n) < 0.1, rng.choice([np.nan, np.inf, -np.inf, 1e308, -0.0], n),
                                  rng.normal(i + rng.normal(), 1 + i, n).round(2)) for i in range(12)}
        cols |= {"c": rng.choice(np.array(["a", "b", "z", None], dtype=object), n),
                 "k": rng.choice([6.0, 7.0, np.nextafter(7.0, 8.0), 8.0], n), "e": rng.normal(0, 1, n)}
        del cols[f"x{int(rng.integers(0, 12))}"]  # an absent column counts as missing
        cols["x3"] = np.clip(cols.get("x3", np.zeros(n)), -1e30, 1e30).astype(np.float32)  # any float dtype
        batches.append(cols)
    w = WindowSketch(profile)
    for cols in batches:
        w.update(cols)
    assert w.snapshot() == _per_feature(profile, batches)
    # merge and restore keep adding in place: the merged state is the state of all the rows
    half = _sketch_of(profile, batches[:3])
    first = half.snapshot()
    rest = WindowSketch.restore(profile, json.loads(json.dumps(_sketch_of(profile, batches[3:]).snapshot())))
    second = rest.snapshot()
    half.merge(rest)
    rest.update(batches[0])  # the merged sketch does not share the other's counts
    merged, whole = half.snapshot(), w.snapshot()
    for name, state in merged["features"].items():
        a, b = first["features"][name], second["features"][name]
        if "grid" in state:
            g = state["grid"]
            # the tail sums add (in another order than the whole window's: equal to rounding)
            assert (g["low_excess"], g["high_excess"]) == (a["grid"]["low_excess"] + b["grid"]["low_excess"],
                                                           a["grid"]["high_excess"] + b["grid"]["high_excess"])
            assert g["low_excess"] == pytest.approx(whole["features"][name]["grid"]["low_excess"], rel=1e-12)
            assert g["high_excess"] == pytest.approx(whole["features"][name]["grid"]["high_excess"], rel=1e-12)
            state["grid"] = {k: v for k, v in g.items() if k == "counts"}
            whole["features"][name]["grid"] = {"counts": whole["features"][name]["grid"]["counts"]}
    assert merged == whole


def _sketch_of(profile, batches):
    from driftline.detectors import WindowSketch

    w = WindowSketch(profile)
    for cols in batches:
        w.update(cols)
    return w

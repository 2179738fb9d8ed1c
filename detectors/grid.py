"""The fine grid of a numeric feature: a partition of the line fixed by the reference.

Every numeric comparison (KS, Wasserstein, PSI, the calibration) runs on counts over this
grid instead of on samples, so a window's state is a vector of counts plus two sums:

* **mergeable and order-independent**: two windows (two partitions, two workers) merge by
  adding their counts and sums; the arrival order of the values never matters;
* **bounded**: ``len(grid) + 1`` counts per feature, at most ``GRID_LEVELS + bins + 2``;
* **exact on discrete data**: when the reference has at most ``GRID_LEVELS + 1`` distinct
  values, they *are* the grid, so KS's ``D`` and Wasserstein's W1 of values on that lattice
  equal scipy's on the raw values (ties included). On continuous data a grid cell holds
  1/``GRID_LEVELS`` of the reference: KS's ``D`` is low by at most the largest mass of one cell
  on either side, W1 moves each value by less than its cell's width.

The grid's inner edges ``g_0 < ... < g_{L-1}`` are the reference's quantiles at ``GRID_LEVELS``
equal steps (``g_0`` is the reference minimum), its coarse bin edges and ``nextafter(max)``;
the ``L + 1`` cells are ``(-inf, g_0), [g_0, g_1), ..., [g_{L-1}, +inf)``. Values below ``g_0``
or at or above ``g_{L-1}`` also add their distance past that edge to ``low_excess`` /
``high_excess``, which is what Wasserstein needs of the tails.

>>> grid = make_grid(np.arange(10.0), np.array([5.0]))
>>> grid.tolist()
[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 9.000000000000002]
>>> c = GridCounts.of(grid, np.array([-2.0, 3.0, 3.0, 12.0]))
>>> c.counts.tolist()[:5], c.n, c.low_excess, round(c.high_excess, 9)
([1, 0, 0, 0, 2], 4, 2.0, 3.0)
>>> c.merged(c).n
8
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from .errors import DetectorStateError
from .packing import decode_float, encode_float

__all__ = ["GRID_LEVELS", "MAX_DISTANCE", "GridCounts", "coarse_counts", "cell_widths", "make_grid", "normal_score_levels",
           "quantile_cells"]

GRID_LEVELS = 500


def make_grid(values: np.ndarray, coarse_edges: np.ndarray, levels: int = GRID_LEVELS) -> np.ndarray:
    """The inner edges of the fine grid of the finite reference ``values`` (see the module docstring)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return np.empty(0, dtype=np.float64)
    distinct = np.unique(v)
    points = distinct if len(distinct) <= levels + 1 else np.quantile(v, np.linspace(0.0, 1.0, levels + 1))
    top = np.nextafter(float(distinct[-1]), np.inf)
    return np.unique(np.concatenate([points, np.asarray(coarse_edges, dtype=np.float64), [top]]))


@dataclass(frozen=True, eq=False)
class GridCounts:
    """Counts of values per grid cell, plus the tails' excess sums; one side of a comparison."""

    counts: np.ndarray  # int64, len(grid) + 1
    low_excess: float = 0.0  # sum of (grid[0] - x) over x < grid[0]
    high_excess: float = 0.0  # sum of (x - grid[-1]) over x >= grid[-1]

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @classmethod
    def empty(cls, grid: np.ndarray) -> GridCounts:
        return cls(np.zeros(len(grid) + 1, dtype=np.int64))

    @classmethod
    def of(cls, grid: np.ndarray, values: np.ndarray) -> GridCounts:
        """The counts of finite ``values`` on ``grid``."""
        counts = np.bincount(np.searchsorted(grid, values, side="right"), minlength=len(grid) + 1)
        if len(grid) == 0 or len(values) == 0:
            return cls(counts.astype(np.int64))
        low = values[values < grid[0]]
        high = values[values >= grid[-1]]
        return cls(counts.astype(np.int64), _excess(grid[0], low), _excess(high, grid[-1]))

    def merged(self, other: GridCounts) -> GridCounts:
        """The counts of both sides' values together (addition: order never matters)."""
        return GridCounts(self.counts + other.counts, self.low_excess + other.low_excess,
                          self.high_excess + other.high_excess)

    def snapshot(self) -> dict[str, Any]:
        return {"counts": self.counts.tolist(), "low_excess": encode_float(self.low_excess),
                "high_excess": encode_float(self.high_excess)}

    @classmethod
    def restore(cls, s: Mapping[str, Any], cells: int) -> GridCounts:
        counts = np.asarray(s["counts"], dtype=np.int64)
        if counts.shape != (cells,):
            raise DetectorStateError(f"grid counts: {len(counts)} cells where the grid has {cells}")
        return cls(counts, decode_float(s["low_excess"], "low_excess"), decode_float(s["high_excess"], "high_excess"))


MAX_DISTANCE = 1e300


def _excess(upper: np.ndarray | float, lower: np.ndarray | float) -> float:
    """Sum of ``upper - lower``, each distance capped at :data:`MAX_DISTANCE`: values near the
    float64 limit (1e308) keep the sum finite (it stays far beyond any drift threshold)."""
    d = np.minimum(np.asarray(upper) / 2 - np.asarray(lower) / 2, MAX_DISTANCE / 2) * 2
    return float(np.sum(d)) if np.size(d) else 0.0


def cell_widths(grid: np.ndarray) -> np.ndarray:
    """Widths of the inner cells ``g_j - g_{j-1}``, each capped at :data:`MAX_DISTANCE`."""
    return np.minimum(np.diff(grid / 2), MAX_DISTANCE / 2) * 2


def coarse_counts(counts: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Fine counts added up into coarse cells starting at fine cell indices ``starts`` (``starts[0] == 0``)."""
    return np.add.reduceat(counts, starts) if len(counts) else counts


def quantile_cells(reference_counts: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Start indices of the coarse cells that cut the reference's mass at the cumulative shares
    ``levels`` (increasing, in (0, 1)), in whole fine cells: fewer cells come out when the
    reference's mass is lumped (ties) or a level falls inside one fine cell with the next.

    >>> quantile_cells(np.array([0, 10, 10, 10, 10, 0]), np.array([0.5])).tolist()
    [0, 3]
    """
    c = np.cumsum(reference_counts, dtype=np.float64)
    total = c[-1] if len(c) else 0.0
    if total <= 0:
        return np.zeros(1, dtype=np.int64)
    # The fine cell where the cumulative share first reaches a level closes a coarse cell.
    ends = np.searchsorted(c / total, np.asarray(levels) - 1e-12, side="left")
    starts = np.unique(np.concatenate([[0], ends + 1]))
    return starts[starts < len(reference_counts)].astype(np.int64)


# The outermost normal-score level keeps two fine cells of reference mass beyond it.
_Z_MAX = float(special.ndtri(1.0 - 2.0 / GRID_LEVELS))


def normal_score_levels(bins: int) -> np.ndarray:
    """Cumulative shares cutting ``bins`` bins of equal width on the normal-score scale
    ``z = Phi^-1(F_ref(x))`` over ``[-z_max, z_max]`` (``z_max`` = 2.65 with 500 grid levels):
    equal-width bins when the reference is normal (as Evidently's Sturges bins over the data's
    range), narrower in mass towards the tails so a change of scale shows, and robust to long
    tails, which equal-width bins would squeeze the bulk of the data into one bin for.

    >>> [round(float(x), 3) for x in normal_score_levels(4)]
    [0.004, 0.5, 0.996]
    """
    return special.ndtr(np.linspace(-_Z_MAX, _Z_MAX, bins - 1))

"""The fine grids of many numeric features laid end to end, to bin a batch of every feature at once.

A window sketch bins each batch of each numeric feature on that feature's fine grid
(:mod:`~driftline.detectors.grid`). Done one feature at a time, as
:meth:`~driftline.detectors.grid.GridCounts.of` does, that is about ten numpy calls per feature per
batch, which at hundreds of features per event costs more than decoding the events.
:class:`GridLayout` bins a ``features x rows`` matrix with the same results:

1. the rows are sorted in one call (missing values, NaN and ±inf, go last as ``+inf``);
2. per feature, one ``searchsorted`` of its grid points and its two bounds into its sorted row
   counts the values below each of them: sorted queries into a short sorted row, the cheapest
   search there is, and exact (the original values, no transformation);
3. a cell's count is the difference of the counts below its two edges, for every feature in one
   vectorised step; the values below and above the bounds likewise;
4. the tail sums (``low_excess``, ``high_excess``) are sums of the values beyond the grid's ends.
   A tail of one or two values (the common case) is summed vectorised, from the sorted row: the
   sum of two floats does not depend on their order. A longer tail is summed like
   :meth:`~driftline.detectors.grid.GridCounts.of` sums it, in the values' original order, so
   every sum is equal to the last bit.

Bins and counts equal ``np.searchsorted(grid, values, side="right")`` per feature, ties, ±0.0,
subnormals and values near the float64 limit included (tests/detectors/test_grid_batch.py).

>>> layout = GridLayout([np.array([0.0, 1.0, 2.0]), np.array([]), np.array([5.0])])
>>> b = layout.bin(np.array([[-1.0, 1.0, 1.5, np.nan], [3.0, np.inf, 4.0, 5.0], [5.0, 4.0, 6.0, 5.0]]))
>>> [c.tolist() for c in layout.split(b.counts)], b.finite.tolist()
([[1, 0, 2, 0], [3], [1, 3]], [3, 3, 4])
>>> b.low_excess.tolist(), b.high_excess.tolist()
([1.0, 0.0, 1.0], [0.0, 0.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .grid import MAX_DISTANCE, _excess

__all__ = ["BatchCells", "GridLayout"]


@dataclass(frozen=True, eq=False)
class BatchCells:
    """One batch binned: the cell counts of every feature end to end (``GridLayout.split`` cuts
    them), and per feature the finite values, the tail sums (0.0 without tail values) and the
    values below and above its bounds."""

    counts: np.ndarray  # int64, GridLayout.cells
    finite: np.ndarray  # int64, per feature
    low_excess: np.ndarray  # float64, per feature
    high_excess: np.ndarray  # float64, per feature
    below: np.ndarray  # int64, per feature: values < its lower bound (0 without bounds)
    above: np.ndarray  # int64, per feature: values > its upper bound


class GridLayout:
    """The grids of ``len(grids)`` features end to end: feature ``j`` owns ``len(grids[j]) + 1``
    cells starting at ``starts[j]``. ``bounds`` (lower, upper per feature, None for none): the
    values outside them are counted too (a window's ``below``/``above``)."""

    def __init__(self, grids: Sequence[np.ndarray],
                 bounds: Sequence[tuple[float | None, float | None]] | None = None) -> None:
        self.grids = [np.asarray(g, dtype=np.float64) for g in grids]
        self.features = len(self.grids)
        lengths = np.array([len(g) for g in self.grids], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(lengths + 1)]).astype(np.int64)
        self.cells = int(self.starts[-1])
        self.first_cells = self.starts[:-1]
        self.last_cells = self.starts[1:] - 1
        bounds = bounds or [(None, None)] * self.features
        lower = [-np.inf if a is None else float(a) for a, _ in bounds]
        # x > upper is x >= nextafter(upper) for a float: both bounds are then "values below".
        upper = [np.inf if b is None else float(np.nextafter(b, np.inf)) for _, b in bounds]
        # Per feature, the queries of its one search: its grid points, then its two bounds.
        self.queries = [np.concatenate([g, [lo, hi]]) for g, lo, hi in zip(self.grids, lower, upper, strict=True)]
        ends = np.cumsum(lengths + 2)
        self.grid_queries = np.concatenate([np.arange(e - n - 2, e - 2) for e, n in zip(ends, lengths, strict=True)]
                                           ).astype(np.int64) if self.features else np.empty(0, dtype=np.int64)
        self.point_cells = np.concatenate([np.arange(s, s + n) for s, n in zip(self.first_cells, lengths, strict=True)]
                                          ).astype(np.int64) if self.features else np.empty(0, dtype=np.int64)
        self.lower_queries, self.upper_queries = ends - 2, ends - 1
        self.gridded = lengths > 0  # an empty grid (no finite reference value) has one cell and no tails
        self.lo = np.array([g[0] if len(g) else 0.0 for g in self.grids])
        self.hi = np.array([g[-1] if len(g) else 0.0 for g in self.grids])

    def split(self, counts: np.ndarray) -> list[np.ndarray]:
        """Each feature's cells of a flat ``counts`` (views)."""
        return [counts[a:b] for a, b in zip(self.starts[:-1].tolist(), self.starts[1:].tolist(), strict=True)]

    def bin(self, values: np.ndarray) -> BatchCells:
        """Bin ``values`` (``features x rows`` float64; NaN and ±inf are missing)."""
        x = np.asarray(values, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != self.features:
            raise ValueError(f"values: shape {x.shape}, expected ({self.features}, rows)")
        ok = np.isfinite(x)
        finite = np.count_nonzero(ok, axis=1).astype(np.int64)
        ordered = np.sort(np.where(ok, x, np.inf), axis=1)  # a row: its finite values sorted, then +inf
        below = np.concatenate([row.searchsorted(q) for row, q in zip(ordered, self.queries, strict=True)]) \
            if self.features else np.empty(0, dtype=np.int64)
        ext = np.empty(self.cells, dtype=np.int64)  # per cell: the values below its upper edge
        ext[self.point_cells] = below[self.grid_queries]
        ext[self.last_cells] = finite
        counts = ext.copy()
        counts[1:] -= ext[:-1]
        counts[self.first_cells] = ext[self.first_cells]
        low_n = np.where(self.gridded, counts[self.first_cells], 0)
        high_n = np.where(self.gridded, counts[self.last_cells], 0)
        low = self._tails(low_n, ordered, x, ok, high=False)
        high = self._tails(high_n, ordered, x, ok, high=True, finite=finite)
        return BatchCells(counts, finite, low, high, below[self.lower_queries], finite - below[self.upper_queries])

    def _tails(self, n: np.ndarray, ordered: np.ndarray, x: np.ndarray, ok: np.ndarray, *, high: bool,
               finite: np.ndarray | None = None) -> np.ndarray:
        """Per feature, the sum of the distances past the grid's end of its ``n`` tail values."""
        out = np.zeros(self.features)
        few = np.flatnonzero((n > 0) & (n <= 2))
        if len(few):
            # The one or two most extreme values of the sorted row: the smallest (low) or the
            # largest finite ones (high); a sum of two does not depend on their order.
            k = n[few]
            if high:
                last = finite[few] - 1
                a, b = ordered[few, last], ordered[few, np.maximum(last - 1, 0)]
                da, db = _distance(a, self.hi[few]), _distance(b, self.hi[few])
            else:
                a, b = ordered[few, 0], ordered[few, np.minimum(1, ordered.shape[1] - 1)]
                da, db = _distance(self.lo[few], a), _distance(self.lo[few], b)
            out[few] = np.where(k == 2, da + db, da)
        for j in np.flatnonzero(n > 2).tolist():  # in the original order, as GridCounts.of sums them
            row = x[j][ok[j]]
            out[j] = _excess(row[row >= self.hi[j]], self.hi[j]) if high else _excess(self.lo[j], row[row < self.lo[j]])
        return out


def _distance(upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Each ``upper - lower`` capped like :func:`~driftline.detectors.grid._excess` caps it."""
    return np.minimum(upper / 2 - lower / 2, MAX_DISTANCE / 2) * 2

"""Window sketches: bounded per-feature summaries of the current window, binned like the reference."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np

from ._columns import batch_length, count_categories, finite_values
from .errors import DetectorStateError
from .grid import GridCounts, coarse_counts
from .grid_batch import GridLayout
from .profile import CategoricalProfile, NumericProfile, ReferenceProfile

__all__ = ["CategoricalWindow", "NumericWindow", "WindowSketch"]

MAX_UNSEEN_EXAMPLES = 20


class NumericWindow:
    """Counts on the reference's fine grid, missing and out-of-range counts of one numeric feature.

    Mergeable: every field is a count or a sum, so two windows' states add up (:meth:`merge`)
    to the state of their union whatever the order of the values.
    """

    __slots__ = ("profile", "grid", "missing", "n", "below", "above")

    def __init__(self, profile: NumericProfile, counts: np.ndarray | None = None) -> None:
        self.profile = profile
        # ``counts``: this feature's cells of its sketch's one array (a view), else its own array.
        self.grid = GridCounts(counts) if counts is not None else GridCounts.empty(profile.grid)
        self.missing = self.n = self.below = self.above = 0

    @property
    def counts(self) -> np.ndarray:
        """Counts over the reference's coarse bins (``profile.edges``)."""
        return coarse_counts(self.grid.counts, self.profile.coarse_starts)

    @property
    def out_of_range(self) -> int:
        """Values below the reference min or above the reference max."""
        return self.below + self.above

    def update(self, column: np.ndarray) -> None:
        """Add one batch of this feature (:meth:`WindowSketch.update` bins every feature at once)."""
        values, missing = finite_values(column)
        self.missing += missing
        if len(values) == 0:
            return
        batch = GridCounts.of(self.profile.grid, values)
        np.add(self.grid.counts, batch.counts, out=self.grid.counts)
        self._add_excess(batch.low_excess, batch.high_excess)
        self.n += len(values)
        if self.profile.min is not None:
            self.below += int(np.count_nonzero(values < self.profile.min))
            self.above += int(np.count_nonzero(values > self.profile.max))

    def _add_excess(self, low: float, high: float) -> None:
        # The counts are added in place (this window owns them); the sums make a new GridCounts.
        if low or high:
            self.grid = GridCounts(self.grid.counts, self.grid.low_excess + low, self.grid.high_excess + high)

    def merge(self, other: NumericWindow) -> None:
        """Add ``other``'s values (a window of the same feature and reference)."""
        np.add(self.grid.counts, other.grid.counts, out=self.grid.counts)
        self._merge_sums(other)

    def _merge_sums(self, other: NumericWindow) -> None:
        """:meth:`merge` but for the grid counts (added by the caller)."""
        self._add_excess(other.grid.low_excess, other.grid.high_excess)
        self.missing += other.missing
        self.n += other.n
        self.below += other.below
        self.above += other.above

    def snapshot(self) -> dict[str, Any]:
        return {"grid": self.grid.snapshot(), "missing": self.missing, "n": self.n, "below": self.below,
                "above": self.above}

    def load(self, s: Mapping[str, Any]) -> None:
        if "grid" not in s:
            # Snapshots of earlier builds hold a reservoir sample and coarse counts, from which
            # the grid counts cannot be recovered: the caller drops the window's drift state.
            raise DetectorStateError("grid: a window snapshot of an earlier build (reservoir sample, no grid counts)")
        restored = GridCounts.restore(s["grid"], len(self.profile.grid) + 1)
        self.grid = GridCounts(self.grid.counts, restored.low_excess, restored.high_excess)
        self.grid.counts[:] = restored.counts
        self.missing, self.n, self.below, self.above = s["missing"], s["n"], s["below"], s["above"]


class CategoricalWindow:
    """Counts per reference category, plus unseen (not among the reference's kept categories) and missing."""

    __slots__ = ("profile", "counts", "missing", "n", "unseen", "unseen_examples")

    def __init__(self, profile: CategoricalProfile) -> None:
        self.profile = profile
        self.counts = np.zeros(len(profile.categories), dtype=np.int64)
        self.missing = self.n = self.unseen = 0
        self.unseen_examples: dict[str, int] = {}

    def update(self, column: np.ndarray) -> None:
        counts, missing = count_categories(column)
        self.missing += missing
        index = self.profile.index
        for cat, k in counts.items():
            i = index.get(cat)
            if i is not None:
                self.counts[i] += k
            else:
                self.unseen += k
                if cat in self.unseen_examples or len(self.unseen_examples) < MAX_UNSEEN_EXAMPLES:
                    self.unseen_examples[cat] = self.unseen_examples.get(cat, 0) + k
            self.n += k

    def merge(self, other: CategoricalWindow) -> None:
        """Add ``other``'s values (a window of the same feature and reference). The unseen
        examples keep the first ``MAX_UNSEEN_EXAMPLES`` names in sorted order, so the merge
        of the same windows gives the same examples in any order."""
        self.counts = self.counts + other.counts
        self.missing += other.missing
        self.n += other.n
        self.unseen += other.unseen
        examples = dict(self.unseen_examples)
        for cat, k in other.unseen_examples.items():
            examples[cat] = examples.get(cat, 0) + k
        self.unseen_examples = {c: examples[c] for c in sorted(examples)[:MAX_UNSEEN_EXAMPLES]}

    def snapshot(self) -> dict[str, Any]:
        return {"counts": self.counts.tolist(), "missing": self.missing, "n": self.n,
                "unseen": self.unseen, "unseen_examples": dict(self.unseen_examples)}

    def load(self, s: Mapping[str, Any]) -> None:
        self.counts = _counts(s["counts"], len(self.counts))
        self.missing, self.n, self.unseen = s["missing"], s["n"], s["unseen"]
        self.unseen_examples = dict(s["unseen_examples"])


FeatureWindow = NumericWindow | CategoricalWindow


def _counts(values: Any, bins: int) -> np.ndarray:
    counts = np.asarray(values, dtype=np.int64)
    if counts.shape != (bins,):
        raise DetectorStateError(f"counts: {len(counts)} bins where the reference has {bins}")
    return counts


_LAYOUTS: WeakKeyDictionary[ReferenceProfile, GridLayout] = WeakKeyDictionary()


def _layout(profile: ReferenceProfile) -> GridLayout:
    """The numeric features' grids end to end, once per profile (every window of a version shares it)."""
    layout = _LAYOUTS.get(profile)
    if layout is None:
        numeric = [p for p in profile.features.values() if isinstance(p, NumericProfile)]
        layout = _LAYOUTS[profile] = GridLayout([p.grid for p in numeric], [(p.min, p.max) for p in numeric])
    return layout


class WindowSketch:
    """Bounded summary of one window, binned against a :class:`ReferenceProfile`.

    Memory is O(grid cells + max_categories) per feature whatever the number of updates.
    Feature columns absent from a batch count as missing. Mergeable: :meth:`merge` adds another
    window's counts and sums, so partial windows (two partitions, two workers) combine exactly.

    >>> import numpy as np
    >>> ref = ReferenceProfile.from_columns({"x": "numeric"}, {"x": np.arange(100.0)}, bins=4)
    >>> w = WindowSketch(ref)
    >>> w.update({"x": np.array([-5.0, 10.0, np.nan, 60.0, 200.0])})
    >>> w.n, w.features["x"].counts.tolist(), w.features["x"].missing, w.features["x"].out_of_range
    (5, [2, 0, 1, 1], 1, 2)
    >>> WindowSketch.restore(ref, w.snapshot()).snapshot() == w.snapshot()
    True
    """

    def __init__(self, profile: ReferenceProfile) -> None:
        self.profile = profile
        self.n = 0
        self.features: dict[str, FeatureWindow] = {}
        self._layout = layout = _layout(profile)
        # Every numeric feature's grid counts are views of this one array, end to end as the
        # layout has them: a batch's counts (and another sketch's, in a merge) add in one step.
        self._counts = np.zeros(layout.cells, dtype=np.int64)
        views = iter(layout.split(self._counts))
        for name, p in profile.features.items():
            if isinstance(p, NumericProfile):
                self.features[name] = NumericWindow(p, next(views))
            else:
                self.features[name] = CategoricalWindow(p)
        self._numeric = [(n, fw) for n, fw in self.features.items() if isinstance(fw, NumericWindow)]
        self._categorical = [(n, fw) for n, fw in self.features.items() if isinstance(fw, CategoricalWindow)]

    def update(self, columns: Mapping[str, np.ndarray]) -> None:
        """Add a batch of rows (``name -> column``; extra columns are ignored)."""
        length = batch_length(self.profile.features, columns)
        if length == 0:
            return
        if self._numeric:
            self._update_numeric(columns, length)
        for name, fw in self._categorical:
            column = columns.get(name)
            if column is None:
                fw.missing += length
            else:
                fw.update(column)
        self.n += length

    def _update_numeric(self, columns: Mapping[str, np.ndarray], length: int) -> None:
        """Every numeric feature of the batch binned at once (:mod:`~driftline.detectors.grid_batch`);
        the same counts and sums as :meth:`NumericWindow.update` one feature at a time."""
        absent = None
        rows = []
        for name, _ in self._numeric:
            column = columns.get(name)
            if column is None:  # missing, like a column of NaN
                column = absent = np.full(length, np.nan) if absent is None else absent
            elif type(column) is not np.ndarray or column.dtype != np.float64:
                column = np.asarray(column, dtype=np.float64)
            rows.append(column)
        batch = self._layout.bin(np.stack(rows))
        self._counts += batch.counts  # every feature's cells at once (views of this array)
        tails = (batch.low_excess != 0) | (batch.high_excess != 0)
        for j, ((_, fw), finite, below, above, tail) in enumerate(zip(
                self._numeric, batch.finite.tolist(), batch.below.tolist(), batch.above.tolist(), tails.tolist(),
                strict=True)):
            fw.missing += length - finite
            if finite:
                fw.n += finite
                fw.below += below
                fw.above += above
                if tail:
                    fw._add_excess(float(batch.low_excess[j]), float(batch.high_excess[j]))

    def merge(self, other: WindowSketch) -> None:
        """Add ``other``'s rows (a sketch against the same reference)."""
        if other._layout is self._layout:  # the numeric counts in one step, then each feature's sums
            self._counts += other._counts
            for name, fw in self._numeric:
                fw._merge_sums(other.features[name])
            for name, fw in self._categorical:
                fw.merge(other.features[name])
        else:
            for name, fw in self.features.items():
                fw.merge(other.features[name])
        self.n += other.n

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state (the profile itself is not included)."""
        return {"n": self.n, "features": {name: fw.snapshot() for name, fw in self.features.items()}}

    @classmethod
    def restore(cls, profile: ReferenceProfile, snapshot: Mapping[str, Any]) -> WindowSketch:
        """Rebuild a sketch from :meth:`snapshot` output and the profile it was built against."""
        w = cls(profile)
        if list(snapshot["features"]) != list(w.features):
            raise DetectorStateError(f"features: {list(snapshot['features'])} differ from the reference's {list(w.features)}")
        w.n = int(snapshot["n"])
        for name, s in snapshot["features"].items():
            w.features[name].load(s)
        return w

"""The drift tests of every feature of a window at once: ``wasserstein``, ``ranks``, ``moments``, ``ks``, ``chi2``.

A window's close runs each test on each numeric feature. One feature at a time
(:meth:`DriftTest.compare`, then :meth:`Calibration.p_value`), that is a few dozen numpy and
Python calls per feature and test, twice with accumulated windows: at hundreds of features, more
CPU than the window's events took to decode. Here the features are stacked instead:

* features whose fine grids have the same length are the rows of one matrix (a grid holds the
  reference's ``GRID_LEVELS + 1`` quantiles and its coarse edges, so a model's continuous
  features fall into a handful of lengths); the reference's rows, the grids' cell widths and the
  window's rows are stacked at each close (about 1 ms at 500 features; kept, they would add a
  third to a profile's memory, per stream);
* each statistic is computed for all the rows of a matrix in one call, with the one-feature
  path's numpy steps: cumulative sums along a row, ``matmul`` and ``einsum`` of a row with a row
  (:func:`~driftline.detectors.ranks.rank_z` itself), elementwise arithmetic. numpy computes these
  row by row in the same order whatever the number of rows, so every statistic equals
  ``compare``'s to the last bit;
* the calibrated p-values of all the features come from their fits stacked per ladder size
  (:class:`~driftline.detectors.batch_calibration.FitStack`), equal to ``Calibration.p_value``'s.

Covered: ``wasserstein`` (any ``normalise``), ``ranks`` (any ``scores``), ``moments``, ``ks`` with the ``fast``
p-value, and ``chi2`` on the categorical features (:mod:`~driftline.detectors.batch_chi2`); other
tests, and features without a reference value, stay one at a time.
tests/detectors/test_batch_tests.py compares both paths on random references and windows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from weakref import WeakKeyDictionary

import numpy as np
from scipy import special

from .batch_calibration import FitStack
from .batch_chi2 import chi2_rows
from .calibration import test_key
from .drift_base import DriftTest, binned
from .grid import MAX_DISTANCE
from .moments import moments_z
from .profile import CategoricalProfile, NumericProfile, ReferenceProfile
from .ranks import rank_z
from .window import CategoricalWindow, NumericWindow

__all__ = ["ProfileStacks", "batched", "compare_all", "stacks"]


def batched(test: DriftTest) -> bool:
    """Whether :func:`compare_all` computes ``test`` (else it runs one feature at a time)."""
    return test.name in ("wasserstein", "ranks", "moments", "chi2") or (test.name == "ks" and test.method == "fast")


class ProfileStacks:
    """A profile's numeric features (those with a reference value) grouped by grid length, its
    categorical features; the fit stacks per test."""

    def __init__(self, profile: ReferenceProfile) -> None:
        self.profile = profile
        self.names = [n for n, p in profile.features.items()
                      if isinstance(p, NumericProfile) and p.n > 0 and len(p.grid) > 0]
        self.profiles = [profile.features[n] for n in self.names]
        self.ref_n = np.array([p.n for p in self.profiles], dtype=np.int64)
        lengths = np.array([len(p.grid) for p in self.profiles], dtype=np.int64)
        self.groups = [np.flatnonzero(lengths == length) for length in np.unique(lengths).tolist()]
        # Each feature's group and row in it.
        self.group_of = np.empty(len(self.names), dtype=np.int64)
        self.row_of = np.empty(len(self.names), dtype=np.int64)
        for k, g in enumerate(self.groups):
            self.group_of[g], self.row_of[g] = k, np.arange(len(g))
        # The categorical features with a reference value, and their reference counts (+ other).
        self.categorical = [n for n, p in profile.features.items() if isinstance(p, CategoricalProfile) and p.n > 0]
        self._fits: dict[str, FitStack] = {}

    def reference_rows(self, group: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A group's reference counts, cell widths (``cell_widths`` of each) and cell values
        (``cell_values`` of each), a row per feature."""
        members = self.groups[group].tolist()
        grids = np.stack([self.profiles[j].grid for j in members])
        widths = np.minimum(np.diff(grids / 2, axis=1), MAX_DISTANCE / 2) * 2
        values = np.concatenate([grids[:, :1], grids], axis=1)
        return np.stack([self.profiles[j].grid_counts.counts for j in members]), widths, values

    def fit_stack(self, test: DriftTest) -> FitStack:
        """The calibration's fits of ``test`` for its kind's features (shared by the profile's suites)."""
        key = test_key(test)
        stack = self._fits.get(key)
        if stack is None:
            names = self.names if "numeric" in test.kinds else self.categorical
            stack = self._fits[key] = FitStack(self.profile.calibration, names,
                                               [self.profile.features[n] for n in names], test)
        return stack


_STACKS: WeakKeyDictionary[ReferenceProfile, ProfileStacks] = WeakKeyDictionary()


def stacks(profile: ReferenceProfile) -> ProfileStacks:
    """The profile's :class:`ProfileStacks`, built once (every window and suite of a version shares them)."""
    s = _STACKS.get(profile)
    if s is None:
        s = _STACKS[profile] = ProfileStacks(profile)
    return s


class _Sides:
    """The two sides of the comparison of features ``rows``: the window's (and baseline's) sizes
    as the suite reads them, and per group the stacked counts, their totals and the tail sums."""

    def __init__(self, s: ProfileStacks, rows: np.ndarray, cur: Sequence[NumericWindow],
                 base: Sequence[NumericWindow] | None, reference: dict[int, tuple[np.ndarray, ...]]) -> None:
        members = rows.tolist()
        self.rows = rows
        self.win_n = np.array([cur[j].n for j in members], dtype=np.int64)
        self.base_n = None if base is None else np.array([base[j].n for j in members], dtype=np.int64)
        ref_grid = [s.profiles[j].grid_counts if base is None else base[j].grid for j in members]
        self.tails = np.array([(r.low_excess, r.high_excess, cur[j].grid.low_excess, cur[j].grid.high_excess)
                               for r, j in zip(ref_grid, members, strict=True)]).reshape(-1, 4)
        # Each side's total as its GridCounts.n counts it (what compare divides by).
        self.n = np.empty(len(rows), dtype=np.int64)
        self.m = np.empty(len(rows), dtype=np.int64)
        self.parts = []  # per group present: (positions among rows, ref counts, cur counts, widths, cell values)
        group = s.group_of[rows]
        for k in np.unique(group).tolist():
            at = np.flatnonzero(group == k)
            local = s.row_of[rows[at]]
            if k not in reference:  # once per close: the window's and the merge's sides share them
                reference[k] = s.reference_rows(k)
            ref_counts, widths, values = reference[k]
            ref = ref_counts[local] if base is None else np.stack([ref_grid[a].counts for a in at.tolist()])
            win = np.stack([cur[members[a]].grid.counts for a in at.tolist()])
            self.n[at], self.m[at] = ref.sum(axis=1), win.sum(axis=1)
            self.parts.append((at, ref, win, widths[local], values[local]))


class _Binned:
    """The two sides of the comparison of categorical features ``rows``: counts per kept category
    and other (unseen), as :func:`~driftline.detectors.drift_base.binned` gives them."""

    def __init__(self, s: ProfileStacks, rows: np.ndarray, cur: Sequence[CategoricalWindow],
                 base: Sequence[CategoricalWindow] | None) -> None:
        members = rows.tolist()
        self.rows = rows
        self.win_n = np.array([cur[j].n for j in members], dtype=np.int64)
        self.base_n = None if base is None else np.array([base[j].n for j in members], dtype=np.int64)
        pairs = [binned(s.profile.features[s.categorical[j]], cur[j], None if base is None else base[j]) for j in members]
        self.ref, self.cur = [r for r, _ in pairs], [c for _, c in pairs]


def _statistics(test: DriftTest, scale: np.ndarray | None, sides) -> tuple[np.ndarray, np.ndarray | None]:
    """``test.compare``'s ``(statistic, p_value)`` of every row of ``sides``."""
    if test.name == "chi2":
        return chi2_rows(sides.ref, sides.cur)
    stat = np.empty(len(sides.rows))
    p = np.empty(len(sides.rows)) if test.name == "ks" else None
    with np.errstate(all="ignore"):
        for at, ref, cur, widths, values in sides.parts:
            n, m = sides.n[at], sides.m[at]
            if test.name == "ranks":
                stat[at] = np.abs(rank_z(ref, cur, test.scores)).max(axis=1)
                continue
            if test.name == "moments":
                t = sides.tails[at]
                stat[at] = moments_z(values, ref, cur, (t[:, 0], t[:, 1]), (t[:, 2], t[:, 3]))
                continue
            cf = np.cumsum(ref, axis=1) / n[:, None]
            cg = np.cumsum(cur, axis=1) / m[:, None]
            if test.name == "ks":
                stat[at] = np.max(np.abs(cf - cg), axis=1)
                continue
            inner = np.matmul(np.abs(cf[:, 1:-1] - cg[:, 1:-1])[:, None, :], widths[:, :, None])[:, 0, 0]
            t = sides.tails[at]
            stat[at] = inner + (np.abs(t[:, 0] / n - t[:, 2] / m) + np.abs(t[:, 1] / n - t[:, 3] / m))
        empty = (sides.n == 0) | (sides.m == 0)
        if test.name == "wasserstein":
            w = np.where(empty, 0.0, stat)
            stat = np.where(scale > 0, w / scale, np.where(w == 0, 0.0, np.inf))
        elif test.name == "ks":
            stat = np.where(empty, 0.0, stat)
            en = np.array([a * b / (a + b) if a and b else 1.0 for a, b in zip(sides.n.tolist(), sides.m.tolist(), strict=True)])
            root = np.sqrt(en)
            p = np.where(empty, 1.0, np.clip(special.kolmogorov((root + 0.12 + 0.11 / root) * stat), 0.0, 1.0))
    return stat, p


def compare_all(s: ProfileStacks, tests: Sequence[tuple[int, DriftTest, bool]], scales: Mapping[int, np.ndarray],
                window, baseline=None, recent=None) -> dict[tuple[str, int], tuple[float, float | None, float | None]]:
    """Per (feature, test index) of ``tests`` (``(index, test, auto)``, one kind's), what the suite's
    loop makes of it one at a time: ``(statistic, p_value, p_merged)``; the p-value calibrated for
    an ``auto`` test, ``p_merged`` that of the merge ``recent`` (the last windows) where the suite
    asks for it (``None`` elsewhere). Features without a window value (or baseline value) are left out."""
    out: dict[tuple[str, int], tuple[float, float | None, float | None]] = {}
    if not tests:
        return out
    numeric = "numeric" in tests[0][1].kinds
    names = s.names if numeric else s.categorical
    cur = [window.features[n] for n in names]
    base = None if baseline is None else [baseline.features.get(n) for n in names]
    n = np.array([w.n for w in cur], dtype=np.int64)
    ok = n > 0
    if base is not None:
        ok &= np.array([b is not None and b.n > 0 for b in base], dtype=bool)
    rows = np.flatnonzero(ok)
    if not len(rows):
        return out
    reference: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    sides = _Sides(s, rows, cur, base, reference) if numeric else _Binned(s, rows, cur, base)
    merged_sides = None
    if recent is not None:
        merged = [recent.features[n] for n in names]
        mn = np.array([w.n for w in merged], dtype=np.int64)
        ref_n = s.ref_n[rows] if numeric else np.array([s.profile.features[names[j]].n for j in rows.tolist()])
        # The suite's rule: merging pays while the merge holds at most half the reference.
        mrows = rows[(mn[rows] > 0) & (2 * mn[rows] <= ref_n)]
        if len(mrows):
            merged_sides = _Sides(s, mrows, merged, None, reference) if numeric else _Binned(s, mrows, merged, None)
    for i, test, auto in tests:
        scale = scales.get(i)
        stat, p = _statistics(test, None if scale is None else scale[rows], sides)
        if auto:
            p = s.fit_stack(test).p_values(rows, stat, sides.win_n, sides.base_n)
        p_merged: dict[int, float] = {}
        if p is not None and merged_sides is not None:
            mstat, mp = _statistics(test, None if scale is None else scale[merged_sides.rows], merged_sides)
            if auto:
                mp = s.fit_stack(test).p_values(merged_sides.rows, mstat, merged_sides.win_n)
            p_merged = dict(zip(merged_sides.rows.tolist(), mp.tolist(), strict=True))
        plist = [None] * len(rows) if p is None else p.tolist()
        for j, st, pv in zip(rows.tolist(), stat.tolist(), plist, strict=True):
            out[(names[j], i)] = (st, pv, p_merged.get(j))
    return out

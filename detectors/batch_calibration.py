"""Calibrated p-values of one test for many features at once: the fits stacked per ladder size.

:meth:`Calibration.p_value <driftline.detectors.calibration.Calibration.p_value>` looks up a
(feature, test, size)'s fit and reads one statistic's p-value off it: a dozen Python steps, twice
per window and test with accumulated windows, which at hundreds of features is much of a window's
close. :class:`FitStack` keeps, per (test, ladder size), the fits of every feature as the rows of
one array (filled from the calibration as features need them; a missing fit is made as
``p_value`` makes it), and computes the p-values of many features in a few vectorised steps:

* the ladder sizes around each window's size, and the weight between them;
* per ladder size, the gamma's survival function, or the bulk's interpolation (``np.interp``'s
  formula, row by row with each row's own deciles) and the exponential tail;
* ``log p`` interpolated between the two sizes.

Every step is the scalar path's IEEE arithmetic in the same order; ``exp`` and ``log`` are
``math``'s (numpy's own differ in the last bit on some CPUs), so each p-value equals
``Calibration.p_value``'s to the last bit (tests/detectors/test_batch_tests.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import special

from .calibration import (
    _BULK_LEVELS,
    FITS,
    LADDER,
    TAIL_LEVEL,
    Calibration,
    _reference_size,
    test_key,
)

__all__ = ["FitStack", "interp_rows"]

_LADDER = np.array(LADDER, dtype=np.float64)
_BULK_P = 1.0 - _BULK_LEVELS
_TAIL_P = 1.0 - TAIL_LEVEL


def interp_rows(x: np.ndarray, xp: np.ndarray, fp: np.ndarray, left: float) -> np.ndarray:
    """``np.interp(x[i], xp[i], fp, left=left)`` for each row ``i`` of ``xp`` (increasing rows of
    more than 4 points; a row that is not increasing is handed to ``np.interp`` itself).

    >>> xp = np.array([[0.0, 1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 2.0, 4.0, 8.0]])
    >>> interp_rows(np.array([1.5, 2.0]), xp, np.arange(5.0), left=-1.0).tolist()
    [1.5, 2.0]
    """
    rows = np.arange(len(x))
    last = xp.shape[1] - 1
    # np.interp's binary search: the last point at or below x (-1 below the first).
    j = np.count_nonzero(xp <= x[:, None], axis=1) - 1
    jj = np.clip(j, 0, last - 1)
    x0, x1, f0, f1 = xp[rows, jj], xp[rows, jj + 1], fp[jj], fp[jj + 1]
    with np.errstate(all="ignore"):
        slope = (f1 - f0) / (x1 - x0)
        out = slope * (x - x0) + f0
        # np.interp's fallback when that is NaN (an infinite slope or distance): from the right end.
        again = np.isnan(out)
        out[again] = (slope * (x - x1) + f1)[again]
        flat = again & np.isnan(out) & (f0 == f1)
        out[flat] = f0[flat]
        falling = np.any(np.diff(xp, axis=1) < 0, axis=1)
    out = np.where(x0 == x, f0, out)
    out = np.where(j >= last, fp[last], out)
    out = np.where(j < 0, left, out)
    out = np.where(np.isnan(x), x, out)
    for i in np.flatnonzero(falling).tolist():
        out[i] = np.interp(x[i], xp[i], fp, left=left)
    return out


class FitStack:
    """One test's null fits for the features ``profiles`` (named ``names``), a row per feature and
    an array per ladder size: ``Calibration.p_value`` for many features at once."""

    def __init__(self, calibration: Calibration, names: Sequence[str], profiles: Sequence[Any], test: Any) -> None:
        self.calibration = calibration
        self.names = list(names)
        self.profiles = list(profiles)
        self.test = test
        self.method, self.power = FITS[test.name]
        self._key = test_key(test)
        self._width = 3 if self.method == "gamma" else len(_BULK_LEVELS) + 2
        # Reference sizes as Calibration.p_value reads them.
        self.big = np.array([_reference_size(p) for p in self.profiles], dtype=np.int64)
        self._stacks: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def p_values(self, rows: np.ndarray, statistics: np.ndarray, n: np.ndarray,
                 n_baseline: np.ndarray | None = None) -> np.ndarray:
        """``Calibration.p_value`` of feature ``rows[i]``'s ``statistics[i]`` for a window of ``n[i]``
        values (against a baseline of ``n_baseline[i]`` values)."""
        out = np.ones(len(rows))
        n = np.asarray(n, dtype=np.int64)
        # No window, or no reference: 1.0, and no fit looked up (as p_value).
        some = np.flatnonzero((n > 0) & (self.big[rows] > 0))
        if len(some) < len(rows):
            if len(some):
                out[some] = self.p_values(np.asarray(rows)[some], np.asarray(statistics)[some], n[some],
                                          None if n_baseline is None else np.asarray(n_baseline)[some])
            return out
        rows = np.asarray(rows, dtype=np.int64)
        stat = np.asarray(statistics, dtype=np.float64)
        if n_baseline is None:
            size = n.astype(np.float64)
        else:  # the effective size, in Python's exact integer arithmetic as p_value computes it
            size = np.array([_baseline_size(a, b, c) for a, b, c in zip(
                n.tolist(), np.asarray(n_baseline).tolist(), self.big[rows].tolist(), strict=True)])
        size = np.minimum(np.maximum(size, _LADDER[0]), _LADDER[-1])
        hi = np.searchsorted(_LADDER, size, side="left")
        lo = np.where(_LADDER[hi] > size, np.maximum(hi - 1, 0), hi)
        y = _powers(stat, self.power)
        p_lo = self._p_at(rows, stat, y, lo)
        out[:] = p_lo
        two = np.flatnonzero(lo != hi)
        if len(two):
            p_hi = self._p_at(rows[two], stat[two], y[two], hi[two])
            t = (size[two] - _LADDER[lo[two]]) / (_LADDER[hi[two]] - _LADDER[lo[two]])
            log_lo = np.array(list(map(math.log, np.maximum(p_lo[two], 1e-300).tolist())))
            log_hi = np.array(list(map(math.log, np.maximum(p_hi, 1e-300).tolist())))
            out[two] = list(map(math.exp, ((1 - t) * log_lo + t * log_hi).tolist()))
        return out

    def _p_at(self, rows: np.ndarray, stat: np.ndarray, y: np.ndarray, ladder: np.ndarray) -> np.ndarray:
        """The p-values of ``stat`` (``y``: its power) on the fits at ladder indices ``ladder``."""
        out = np.empty(len(rows))
        for index in np.unique(ladder).tolist():
            at = np.flatnonzero(ladder == index)
            out[at] = self._p(self._fits(rows[at], LADDER[index]), stat[at], y[at])
        return out

    def _fits(self, rows: np.ndarray, size: int) -> np.ndarray:
        """The fits of ``rows`` at ``size``; those not stacked yet are read (or made) first."""
        stack = self._stacks.get(size)
        if stack is None:
            stack = self._stacks[size] = (np.full((len(self.names), self._width), np.nan),
                                          np.zeros(len(self.names), dtype=bool))
        values, have = stack
        for row in rows[~have[rows]].tolist():
            fit = self.calibration._fit(self.profiles[row], self.names[row], self.test, size)
            values[row] = fit
            have[row] = True
        return values[rows]

    def _p(self, fits: np.ndarray, stat: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``Calibration._p`` for each (fit, statistic) row."""
        floor = 1.0 / (self.calibration.draws + 1)
        with np.errstate(all="ignore"):
            finite = np.isfinite(stat) & np.isfinite(y)
            if self.method == "gamma":
                shape, scale, top = fits[:, 0], fits[:, 1], fits[:, 2]
                constant = scale <= 0  # a constant null
                p = np.where(constant, np.where(y <= top, 1.0, floor),
                             special.gammaincc(shape, y / np.where(constant, 1.0, scale)))
            else:
                bulk, u, beta = fits[:, :-2], fits[:, -2], fits[:, -1]
                inside = y <= u
                p = np.full(len(stat), floor)
                if inside.any():
                    p[inside] = interp_rows(y[inside], bulk[inside], _BULK_P, left=1.0)
                tail = np.flatnonzero(~inside & (beta > 0) & finite)
                if len(tail):
                    decay = (-(y[tail] - u[tail]) / beta[tail]).tolist()
                    p[tail] = [_TAIL_P * math.exp(v) for v in decay]
        return np.where(finite, p, 0.0)


def _powers(stat: np.ndarray, power: int) -> np.ndarray:
    """``statistic ** power`` as Python computes it (libm's ``pow``, which is not always the
    correctly rounded ``x * x`` numpy gives); inf where it overflows."""
    if power == 1:
        return stat
    values = stat.tolist()
    try:
        return np.array([v**power for v in values])
    except OverflowError:  # a statistic beyond 1e154 (a 1e308 value in a window)
        return np.array([_power(v, power) for v in values])


def _power(v: float, power: int) -> float:
    try:
        return v**power
    except OverflowError:
        return math.inf


def _baseline_size(n: int, n_baseline: int, big: int) -> float:
    n_eff = n * n_baseline / (n + n_baseline)
    return n_eff * big / (big - n_eff) if n_eff < 0.999 * big else float(LADDER[-1])

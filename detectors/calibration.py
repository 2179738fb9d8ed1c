"""Thresholds calibrated for a target false-alarm rate: ``threshold: auto``.

A statistic's distribution when nothing changed (its *null*) depends on the feature, the test
and the window's size. It is estimated by resampling the reference, in the spirit of
alibi-detect's calibration by simulation: ``draws`` pseudo-windows are drawn from the
reference's own distribution (multinomial on the fine grid or the categories: exactly how a
window is represented), each of the size ``m = n N / (n + N)`` whose sampling noise is that of
both a window of ``n`` and the reference of ``N`` values, and the test's statistic of each
against the reference computed (:mod:`~driftline.detectors.null_statistics`). On a numeric grid
the draws also fall below the reference's minimum and above its maximum, each with probability
``1 / (N + 1)``: a new value does, whatever the distribution, and a window's values beyond the
reference's range are what decides statistics that weigh the extremes.
The null is then summarised by a fit, which gives a p-value for any live statistic:

* ``gamma`` for divergences (PSI, chi-square, the squares of Jensen-Shannon and Hellinger,
  the unseen share): a moment-matched gamma, their asymptotic scaled chi-square;
* ``tail`` for sup/L1 distances (KS, Wasserstein, L-infinity) and the z's of ``moments`` and
  ``ranks``, on the statistic squared: the bulk's deciles, and beyond the 98th percentile an
  exponential tail with the mean excess (peaks over threshold; KS's limit law has exactly such a
  tail in ``D^2``, a normal z's square about one).

Fits are made for a ladder of window sizes (50, 71, 100, 141, ... 1,638,400: steps of sqrt 2),
on demand, and a live window interpolates ``log p`` between the two sizes around it (linearly
in ``n``). A window
compared with another baseline than the reference (``n_b`` values) is looked up at the size
whose effective size ``n N / (n + N)`` against the reference equals its own ``n n_b / (n + n_b)``.

The fits are state of the reference: stored with the profile (format 2), computed once.
They do not depend on the target: the target only sets the alpha the p-values are held to
(:func:`alpha_for`), together with the multiple-testing correction and the persistence.

>>> import numpy as np
>>> from driftline.detectors import ReferenceProfile, WindowSketch, make_detector
>>> rng = np.random.default_rng(0)
>>> ref = ReferenceProfile.from_columns({"x": "numeric"}, {"x": rng.normal(0, 1, 20_000)})
>>> w = WindowSketch(ref); w.update({"x": rng.normal(0, 1, 500)})
>>> psi = make_detector("psi")
>>> stat, _ = psi.compare(ref.features["x"], w.features["x"])
>>> p = ref.calibration.p_value(ref.features["x"], "x", psi, stat, 500)
>>> 0.05 < p <= 1.0, sorted(size for _, _, size in ref.calibration.fits)
(True, [400, 566])
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import special

from ._checks import check_int
from .errors import DetectorStateError
from .null_statistics import NULL_STATISTICS

__all__ = ["LADDER", "Calibration", "alpha_for", "ladder_around", "test_key"]

LADDER = tuple(round(50 * 2 ** (i / 2)) for i in range(31))
TAIL_LEVEL = 0.98
_BULK_LEVELS = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, TAIL_LEVEL])
# How each test's null is fitted, and the power of the statistic the fit is made on.
FITS = {"psi": ("tail", 1), "chi2": ("gamma", 1), "unseen_share": ("gamma", 1), "jensen_shannon": ("gamma", 2),
        "hellinger": ("gamma", 2), "ks": ("tail", 2), "wasserstein": ("tail", 2), "l_infinity": ("tail", 2), "moments": ("tail", 2),
        "ranks": ("tail", 2)}
_BIG = float(np.finfo(np.float64).max)
# Statistics normalised by their sampling error, and the power of (1 + m/N) that undoes it.
SCALED = {"chi2": 1.0, "moments": 0.5, "ranks": 0.5}


def ladder_around(n: int) -> tuple[int, ...]:
    """The ladder sizes a window of ``n`` values interpolates between.

    >>> ladder_around(500), ladder_around(50), ladder_around(10**9)
    ((400, 566), (50,), (1638400,))
    """
    size = min(max(n, LADDER[0]), LADDER[-1])
    hi = next(i for i, s in enumerate(LADDER) if s >= size)
    return (LADDER[hi],) if LADDER[hi] == size else (LADDER[hi - 1], LADDER[hi])


def test_key(test: Any) -> str:
    """The test and every parameter that changes its statistic (not its threshold); kept on the
    test (its parameters are set once, and this is asked twice per p-value)."""
    key = test.__dict__.get("_calibration_key")
    if key is None:
        params = {k: v for k, v in test.snapshot().items() if k != "threshold"}
        key = test.__dict__["_calibration_key"] = test.name + "".join(f";{k}={params[k]}" for k in sorted(params))
    return key


def alpha_for(rate: float, tests: int, persistence: tuple[int, int]) -> float:
    """The per-window alpha giving a model ``rate`` false alarms per window after persistence.

    A false alarm is an *onset*: a no-change window where the model's drift state turns on
    (consecutive drifted windows are one alarm, as one alert is; alibi-detect's expected run
    time counts the same). Corrected together (Holm, Benjamini-Hochberg or Bonferroni at
    ``alpha`` over ``tests`` p-values), a model's window is positive with probability about
    ``alpha`` (independent tests; fewer when tests of one feature agree, and with accumulated
    windows, whose p-values overlap: both matter less the smaller ``alpha``), each test
    ``alpha / tests``.
    k-of-n persistence then raises an alarm when ``k`` of a test's last ``n`` windows were
    positive: about ``tests * C(n, k) * (alpha / tests)^k`` per window. Solved for ``alpha``.
    That count takes windows as independent; accumulated windows are not (one odd window is in
    ``accumulate`` merges), which is why ``accumulate`` defaults to 1 with a persistence of
    ``k > 1`` (measured on the bench's stable streams: 2-of-3 with two windows accumulated 2.6x
    the target, without 0.7x).
    Measured (``tests/detectors/test_calibration.py``, ``bench quality``): within 1.5x of
    the target for (1, 1) and (2, 3).

    >>> alpha_for(0.001, 13, (1, 1)), round(alpha_for(0.001, 13, (2, 3)), 4)
    (0.001, 0.0658)
    """
    k, n = persistence
    if k == 1 and n == 1:
        return rate
    m = max(tests, 1)
    return min(m * (rate / (m * math.comb(n, k))) ** (1.0 / k), 0.5)


class Calibration:
    """Null fits per (feature, test, ladder size), made on demand from the reference.

    Mergeable is not a question here: this is state of the reference, not of a window.
    Deterministic: the resampling of a (feature, test, size) is seeded from its names.
    """

    def __init__(self, draws: int = 4000, seed: int = 0) -> None:
        self.draws = check_int("draws", draws, low=200, high=1_000_000)
        self.seed = check_int("seed", seed, low=0)
        self.fits: dict[tuple[str, str, int], tuple] = {}

    def __len__(self) -> int:
        return len(self.fits)

    def p_value(self, profile: Any, feature: str, test: Any, statistic: float, n: int,
                n_baseline: int | None = None) -> float:
        """The calibrated p-value of ``statistic`` for a window of ``n`` values, compared with the
        reference (or with a baseline of ``n_baseline`` values)."""
        big = _reference_size(profile)
        if n <= 0 or big <= 0:
            return 1.0
        size = float(n)
        if n_baseline is not None:
            n_eff = n * n_baseline / (n + n_baseline)
            size = n_eff * big / (big - n_eff) if n_eff < 0.999 * big else float(LADDER[-1])
        size = min(max(size, LADDER[0]), LADDER[-1])
        hi = next(i for i, s in enumerate(LADDER) if s >= size)
        lo = max(hi - 1, 0) if LADDER[hi] > size else hi
        p_lo = self._p(profile, feature, test, statistic, LADDER[lo])
        if lo == hi:
            return p_lo
        p_hi = self._p(profile, feature, test, statistic, LADDER[hi])
        # A statistic's null shrinks about as 1 / n: log p is closer to linear in n than in log n
        # (interpolating in log n leans towards the larger size, and so to smaller p-values).
        t = (size - LADDER[lo]) / (LADDER[hi] - LADDER[lo])
        return float(math.exp((1 - t) * math.log(max(p_lo, 1e-300)) + t * math.log(max(p_hi, 1e-300))))

    def ensure(self, profile: Any, feature: str, test: Any, sizes: tuple[int, ...] = LADDER) -> None:
        """Fit the null at ``sizes`` now (e.g. before saving the profile) rather than on demand."""
        for size in sizes:
            self._fit(profile, feature, test, size)

    def _p(self, profile: Any, feature: str, test: Any, statistic: float, size: int) -> float:
        fit = self._fit(profile, feature, test, size)
        method, power = FITS[test.name]
        if not math.isfinite(statistic):
            return 0.0
        try:
            y = float(statistic) ** power
        except OverflowError:  # a statistic beyond 1e154 (a 1e308 value in a window): as far as it gets
            return 0.0
        if not math.isfinite(y):
            return 0.0
        floor = 1.0 / (self.draws + 1)  # what the resampling can tell apart from "never"
        if method == "gamma":
            shape, scale, top = fit
            if scale <= 0:  # a constant null (e.g. no unseen category in the reference)
                return 1.0 if y <= top else floor
            return float(special.gammaincc(shape, y / scale))
        bulk, u, beta = fit[:-2], fit[-2], fit[-1]
        if y <= u:
            # Between the deciles the p-value is interpolated; below the first it is at least 0.9.
            return float(np.interp(y, bulk, 1.0 - _BULK_LEVELS, left=1.0))
        return float((1.0 - TAIL_LEVEL) * math.exp(-(y - u) / beta)) if beta > 0 else floor

    def _fit(self, profile: Any, feature: str, test: Any, size: int) -> tuple:
        key = (feature, test_key(test), size)
        fit = self.fits.get(key)
        if fit is None:
            fit = self.fits[key] = self._resample(profile, test, size, key)
        return fit

    def _resample(self, profile: Any, test: Any, size: int, key: tuple[str, str, int]) -> tuple:
        counts = _reference_counts(profile)
        share = counts / counts.sum()
        if profile.kind == "numeric" and len(counts) > 2:
            # A new value falls beyond the largest (smallest) of the reference's N with probability
            # 1 / (N + 1) whatever the distribution; resampling the reference alone never does, and
            # statistics that weigh the extremes (rank scores, the variance) came out too light-tailed.
            share = counts.astype(np.float64)
            share[[0, -1]] += 1.0
            share /= share.sum()
        rng = np.random.default_rng([self.seed, zlib.crc32(repr(key).encode())])
        # One draw per pair, not two: the window's shares against the reference's own, at the size
        # whose sampling variance is both sides' (1/m = 1/n + 1/N). Half the time, the same null
        # to first order (checked by the achieved rates in tests/detectors/test_calibration.py).
        big = int(counts.sum())
        m = max(int(round(size * big / (size + big))), 1)
        ref = counts[None, :]
        cur = rng.multinomial(m, share, size=self.draws)
        method, power = FITS[test.name]
        stat = NULL_STATISTICS[test.name](test, profile, ref, cur)
        # A statistic scaled by its sampling error (chi-square, the moments' z) divides by
        # 1/m + 1/N here but by 1/n + 1/N = 1/m live: put the live scale back, or the null
        # comes out narrower than the live statistic's (by 1 + m/N: 1.1 at n = N/10).
        stat = stat * (1.0 + m / big) ** SCALED.get(test.name, 0.0)
        with np.errstate(over="ignore", invalid="ignore"):
            y = stat**power
        y = y[np.isfinite(y)]
        if not len(y):
            # Every draw's statistic overflowed (a reference holding values near 1e308): the
            # resampling tells nothing apart, so a finite live statistic gets p = 1 (a non-finite
            # one still gets 0). Finite sentinels: the fit goes into JSON.
            return (0.0, 0.0, _BIG) if method == "gamma" else (*([_BIG] * len(_BULK_LEVELS)), _BIG, 0.0)
        if method == "gamma":
            mean, var = float(y.mean()), float(y.var())
            if var <= 0 or mean <= 0:
                return (0.0, 0.0, float(y.max(initial=0.0)))
            return (mean * mean / var, var / mean, float(y.max()))
        bulk = np.quantile(y, _BULK_LEVELS)
        u = float(bulk[-1])
        excess = y[y > u] - u
        return (*map(float, bulk), u, float(excess.mean()) if len(excess) else 0.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: ``[[feature, test, size, [fit...]], ...]``."""
        return {"draws": self.draws, "seed": self.seed,
                "fits": [[f, t, s, list(fit)] for (f, t, s), fit in sorted(self.fits.items())]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Calibration:
        c = cls(int(d["draws"]), int(d["seed"]))
        try:
            c.fits = {(str(f), str(t), int(s)): tuple(float(x) for x in fit) for f, t, s, fit in d["fits"]}
        except (TypeError, ValueError) as exc:
            raise DetectorStateError(f"calibration.fits: not a list of [feature, test, size, fit] ({exc})") from exc
        return c


def _reference_counts(profile: Any) -> np.ndarray:
    if profile.kind == "numeric":
        return profile.grid_counts.counts
    return np.append(profile.counts, profile.other)


def _reference_size(profile: Any) -> int:
    return int(_reference_counts(profile).sum())

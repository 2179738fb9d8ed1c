"""Pure, vectorised two-distribution statistics used by the drift tests.

Binned statistics take two count vectors over the same bins (reference first).
Sample statistics take the reference sample *sorted* and the current sample.
Grid statistics take two :class:`~driftline.detectors.grid.GridCounts` on one fine grid
(see :mod:`~driftline.detectors.grid`): what the drift tests use.
Natural logarithms throughout (as Evidently and ``scipy.spatial.distance.jensenshannon``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from .grid import GridCounts, cell_widths

__all__ = [
    "chi2_homogeneity",
    "hellinger",
    "jensen_shannon",
    "ks_grid",
    "ks_p_value",
    "ks_two_sample",
    "l_infinity",
    "psi",
    "wasserstein",
    "wasserstein_grid",
]


def _shares(counts: np.ndarray) -> np.ndarray:
    c = np.asarray(counts, dtype=np.float64)
    total = c.sum()
    return c / total if total > 0 else c


def psi(reference: np.ndarray, current: np.ndarray, eps: float = 1e-4, pseudo_count: float = 0.0) -> float:
    """Population stability index ``sum((cur - ref) * ln(cur / ref))`` over bin shares.

    With ``pseudo_count = 0`` empty bins get share ``eps`` (Evidently's 0.0001) so the log stays
    finite. A ``pseudo_count`` ``a > 0`` instead adds ``a`` to every bin of both sides before the
    shares are taken (``(count + a) / (n + a * bins)``, Jeffreys' prior for ``a = 0.5``): an empty
    bin of a small window then weighs what its sampling noise allows, where ``eps`` makes one
    empty bin of share 1/17 worth 0.37 on its own.

    >>> round(psi(np.array([50, 50]), np.array([30, 70])), 4)
    0.1695
    >>> round(psi(np.array([50, 50]), np.array([0, 10])), 2), round(psi(np.array([50, 50]), np.array([0, 10]), pseudo_count=0.5), 2)
    (4.6, 1.38)
    """
    if pseudo_count > 0:
        p = _shares(np.asarray(reference, dtype=np.float64) + pseudo_count)
        q = _shares(np.asarray(current, dtype=np.float64) + pseudo_count)
    else:
        p = _shares(reference)
        q = _shares(current)
        p = np.where(p == 0, eps, p)
        q = np.where(q == 0, eps, q)
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon *distance* (square root of the divergence), natural log, in ``[0, sqrt(ln 2)]``."""
    p = _shares(reference)
    q = _shares(current)
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return float(math.sqrt(max((kl_p + kl_q) / 2.0, 0.0)))


def hellinger(reference: np.ndarray, current: np.ndarray) -> float:
    """Hellinger distance ``sqrt(sum((sqrt p - sqrt q)^2) / 2)``, in ``[0, 1]``."""
    d = np.sqrt(_shares(reference)) - np.sqrt(_shares(current))
    return float(math.sqrt(float(d @ d) / 2.0))


def l_infinity(reference: np.ndarray, current: np.ndarray) -> float:
    """Largest absolute difference of shares over the bins/categories, in ``[0, 1]``."""
    return float(np.max(np.abs(_shares(reference) - _shares(current)), initial=0.0))


def chi2_homogeneity(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Pearson chi-square test that both count vectors come from one distribution.

    The 2 x k contingency test (``scipy.stats.chi2_contingency(..., correction=False)``)
    after dropping categories empty in both; returns ``(statistic, p_value)``.
    """
    table = np.vstack([np.asarray(reference, np.float64), np.asarray(current, np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1)
    if table.shape[1] < 2 or np.any(rows == 0):
        return 0.0, 1.0
    expected = np.outer(rows, table.sum(axis=0)) / rows.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    return stat, float(special.chdtrc(table.shape[1] - 1, stat))


def ks_p_value(d: float, n: int, m: int, method: str = "fast") -> float:
    """p-value of a two-sample KS distance ``d`` between samples of sizes ``n`` and ``m`` (see
    :func:`ks_two_sample` for the methods)."""
    if n == 0 or m == 0:
        return 1.0
    en = n * m / (n + m)
    if method == "scipy":
        p = stats.kstwo.sf(d, max(round(en), 1))
    else:
        root = math.sqrt(en)
        p = special.kolmogorov((root + 0.12 + 0.11 / root) * d)
    return float(np.clip(p, 0.0, 1.0))


def ks_grid(reference: GridCounts, current: GridCounts, method: str = "fast") -> tuple[float, float]:
    """Two-sample KS ``(D, p_value)`` of two samples given as counts on one fine grid.

    ``D`` is the largest gap of the two empirical CDFs at the grid's edges: the ``D`` of
    ``scipy.stats.ks_2samp`` on the raw values when they lie on the grid's lattice (discrete
    data, ties included), otherwise low by at most one grid cell's mass. The p-value counts
    every value of both sides (``n``, ``m`` are the full counts), as ``ks_2samp`` does.
    """
    n, m = reference.n, current.n
    if n == 0 or m == 0:
        return 0.0, 1.0
    cf = np.cumsum(reference.counts) / n
    cg = np.cumsum(current.counts) / m
    d = float(np.max(np.abs(cf - cg)))
    return d, ks_p_value(d, n, m, method)


def wasserstein_grid(grid: np.ndarray, reference: GridCounts, current: GridCounts) -> float:
    """W1 between two samples given as counts on one fine grid.

    Inside the grid each value counts at its cell's left edge (exact for values on the grid's
    lattice; otherwise each moves by less than its cell's width); past the outer edges the
    tails' excess sums stand in for ``integral |F - G|`` (exact when the two CDFs do not cross there).
    """
    n, m = reference.n, current.n
    if n == 0 or m == 0 or len(grid) == 0:
        return 0.0
    cf = np.cumsum(reference.counts) / n
    cg = np.cumsum(current.counts) / m
    widths = cell_widths(grid)
    # Cell j = [g_{j-1}, g_j) for 1 <= j <= L-1: the CDF there is the cumulative share through cell j.
    inner = float(np.abs(cf[1:-1] - cg[1:-1]) @ widths) if len(widths) else 0.0
    tails = abs(reference.low_excess / n - current.low_excess / m) + abs(reference.high_excess / n - current.high_excess / m)
    return inner + tails


def ks_two_sample(reference_sorted: np.ndarray, current: np.ndarray, method: str = "fast") -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov ``(D, p_value)``; ``D`` equals ``scipy.stats.ks_2samp``'s.

    ``method="scipy"`` gives the p-value of ``ks_2samp(a, b, method="asymp")``
    (the finite-n ``kstwo`` distribution, ~0.5 ms per call at n = 2000).
    ``method="fast"`` uses Stephens' correction of the Kolmogorov limit,
    ``Q((sqrt(ne) + 0.12 + 0.11 / sqrt(ne)) * D)`` (Stephens 1970; Numerical Recipes
    14.3), ~100x cheaper; for effective ``ne = n m / (n + m) >= 100`` it is within
    3 % relative (0.0025 absolute) of the ``scipy`` value where p < 0.2 and within
    0.012 absolute everywhere.
    """
    a = reference_sorted
    b = np.sort(current)
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return 0.0, 1.0
    both = np.concatenate([a, b])
    d = float(np.max(np.abs(np.searchsorted(a, both, side="right") / n - np.searchsorted(b, both, side="right") / m)))
    en = n * m / (n + m)
    if method == "scipy":
        p = stats.kstwo.sf(d, round(en))
    else:
        root = math.sqrt(en)
        p = special.kolmogorov((root + 0.12 + 0.11 / root) * d)
    return d, float(np.clip(p, 0.0, 1.0))


def wasserstein(reference_sorted: np.ndarray, current: np.ndarray) -> float:
    """First Wasserstein (earth mover's) distance between two empirical distributions.

    Same value as ``scipy.stats.wasserstein_distance(a, b)``.
    """
    a = reference_sorted
    b = np.sort(current)
    if len(a) == 0 or len(b) == 0:
        return 0.0
    scale = max(abs(float(a[0])), abs(float(a[-1])), abs(float(b[0])), abs(float(b[-1])))
    if scale >= 1e150:  # near the float64 limit the gaps overflow: W(a, b) = s * W(a / s, b / s)
        return scale * wasserstein(a / scale, b / scale)
    both = np.sort(np.concatenate([a, b]))
    deltas = np.diff(both)
    fa = np.searchsorted(a, both[:-1], side="right") / len(a)
    fb = np.searchsorted(b, both[:-1], side="right") / len(b)
    return float(np.sum(np.abs(fa - fb) * deltas))

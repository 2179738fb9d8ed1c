"""Drift test statistics of many resampled windows at once, for the calibration.

Each function takes a test, the feature's reference profile and two 2-D count arrays, one row
per resampled (reference, window) pair: the fine grid's cells for a numeric feature, the kept
categories + other for a categorical one (:func:`~driftline.detectors.drift_base.binned`'s
order). It returns the statistic ``test.compare`` would give each pair, vectorised over the
rows; the resampled values never leave the reference's range, so the grid's tail sums are 0.
``tests/detectors/test_calibration.py`` checks every function against ``compare`` row by row.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .grid import cell_widths, normal_score_levels, quantile_cells
from .moments import cell_values, moments_z
from .ranks import rank_z

__all__ = ["NULL_STATISTICS"]


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum(axis=1, keepdims=True).astype(np.float64)
    return np.divide(counts, total, out=np.zeros(counts.shape), where=total > 0)


def _coarse(test, reference, ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if reference.kind != "numeric":
        return ref, cur
    starts = reference.coarse_starts
    return np.add.reduceat(ref, starts, axis=1), np.add.reduceat(cur, starts, axis=1)


def _psi(test, reference, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    if reference.kind == "numeric" and test.bins != "reference":
        n = ref[0].sum() + cur[0].sum()
        bins = test.bins if isinstance(test.bins, int) else math.ceil(math.log2(max(n, 1))) + 1
        starts = quantile_cells(reference.grid_counts.counts, normal_score_levels(bins))
        ref, cur = np.add.reduceat(ref, starts, axis=1), np.add.reduceat(cur, starts, axis=1)
    else:
        ref, cur = _coarse(test, reference, ref, cur)
    if test.pseudo_count > 0:
        p, q = _shares(ref + test.pseudo_count), _shares(cur + test.pseudo_count)
    else:
        p, q = _shares(ref), _shares(cur)
        p, q = np.where(p == 0, test.eps, p), np.where(q == 0, test.eps, q)
    return np.sum((q - p) * np.log(q / p), axis=1)


def _jensen_shannon(test, reference, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    p, q = (_shares(x) for x in _coarse(test, reference, ref, cur))
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(p > 0, p * np.log(p / m), 0.0).sum(axis=1) + np.where(q > 0, q * np.log(q / m), 0.0).sum(axis=1)
    return np.sqrt(np.maximum(kl / 2.0, 0.0))


def _hellinger(test, reference, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    p, q = (_shares(x) for x in _coarse(test, reference, ref, cur))
    return np.sqrt(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2, axis=1) / 2.0)


def _l_infinity(test, reference, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    p, q = (_shares(x) for x in _coarse(test, reference, ref, cur))
    return np.max(np.abs(p - q), axis=1)


def _unseen_share(test, reference, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    n = cur.sum(axis=1)
    return np.divide(cur[:, -1], n, out=np.zeros(len(n)), where=n > 0)


def _chi2(test, reference, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    ref, cur = ref.astype(np.float64), cur.astype(np.float64)
    cols = ref + cur
    rows_r, rows_c = ref.sum(axis=1, keepdims=True), cur.sum(axis=1, keepdims=True)
    total = rows_r + rows_c
    er, ec = rows_r * cols / total, rows_c * cols / total
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(cols > 0, (ref - er) ** 2 / er + (cur - ec) ** 2 / ec, 0.0)
    return terms.sum(axis=1)


def _cdf_gaps(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    return np.abs(np.cumsum(ref, axis=1) / ref.sum(axis=1, keepdims=True)
                  - np.cumsum(cur, axis=1) / cur.sum(axis=1, keepdims=True))


def _ks(test, reference, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    return _cdf_gaps(ref, cur).max(axis=1)


def _wasserstein(test, reference, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    w = _cdf_gaps(ref, cur)[:, 1:-1] @ cell_widths(reference.grid)
    scale = test.scale(reference)
    return w / scale if scale > 0 else np.where(w == 0, 0.0, np.inf)


def _moments(test, reference, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    return moments_z(cell_values(reference.grid), ref, cur)


def _ranks(test, reference, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    return np.abs(rank_z(ref, cur, test.scores)).max(axis=1)


NULL_STATISTICS: dict[str, Callable[..., np.ndarray]] = {
    "moments": _moments, "ranks": _ranks,
    "psi": _psi, "jensen_shannon": _jensen_shannon, "hellinger": _hellinger, "l_infinity": _l_infinity,
    "unseen_share": _unseen_share, "chi2": _chi2, "ks": _ks, "wasserstein": _wasserstein,
}

"""Pearson's chi-square homogeneity test of many (reference, window) count pairs at once.

:func:`~driftline.detectors.distances.chi2_homogeneity` of each pair, for the ``chi2`` test of
every categorical feature of a window (:mod:`~driftline.detectors.batch_tests`). A pair's table
keeps the categories seen on either side, so the pairs are grouped by their number of categories
before and after that, and each group is computed as one array with the one-pair path's numpy
steps, row by row in the same order: every statistic and p-value equals ``chi2_homogeneity``'s to
the last bit (tests/detectors/test_batch_tests.py).

>>> stat, p = chi2_rows([np.array([50, 50]), np.array([5, 0, 5])], [np.array([70, 30]), np.array([1, 0, 0])])
>>> [round(x, 2) for x in stat.tolist()], [round(x, 4) for x in p.tolist()]
([8.33, 0.92], [0.0039, 0.3384])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special

__all__ = ["chi2_rows"]


def chi2_rows(reference: Sequence[np.ndarray], current: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``chi2_homogeneity(reference[i], current[i])`` for every ``i``: statistics and p-values."""
    stat = np.zeros(len(reference))
    p = np.ones(len(reference))
    sizes = np.array([len(r) for r in reference], dtype=np.int64)
    for size in np.unique(sizes).tolist():
        at = np.flatnonzero(sizes == size)
        table = np.stack([np.stack([np.asarray(reference[i], np.float64), np.asarray(current[i], np.float64)])
                          for i in at.tolist()]) if size else np.zeros((len(at), 2, 0))
        seen = table.sum(axis=1) > 0  # the categories a pair keeps
        kept = np.count_nonzero(seen, axis=1)
        for k in np.unique(kept).tolist():
            sub = np.flatnonzero(kept == k)
            t = table[sub][np.broadcast_to(seen[sub][:, None, :], (len(sub), 2, size))].reshape(len(sub), 2, k)
            rows = t.sum(axis=2)
            valid = np.flatnonzero(~np.any(rows == 0, axis=1)) if k >= 2 else np.empty(0, dtype=np.int64)
            if not len(valid):
                continue  # (0.0, 1.0), as chi2_homogeneity
            t, rows = t[valid], rows[valid]
            expected = rows[:, :, None] * t.sum(axis=1)[:, None, :] / rows.sum(axis=1)[:, None, None]
            with np.errstate(all="ignore"):
                s = ((t - expected) ** 2 / expected).reshape(len(valid), 2 * k).sum(axis=1)
            stat[at[sub[valid]]] = s
            p[at[sub[valid]]] = special.chdtrc(k - 1, s)
    return stat, p

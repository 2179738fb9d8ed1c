"""Mean and variance of binned counts, per row: the statistic of the ``moments`` test.

Pure numpy on count arrays (one row per sample), shared by
:mod:`~driftline.detectors.moment_tests` (one window) and the calibration's vectorised nulls.

>>> import numpy as np
>>> grid = np.array([0.0, 1.0, 2.0, 3.0])
>>> float(moments_z(cell_values(grid), np.array([[0, 5, 5, 5, 0]]), np.array([[0, 5, 5, 5, 0]]))[0])
0.0
"""

from __future__ import annotations

import numpy as np

__all__ = ["cell_values", "moments_z"]


def cell_values(grid: np.ndarray) -> np.ndarray:
    """Each fine cell's value: its lower edge; the tails' cells their edge (the excess is added apart)."""
    if len(grid) == 0:
        return np.zeros(1)
    return np.concatenate([[grid[0]], grid])


def _moments(values: np.ndarray, counts: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance per row of ``counts`` (2-D); ``low``/``high`` are the rows' tail excess sums."""
    n = counts.sum(axis=1).astype(np.float64)
    safe = np.maximum(n, 1.0)
    shift = values[len(values) // 2]  # centred: no cancellation on far-from-zero features
    v = values - shift
    total = counts @ v - low + high
    mean = total / safe
    # Tail values count at their mean distance beyond the edge (their spread is not kept).
    low_n, high_n = counts[:, 0], counts[:, -1]
    sq = counts @ (v * v)
    with np.errstate(divide="ignore", invalid="ignore"):
        low_d = np.where(low_n > 0, low / np.maximum(low_n, 1), 0.0)
        high_d = np.where(high_n > 0, high / np.maximum(high_n, 1), 0.0)
    sq = sq + low_n * ((v[0] - low_d) ** 2 - v[0] ** 2) + high_n * ((v[-1] + high_d) ** 2 - v[-1] ** 2)
    var = np.maximum(sq / safe - mean * mean, 0.0)
    return mean + shift, var


def moments_z(values: np.ndarray, ref: np.ndarray, cur: np.ndarray, ref_tails: tuple = (0.0, 0.0),
              cur_tails: tuple = (0.0, 0.0)) -> np.ndarray:
    """``max(|z_mean|, |z_var|)`` per row of the 2-D count arrays (``ref`` may be one row)."""
    m_r, v_r = _moments(values, ref, *ref_tails)
    m_w, v_w = _moments(values, cur, *cur_tails)
    n_r, n_w = ref.sum(axis=1).astype(np.float64), cur.sum(axis=1).astype(np.float64)
    inv = 1.0 / np.maximum(n_w, 1.0) + 1.0 / np.maximum(n_r, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z_mean = np.abs(m_w - m_r) / np.sqrt(v_r * inv)
        z_var = np.abs(v_w - v_r) / (v_r * np.sqrt(2.0 * inv))
    z = np.maximum(np.nan_to_num(z_mean, nan=0.0), np.nan_to_num(z_var, nan=0.0))
    # A constant reference: any movement at all is drift-sized.
    moved = (m_w != m_r) | (v_w != v_r)
    return np.where(v_r > 0, z, np.where(moved, np.inf, 0.0))

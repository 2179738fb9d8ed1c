"""Rank statistics of binned counts, per row: Wilcoxon-Mann-Whitney's and Mood's z.

Pure numpy on count arrays over ordered cells (one row per sample; the fine grid's cells), shared
by the ``ranks`` test (one window) and the calibration's vectorised nulls. The values of a cell
are ties: each gets the cell's midrank, and both variances carry the tie correction, so the
z's are exact permutation moments of the binned data whatever the feature's shape (skewed,
discrete, heavy-tailed): the null of each is close to a standard normal without knowing the
distribution, where a variance's z depends on the kurtosis and its sampling error.

* location: the rank sum ``W`` of the window (Mann-Whitney's ``U = W - n(n+1)/2``), ``E W =
  n (T + 1) / 2``, ``Var W = n N / 12 (T + 1 - sum(t^3 - t) / (T (T - 1)))``;
* scale: Mood's ``M``, the window's sum of the squared distances of its ranks from the middle
  ``(T + 1) / 2``, a tie group scored by its members' mean score (Mielke's correction, as
  ``scipy.stats.mood``), with the permutation mean and variance of such a linear rank statistic.

``T = n + N``; ``n`` the window's, ``N`` the reference's values, ``t`` a cell's.

>>> import numpy as np
>>> same = np.array([[10, 20, 30, 20, 10]])
>>> rank_z(same, same).tolist()
[[0.0, 0.0]]
>>> z = rank_z(same, np.array([[0, 5, 10, 25, 20]]))
>>> bool(z[0, 0] > 3)
True
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["SCORES", "rank_z"]


SCORES = ("normal", "wilcoxon")


def rank_z(ref: np.ndarray, cur: np.ndarray, scores: str = "wilcoxon") -> np.ndarray:
    """``[z_location, z_scale]`` per row of the 2-D count arrays (``ref`` may be one row), window
    ``cur`` against ``ref``: positive when the window's values are larger / more spread out.
    0 when a side is empty or every value is tied. ``scores``: ``"wilcoxon"`` (ranks: Mann-Whitney
    and Mood) or ``"normal"`` (normal scores: van der Waerden and Klotz)."""
    ref = np.asarray(ref, dtype=np.float64)
    cur = np.asarray(cur, dtype=np.float64)
    ref, cur = np.broadcast_arrays(ref, cur)
    t = ref + cur
    n_r, n_w = ref.sum(axis=1), cur.sum(axis=1)
    total = n_r + n_w
    with np.errstate(divide="ignore", invalid="ignore"):
        if scores == "normal":
            loc, scale = _normal_scores(t, total)
        else:
            loc, scale = _wilcoxon_scores(t, total)
        z = np.stack([_linear_z(loc, t, cur, n_r, n_w, total), _linear_z(scale, t, cur, n_r, n_w, total)], axis=1)
    return np.where(np.isfinite(z), z, 0.0)


def _linear_z(score: np.ndarray, t, cur, n_r, n_w, total) -> np.ndarray:
    """z of the window's sum of ``score`` (one per cell: its tie group's mean) under permutation."""
    mean = np.einsum("ij,ij->i", t, score) / total
    spread = np.einsum("ij,ij->i", t, (score - mean[:, None]) ** 2)
    var = n_w * n_r / (total * (total - 1.0)) * spread
    return (np.einsum("ij,ij->i", cur, score) - n_w * mean) / np.sqrt(var)


def _wilcoxon_scores(t: np.ndarray, total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mid = np.cumsum(t, axis=1) - (t - 1.0) / 2.0  # a cell's midrank
    # Mood: a tie group's mean of (i - centre)^2 over its ranks is (midrank - centre)^2 + (t^2 - 1) / 12.
    return mid, (mid - (total[:, None] + 1.0) / 2.0) ** 2 + (t * t - 1.0) / 12.0


def _normal_scores(t: np.ndarray, total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's mean of ``x = Phi^-1(u)`` and of ``x^2`` over its share ``u`` of the pooled
    values (``int x dPhi = -phi``, ``int x^2 dPhi = Phi - x phi``): a tie group's mean score."""
    upper = np.cumsum(t, axis=1) / total[:, None]
    x = special.ndtri(np.minimum(upper, 1.0))
    finite = np.isfinite(x)
    x = np.where(finite, x, 0.0)
    pdf = np.where(finite, np.exp(-0.5 * x * x) * _INV_SQRT_2PI, 0.0)  # 0 at u = 1 (x = inf)
    cdf_minus = upper - x * pdf  # int_0^u x^2 dPhi
    # A cell's lower edge is the previous cell's upper edge; the first starts at u = 0 (x = -inf).
    width = np.diff(upper, axis=1, prepend=0.0)
    pdf_lo = np.concatenate([np.zeros((len(t), 1)), pdf[:, :-1]], axis=1)
    sq_lo = np.concatenate([np.zeros((len(t), 1)), cdf_minus[:, :-1]], axis=1)
    safe = np.where(width > 0, width, 1.0)
    loc = np.where(width > 0, (pdf_lo - pdf) / safe, 0.0)
    sq = np.where(width > 0, (cdf_minus - sq_lo) / safe, 0.0)
    return loc, sq


_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)

"""False-alarm control: multiple-testing correction within a window, k-of-n persistence across windows."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from ._checks import check_choice, check_int

__all__ = ["COMBINATIONS", "CORRECTIONS", "Persistence", "adjust_p_values", "cauchy_combination"]

CORRECTIONS = ("holm", "bh", "bonferroni", "none")
COMBINATIONS = ("cauchy", "none")
# A calibrated p-value tells nothing apart above its first decile (0.9); capped here, a test that
# saw nothing cannot cancel one that did (1 / tan(pi p) runs to -inf as p -> 1).
_P_CAP = 0.99


def cauchy_combination(p_values: Sequence[float] | np.ndarray, groups: Sequence[int] | np.ndarray) -> np.ndarray:
    """One p-value per group: the Cauchy combination of the group's p-values (Liu and Xie, "Cauchy
    combination test", JASA 2020), ``sf(mean(isf(p_i)))`` of the standard Cauchy distribution.

    Valid whatever the dependence between the p-values, to first order at small alpha (its tail is
    the Cauchy's): here, the tests of one feature, which are strongly dependent (two z's correlated
    at 0.9: rejected at 1.03 alpha for alpha = 0.01, 1.16 alpha for 0.001; tests/detectors/test_correction.py). When the tests
    agree it gives their p-value (two tests both at p: p; Bonferroni would double it); when one
    test alone sees a change it gives about ``k`` times its p-value, as Bonferroni does.
    ``isf(p) = 1 / tan(pi p)`` and ``sf(t) = arctan(1 / t) / pi`` (t > 0) are the exact forms
    that keep their precision at tiny p; checked against ``scipy.stats.cauchy`` in
    tests/detectors/test_correction.py. p-values are capped at 0.99 first (see ``_P_CAP``).

    >>> cauchy_combination([1e-4, 1e-4, 1e-4, 0.5], [0, 0, 1, 1]).round(6).tolist()
    [0.0001, 0.0002]
    >>> cauchy_combination([0.3, 0.0, 1.0], [0, 1, 1]).tolist()
    [0.3, 0.0]
    """
    p = np.minimum(np.asarray(p_values, dtype=np.float64), _P_CAP)
    g = np.asarray(groups, dtype=np.intp)
    if len(p) == 0:
        return p.copy()
    size = np.bincount(g)
    with np.errstate(divide="ignore"):
        t = 1.0 / np.tan(np.pi * p)  # +inf at p = 0: that group's combination is 0
    infinite = np.bincount(g, weights=np.isposinf(t)) > 0
    mean = np.bincount(g, weights=np.where(np.isposinf(t), 0.0, t)) / np.maximum(size, 1)
    with np.errstate(divide="ignore"):
        out = np.where(mean > 0, np.arctan(1.0 / np.where(mean > 0, mean, 1.0)) / np.pi, 0.5 - np.arctan(mean) / np.pi)
    out[infinite] = 0.0
    single = size == 1  # a group of one keeps its own p-value exactly (uncapped)
    if single.any():
        first = np.full(len(size), -1)
        first[g[::-1]] = np.arange(len(g))[::-1]
        out[single] = np.asarray(p_values, dtype=np.float64)[first[single]]
    return np.minimum(out, 1.0)


def adjust_p_values(p_values: Sequence[float] | np.ndarray, method: str = "bh") -> np.ndarray:
    """Adjusted p-values; reject hypothesis i at level alpha when ``adjusted[i] < alpha``.

    ``"holm"`` is Holm's step-down (family-wise error, like Bonferroni, at no loss of power:
    once a feature truly drifted, the others are still held to about ``alpha / m``),
    ``"bh"`` is Benjamini-Hochberg (false discovery rate: once some feature drifted, the others
    are tested at a laxer ``k alpha / m``), ``"bonferroni"`` multiplies by the number of tests,
    ``"none"`` returns them as given. All three reject at the same rate when nothing changed.

    >>> adjust_p_values([0.01, 0.04, 0.03, 0.2], "bh").round(3).tolist()
    [0.04, 0.053, 0.053, 0.2]
    >>> adjust_p_values([0.01, 0.04, 0.03, 0.2], "holm").round(3).tolist()
    [0.04, 0.09, 0.09, 0.2]
    >>> adjust_p_values([0.01, 0.04], "bonferroni").tolist()
    [0.02, 0.08]
    """
    check_choice("method", method, CORRECTIONS, "correction")
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if m == 0 or method == "none":
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, kind="stable")
    if method == "holm":
        # The i-th smallest (from 0) is held to alpha / (m - i); monotone by a running maximum.
        stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
        out = np.empty(m)
        out[order] = np.minimum(stepped, 1.0)
        return out
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    out = np.empty(m)
    out[order] = adjusted
    return out


class Persistence:
    """Raise a verdict only when at least ``k`` of the last ``n`` verdicts for the same key were positive.

    Each key keeps a ``deque(maxlen=n)``; keys are the fixed (feature, test) pairs of
    a suite, so memory is bounded.

    >>> p = Persistence(k=2, n=3)
    >>> [p.update("x", v) for v in (True, False, True, True, False, False)]
    [False, False, True, True, True, False]
    """

    def __init__(self, k: int = 1, n: int = 1) -> None:
        self.n = check_int("n", n, low=1, high=1000)
        self.k = check_int("k", k, low=1, high=self.n)
        self._history: dict[Hashable, deque[bool]] = {}

    def update(self, key: Hashable, verdict: bool) -> bool:
        history = self._history.get(key)
        if history is None:
            history = self._history[key] = deque(maxlen=self.n)
        history.append(bool(verdict))
        return sum(history) >= self.k

    def reset(self) -> None:
        self._history.clear()

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state; keys are stored as ``[key, history]`` pairs (tuple keys become lists)."""
        return {"k": self.k, "n": self.n, "history": [[list(k) if isinstance(k, tuple) else k, list(h)] for k, h in self._history.items()]}

    @classmethod
    def restore(cls, snapshot: Mapping[str, Any]) -> Persistence:
        p = cls(snapshot["k"], snapshot["n"])
        for key, history in snapshot["history"]:
            p._history[tuple(key) if isinstance(key, list) else key] = deque(history, maxlen=p.n)
        return p

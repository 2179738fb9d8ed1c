"""False-alarm control: multiple-testing correction within a window, k-of-n persistence across windows."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from ._checks import check_choice, check_int

__all__ = ["CORRECTIONS", "Persistence", "adjust_p_values"]

CORRECTIONS = ("holm", "bh", "bonferroni", "none")


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

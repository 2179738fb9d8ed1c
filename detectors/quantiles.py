"""A mergeable, bounded quantile sketch for non-negative values such as latencies (DDSketch-style)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._checks import check_float, check_int

__all__ = ["QuantileSketch"]


class QuantileSketch:
    """Log-spaced histogram with relative accuracy ``relative_accuracy`` (Masson et al., DDSketch, VLDB 2019).

    Bucket ``i`` holds values in ``(gamma^(i-1), gamma^i]`` with
    ``gamma = (1 + a) / (1 - a)``; a quantile is answered with the bucket's
    midpoint ``2 gamma^i / (gamma + 1)``, within relative error ``a`` of the
    value of rank ``floor(q * (n - 1))`` (``np.quantile(..., method="lower")``).
    At most ``max_buckets`` buckets are kept: beyond that the lowest buckets
    are merged (so the highest quantiles, the ones alerted on, stay accurate).
    Values ``<= min_value`` go to a zero bucket; NaN is skipped; negative values raise.

    >>> import numpy as np
    >>> s = QuantileSketch()
    >>> s.update(np.arange(1.0, 1001.0))
    >>> s.n, abs(s.quantile(0.99) - 990.0) / 990.0 <= 0.01
    (1000, True)
    >>> other = QuantileSketch(); other.update(np.array([5000.0]))
    >>> s.merge(other); s.n, abs(s.quantile(1.0) - 5000.0) / 5000.0 <= 0.01
    (1001, True)
    """

    def __init__(self, relative_accuracy: float = 0.01, max_buckets: int = 2048, min_value: float = 1e-9) -> None:
        self.relative_accuracy = check_float("relative_accuracy", relative_accuracy, low=0.0, high=0.5, low_open=True)
        self.max_buckets = check_int("max_buckets", max_buckets, low=16, high=1_000_000)
        self.min_value = check_float("min_value", min_value, low=0.0, low_open=True)
        self.gamma = (1 + self.relative_accuracy) / (1 - self.relative_accuracy)
        self._log_gamma = math.log(self.gamma)
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.zero_count = 0
        self._buckets: dict[int, int] = {}

    def update(self, values: np.ndarray) -> None:
        """Add a batch of values."""
        x = np.asarray(values, dtype=np.float64).ravel()
        x = x[~np.isnan(x)]
        if len(x) == 0:
            return
        if np.any(x < 0):
            raise ValueError("values: negative values are not supported (expected values >= 0)")
        small = x <= self.min_value
        self.zero_count += int(np.count_nonzero(small))
        keys, counts = np.unique(np.ceil(np.log(x[~small]) / self._log_gamma).astype(np.int64), return_counts=True)
        self._add(dict(zip(keys.tolist(), counts.tolist(), strict=True)))
        self.n += len(x)

    def _add(self, buckets: Mapping[int, int]) -> None:
        b = self._buckets
        for k, c in buckets.items():
            b[k] = b.get(k, 0) + c
        if len(b) > self.max_buckets:
            keys = sorted(b)
            cut = keys[len(keys) - self.max_buckets]
            b[cut] += sum(b.pop(k) for k in keys[: len(keys) - self.max_buckets])

    def merge(self, other: QuantileSketch) -> None:
        """Add ``other``'s values into this sketch (same ``relative_accuracy`` required)."""
        if other.relative_accuracy != self.relative_accuracy:
            raise ValueError("other: relative_accuracy differs; sketches are not mergeable")
        self._add(other._buckets)
        self.zero_count += other.zero_count
        self.n += other.n

    def quantile(self, q: float) -> float:
        """Estimated ``q``-quantile, ``q`` in [0, 1]; NaN when empty."""
        q = check_float("q", q, low=0.0, high=1.0)
        if self.n == 0:
            return float("nan")
        rank = q * (self.n - 1)
        if rank < self.zero_count:
            return 0.0
        seen = self.zero_count
        for k in sorted(self._buckets):
            seen += self._buckets[k]
            if seen > rank:
                return 2.0 * self.gamma**k / (self.gamma + 1.0)
        return 2.0 * self.gamma ** max(self._buckets) / (self.gamma + 1.0)

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state."""
        return {"relative_accuracy": self.relative_accuracy, "max_buckets": self.max_buckets, "min_value": self.min_value,
                "n": self.n, "zero_count": self.zero_count, "buckets": sorted(self._buckets.items())}

    @classmethod
    def restore(cls, snapshot: Mapping[str, Any]) -> QuantileSketch:
        s = cls(snapshot["relative_accuracy"], snapshot["max_buckets"], snapshot["min_value"])
        s.n, s.zero_count = int(snapshot["n"]), int(snapshot["zero_count"])
        s._buckets = {int(k): int(c) for k, c in snapshot["buckets"]}
        return s

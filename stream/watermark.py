"""The event-time high mark a watermark follows, robust to a handful of outliers.

Within the admitted bounds (``worker.event_time``) a producer can still send an event
a day ahead of the rest. Were the watermark the highest event time seen, that one event
would close every open window early, make every later event late and expire every
pending label. The high mark is instead the ``(k + 1)``-th highest event time seen
(``k = OUTLIERS``): up to ``k`` outliers never move it, and with ordinary traffic it lags
the highest event time by ``k`` events. It is kept in a min-heap of ``k + 1`` times, is
deterministic (a function of the event times seen, not of batch boundaries) and is
checkpointed with the monitor. Until ``k + 1`` events are seen there is no high mark:
windows close on ``idle_close`` only.

>>> import numpy as np
>>> mark = HighMark(outliers=2)
>>> mark.update(np.array([4_102_000_000_000, 100, 200]))  # one far-future outlier
>>> mark.value
100
>>> mark.update(np.array([300, 250]))
>>> mark.value, HighMark.restore(mark.snapshot(), outliers=2).value
(250, 250)
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

__all__ = ["OUTLIERS", "HighMark"]

OUTLIERS = 5


class HighMark:
    """The ``(outliers + 1)``-th highest event time seen; None until that many are seen."""

    __slots__ = ("outliers", "_heap")

    def __init__(self, *, outliers: int = OUTLIERS) -> None:
        if not isinstance(outliers, int) or outliers < 0:
            raise ValueError(f"outliers must be an integer >= 0, got {outliers!r}")
        self.outliers = outliers
        self._heap: list[int] = []  # min-heap of the outliers + 1 highest times

    @property
    def value(self) -> int | None:
        return self._heap[0] if len(self._heap) > self.outliers else None

    def update(self, ts_ms: np.ndarray) -> None:
        size = self.outliers + 1
        if len(ts_ms) > size:  # only the batch's highest times can enter the heap
            ts_ms = np.partition(ts_ms, len(ts_ms) - size)[-size:]
        heap = self._heap
        for t in ts_ms.tolist():
            if len(heap) < size:
                heapq.heappush(heap, t)
            elif t > heap[0]:
                heapq.heapreplace(heap, t)

    def snapshot(self) -> list[int]:
        return sorted(self._heap)

    @classmethod
    def restore(cls, times: Sequence[int], *, outliers: int = OUTLIERS) -> HighMark:
        mark = cls(outliers=outliers)
        mark._heap = sorted(int(t) for t in times)[-(outliers + 1):]  # a sorted list is a valid heap
        return mark

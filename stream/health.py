"""Is the worker doing its job? Readiness for ``/healthz``, liveness for ``/livez``.

The batch loop (:class:`~driftline.stream.ingest.IngestLoop`) reports each step it
completes and, about once a second, each partition's position and lag. From those,
:class:`IngestHealth` says the worker is **stalled**, and so not ready, when any of:

1. **the ingest thread is not running** (it crashed, or ended without being stopped);
2. **no step completed** for ``stall_after``: the loop is stuck inside one, e.g. waiting
   for a store that does not answer. Backpressure pauses the consumer *inside* a step
   (the flush or checkpoint that failed is retried there), so a consumer paused for
   ``stall_after`` is a step that has not completed for ``stall_after``, and the reason
   says it is paused;
3. **a partition makes no progress while it lags**: for ``stall_after``, its lag (high
   watermark minus position) stayed above 0 and its position did not move.

Before partitions are assigned the worker is *starting*, not ready either. Times are
read from a monotonic clock, so a wall-clock step does not fake or hide a stall.

>>> now = [0.0]
>>> health = IngestHealth(stall_after_s=120, clock=lambda: now[0])
>>> health.check(assigned=True, thread_alive=True)
Readiness(ready=True, reason='ok')
>>> health.observe_partitions({("p", 0): (500, 42)})  # 42 behind at offset 500
>>> now[0] = 121.0; health.step_done()
>>> health.check(assigned=True, thread_alive=True).reason
'stalled: p[0] is 42 message(s) behind and its position has not moved for 121.0s (limit 120s)'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["IngestHealth", "Readiness"]


@dataclass(frozen=True)
class Readiness:
    """``ready`` or not, and why (``'ok'`` when ready)."""

    ready: bool
    reason: str


@dataclass
class _Progress:
    position: int
    lag: int
    moved_at: float  # last time the position moved or the lag was 0


class IngestHealth:
    """The batch loop's progress, and the verdict on it (see the module docstring)."""

    def __init__(self, stall_after_s: float = 120.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not stall_after_s > 0:
            raise ValueError(f"stall_after_s must be > 0, got {stall_after_s}")
        self.stall_after_s = stall_after_s
        self.clock = clock
        self.last_step_at = clock()
        self.partitions: dict[tuple[str, int], _Progress] = {}

    def step_done(self) -> None:
        """A batch-loop step completed, whether it consumed messages or not."""
        self.last_step_at = self.clock()

    def observe_partitions(self, lag: Mapping[tuple[str, int], tuple[int, int]]) -> None:
        """(topic, partition) -> (position, lag) of every assigned partition whose position is known."""
        now = self.clock()
        known = self.partitions
        for key in list(known):
            if key not in lag:  # revoked
                del known[key]
        for key, (position, behind) in lag.items():
            seen = known.get(key)
            if seen is None or position != seen.position or behind <= 0:
                known[key] = _Progress(position, behind, now)
            else:
                seen.lag = behind

    def check(self, *, assigned: bool, thread_alive: bool, paused: bool = False) -> Readiness:
        """The verdict now; ``paused``: the consumer is paused for backpressure."""
        if not thread_alive:
            return Readiness(False, "the ingest thread is not running")
        if not assigned:
            return Readiness(False, "starting: waiting for partition assignment")
        now = self.clock()
        limit = self.stall_after_s
        since_step = now - self.last_step_at
        if since_step > limit:
            why = "; the consumer is paused for backpressure (the store does not answer)" if paused else ""
            return Readiness(False, f"stalled: no consume loop step completed for {since_step:.1f}s "
                                    f"(limit {limit:g}s){why}")
        for (topic, partition), p in sorted(self.partitions.items()):
            if p.lag > 0 and now - p.moved_at > limit:
                return Readiness(False, f"stalled: {topic}[{partition}] is {p.lag} message(s) behind and its "
                                        f"position has not moved for {now - p.moved_at:.1f}s (limit {limit:g}s)")
        return Readiness(True, "ok")

"""Two-stage aggregation in the worker (``worker.aggregation: two_stage``): publish partials, own versions.

* **Stage 1**, on every partition: :meth:`TwoStage.publish` takes the windows its monitors would
  close as :class:`~driftline.stream.partials.Partial` states, and a watermark *mark* per version
  and side whenever it moved; both go to the partials topic keyed by ``model \\x1f version``, so
  every partial of a version lands on one partials partition, in order per source.
* **Stage 2**, on the partition of that number (range assignment gives one worker partition *q*
  of the predictions, feedback and partials topics): :meth:`TwoStage.receive` feeds the
  :class:`~driftline.stream.stage2.WindowOwner` of each version in ``PartitionState.owners``,
  :meth:`TwoStage.close` closes the complete windows into reports and alerts, stored with
  ``kafka_partition`` = *q*. The owners are checkpointed with their partition, and the partials
  topic's offset with its offsets, so a restart resumes exactly there.

A mark never runs ahead of a window the partition still holds (a label window waiting for its
prediction window): it is the lower of the side's watermark and the start of the oldest window held.
A side with no event of the version for ``idle_close`` marks :data:`IDLE`: the *partition* says it
is idle, so a silent partition (its worker dead or stalled) is never taken for an idle one.

Wire form: JSON, ``{"format": 1, ...}`` (:meth:`~driftline.stream.partials.Partial.snapshot`) or
``{"format": 1, "mark": true, "model", "version", "side", "partition", "watermark_ms"}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from driftline.alerting import AlertEngine

from .errors import CheckpointError
from .join_topic import IDLE
from .monitor import ModelMonitor
from .partials import PARTIAL_FORMAT, SIDES, Partial, label_clock, take_partials
from .partition import BatchOutput, PartitionState
from .stage2 import WindowOwner

__all__ = ["TwoStage", "partial_key"]

_encoder = msgspec.json.Encoder()


def partial_key(model: str, version: str) -> bytes:
    return f"{model}\x1f{version}".encode()


def marks(monitor: ModelMonitor, now_ms: int, label_mark: int | None = None) -> dict[str, int]:
    """Each side's watermark, held back to the oldest window the monitor still holds; a side idle for
    ``idle_close`` (no event of the version on this partition) is :data:`IDLE`: it holds nothing back.
    ``label_mark``: the label side's mark of a join partition (:mod:`~driftline.stream.join_topic`)."""
    m = monitor
    idle = m.settings.idle_close_ms
    held = {"predictions": min(m.windows, default=None), "labels": min(m.label_windows, default=None)}
    out = {"predictions": IDLE if now_ms - m.last_event_at_ms >= idle else m.watermark_ms,
           "labels": label_mark if label_mark is not None else
           IDLE if now_ms - label_clock(m) >= idle else m.label_watermark_ms}
    return {side: mark if held[side] is None else min(mark, held[side]) for side, mark in out.items()}


class TwoStage:
    """``new_monitor(model, version)`` builds a version's monitor (the processor's settings and references);
    ``rules`` are the alert rules; ``partitions`` the input topics' partition count, which the worker
    reads from the broker when it starts (:meth:`IngestLoop.run`)."""

    def __init__(self, new_monitor, rules, *, wait_ms: int, partitions: int = 1) -> None:
        self.new_monitor = new_monitor
        self.rules = rules
        self.wait_ms = wait_ms
        self.partitions = partitions
        self._published: dict[tuple[int, str, str, str], int] = {}  # (partition, model, version, side) -> mark

    # -- stage 1 -----------------------------------------------------------------------------------
    def publish(self, state: PartitionState, now_ms: int, out: BatchOutput) -> None:
        for monitor in state.monitors.values():
            label_mark = None if state.inbox is None else state.inbox.label_mark(monitor.model, self.partitions)
            taken = take_partials(monitor, state.partition, now_ms, label_mark)
            now = marks(monitor, now_ms, label_mark)
            key = partial_key(monitor.model, monitor.version)
            for partial in taken:
                partial.watermark_ms = now[partial.side]
                out.partials.append((key, _encoder.encode(partial.snapshot())))
            for side in SIDES:
                seen = (state.partition, monitor.model, monitor.version, side)
                if taken or self._published.get(seen) != now[side]:
                    self._published[seen] = now[side]
                    out.partials.append((key, _encoder.encode({
                        "format": PARTIAL_FORMAT, "mark": True, "model": monitor.model, "version": monitor.version,
                        "side": side, "partition": state.partition, "watermark_ms": now[side]})))

    # -- stage 2 -----------------------------------------------------------------------------------
    def receive(self, state: PartitionState, messages: Sequence[tuple], topic: str, now_ms: int) -> None:
        """``messages``: ``(partition, offset, value, ...)`` tuples of the partials topic, of this partition."""
        for message in messages:
            doc = msgspec.json.decode(message[2])
            owner = self._owner(state, str(doc["model"]), str(doc["version"]))
            if owner is None:
                continue
            if doc.get("mark"):
                owner.mark(str(doc["side"]), int(doc["partition"]), int(doc["watermark_ms"]), now_ms)
            else:
                owner.add(Partial.restore(doc, owner.monitor.reference, _group_profile(owner.monitor)), now_ms)
        if messages:
            state.offsets[topic] = messages[-1][1] + 1

    def close(self, state: PartitionState, now_ms: int, out: BatchOutput, on_report=lambda report: None) -> None:
        """Close the owners' complete windows: reports, alerts, and ``on_report(report)`` (the version
        lifecycle), as one partition closing them does."""
        for key, owner in state.owners.items():
            for report in owner.close_ready(now_ms):
                out.add_report(state.partition, report)
                engine = state.engines.get(key)
                if engine is None:
                    engine = state.engines[key] = AlertEngine(self.rules)
                out.alerts.extend(engine.evaluate(report, now_ms))
                on_report(report)

    def _owner(self, state: PartitionState, model: str, version: str) -> WindowOwner | None:
        owner = state.owners.get((model, version))
        if owner is None:
            monitor = self.new_monitor(model, version)
            if monitor is None:  # a model removed from the config
                return None
            owner = state.owners[(model, version)] = WindowOwner(
                monitor, wait_ms=self.wait_ms, idle_ms=monitor.settings.idle_close_ms, partitions=self.partitions)
        return owner

    # -- checkpoints -------------------------------------------------------------------------------
    def restore(self, saved: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], WindowOwner]:
        owners = {}
        for s in saved:
            monitor = self.new_monitor(str(s["model"]), str(s["version"]))
            if monitor is None:
                continue
            try:
                owners[(monitor.model, monitor.version)] = WindowOwner.restore(
                    s, monitor, wait_ms=self.wait_ms, idle_ms=monitor.settings.idle_close_ms,
                    partitions=self.partitions)
            except (KeyError, TypeError, ValueError) as exc:
                raise CheckpointError(f"window owner of {s.get('model')}/{s.get('version')}: {exc}") from exc
        return owners


def _group_profile(monitor: ModelMonitor):
    seg = monitor.segments
    return seg.drift.profile if seg is not None and seg.drift is not None else (lambda key, group: None)

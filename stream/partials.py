"""Stage 1 of the two-stage aggregation: one partition's partial state of one window.

A :class:`Partial` is what one partition knows of one window of one model version on one side
(``predictions``: an :class:`~driftline.stream.windows.OpenWindow` and the segment groups'
:class:`~driftline.stream.segment_windows.GroupWindow`; ``labels``: a
:class:`~driftline.stream.windows.LabelWindow` and its
:class:`~driftline.stream.segment_windows.GroupLabelWindow`), with the partition's watermark
when it was taken. :func:`take_partials` takes the windows a monitor would close (its watermark
passed their end, or the model was idle) as partials instead of closing them; stage 2
(:mod:`driftline.stream.stage2`) merges every partition's partials of a window and closes it.

mergeable: :func:`merge_partials` is the merge of every piece of window state (see
:mod:`~driftline.stream.windows`, :mod:`~driftline.stream.segment_windows`): exact and
order-independent for counts, bins, sums and sketches; the reservoir samples are the one
non-exact piece (:meth:`~driftline.detectors.Reservoir.merge`). A partial's identity is
``(model, version, side, start_ms, partition)``: delivered twice, the later replaces the earlier.

Its wire form (:meth:`Partial.snapshot`) is a JSON-safe dict with ``"format": 1``; a format
this build does not know is refused (:class:`~driftline.stream.errors.CheckpointError`), never guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftline.detectors import ReferenceProfile

from .errors import CheckpointError
from .monitor import ModelMonitor
from .segment_windows import GroupLabelWindow, GroupWindow
from .windows import LabelWindow, OpenWindow

__all__ = ["PARTIAL_FORMAT", "SIDES", "Partial", "label_clock", "merge_partials", "take_partials"]

PARTIAL_FORMAT = 1
SIDES = ("predictions", "labels")


@dataclass
class Partial:
    model: str
    version: str
    side: str  # "predictions" or "labels"
    partition: int
    watermark_ms: int  # the partition's watermark of this side when the partial was taken
    window: OpenWindow | LabelWindow
    groups: GroupWindow | GroupLabelWindow | None = None

    @property
    def key(self) -> tuple[str, str, str, int]:
        return self.model, self.version, self.side, self.window.start_ms

    def snapshot(self) -> dict[str, Any]:
        return {"format": PARTIAL_FORMAT, "model": self.model, "version": self.version, "side": self.side,
                "partition": self.partition, "watermark_ms": self.watermark_ms, "window": self.window.snapshot(),
                "groups": None if self.groups is None else self.groups.snapshot()}

    @classmethod
    def restore(cls, s: Mapping[str, Any], reference: ReferenceProfile | None,
                group_profile: Callable[[str, str], ReferenceProfile | None] = lambda key, group: None) -> Partial:
        """``reference`` is the one the prediction side was binned on; ``group_profile(key, group)``
        a segment group's (``None``: its drift sketch is not carried)."""
        if s.get("format") != PARTIAL_FORMAT:
            raise CheckpointError(f"partial: format {s.get('format')!r} is not {PARTIAL_FORMAT}")
        side = str(s["side"])
        if side not in SIDES:
            raise CheckpointError(f"partial: side {side!r} is not one of {SIDES}")
        groups = s["groups"]
        if side == "predictions":
            window: OpenWindow | LabelWindow = OpenWindow.restore(s["window"], reference)
            restored = None if groups is None else GroupWindow.restore(groups, group_profile)
        else:
            window = LabelWindow.restore(s["window"])
            restored = None if groups is None else GroupLabelWindow.restore(groups)
        return cls(str(s["model"]), str(s["version"]), side, int(s["partition"]), int(s["watermark_ms"]),
                   window, restored)


def merge_partials(partials: Sequence[Partial], reference: ReferenceProfile | None,
                   group_profile: Callable[[str, str], ReferenceProfile | None] = lambda key, group: None) -> Partial:
    """The state of one window over every partition: the merge of ``partials`` (none is modified).

    The result's ``partition`` is -1 and its watermark the lowest of the partials'.
    """
    if not partials:
        raise ValueError("partials: nothing to merge")
    keys = {p.key for p in partials}
    if len(keys) != 1:
        raise ValueError(f"partials: of several windows {sorted(keys)}")
    first = partials[0]
    merged = Partial.restore({**first.snapshot(), "partition": -1}, reference, group_profile)  # a copy
    for p in partials[1:]:
        merged.window.merge(p.window)  # type: ignore[arg-type]
        if p.groups is not None:
            if merged.groups is None:
                merged.groups = GroupWindow() if p.side == "predictions" else GroupLabelWindow()
            merged.groups.merge(p.groups)  # type: ignore[arg-type]
    merged.watermark_ms = min(p.watermark_ms for p in partials)
    return merged


def label_clock(monitor: ModelMonitor) -> int:
    """When the label side last had news: the later of its last label and its last prediction."""
    return max(monitor.last_label_at_ms, monitor.last_event_at_ms)


def take_partials(monitor: ModelMonitor, partition: int, now_ms: int, label_mark: int | None = None
                  ) -> list[Partial]:
    """The windows ``monitor`` would close now, taken out of it as partials (stage 1).

    The same readiness as :meth:`ModelMonitor.close_ready` (watermark past the end, or idle),
    and the same lateness afterwards, except that the label side is idle only when no prediction
    came either (:func:`label_clock`); results are not computed here but in stage 2. With
    ``label_mark`` (labels joined through the join topic, :mod:`~driftline.stream.join_topic`) a
    label window is ready once that mark passed its end, and only then.
    """
    m = monitor
    out = []
    for start in m._ready(m.windows, m.watermark_ms, m.last_event_at_ms, now_ms):
        window = m.windows.pop(start)
        m.closed_through_ms = m._closed_through(m.closed_through_ms, window.end_ms, m.high)
        groups = m.segments.windows.pop(start, None) if m.segments is not None else None
        out.append(Partial(m.model, m.version, "predictions", partition, m.watermark_ms, window, groups))
    predictions_idle = now_ms - m.last_event_at_ms >= m.settings.idle_close_ms
    # Labels follow predictions: the label side is idle only once neither came for idle_close (a
    # partition restored after a restart has its prediction clock restarted, and its labels wait in Kafka).
    if label_mark is not None:  # the join partition's own prediction windows are not these labels'
        ready = m._ready(m.label_windows, label_mark, now_ms, now_ms)
    else:
        ready = [start for start in m._ready(m.label_windows, m.label_watermark_ms, label_clock(m), now_ms)
                 if start not in m.windows and (predictions_idle or m.closed_through_ms >= m.label_windows[start].end_ms)]
    for start in ready:
        window = m.label_windows.pop(start)
        m.labels_closed_through_ms = m._closed_through(m.labels_closed_through_ms, window.end_ms, m.label_high)
        groups = m.segments.label_windows.pop(start, None) if m.segments is not None else None
        out.append(Partial(m.model, m.version, "labels", partition, m.label_watermark_ms, window, groups))
    return out

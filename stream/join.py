"""Label join: feedback meets its prediction by ``event_id``, in either order.

State is two insertion-ordered maps (pending predictions, pending feedback),
each capped at ``max_pending`` entries and expired ``max_delay_ms`` of event
time after the entry's timestamp. The join lives inside a partition's state; its
checkpoint holds only its counters: the pending entries are read back from the
event tables on restore (:mod:`driftline.sinks.join_state`), which keeps
checkpoints small however many labels wait.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["JoinedLabel", "LabelJoin"]


@dataclass(frozen=True, slots=True)
class JoinedLabel:
    model: str
    version: str
    event_id: str
    prediction: object
    score: float | None
    label: object
    prediction_ts_ms: int
    label_ts_ms: int
    tag: tuple[str, str] | None = None  # (variant, request_id) of the prediction, for experiments
    segments: tuple | None = None  # the prediction's segment groups (models with ``segments:``)

    @property
    def ts_ms(self) -> int:
        """Event time of the join: the later of the two events."""
        return max(self.prediction_ts_ms, self.label_ts_ms)


class LabelJoin:
    """Bounded two-sided join.

    >>> join = LabelJoin(max_delay_ms=60_000, max_pending=10)
    >>> join.add_feedback("e1", "m", "1", 1_000)   # label first
    []
    >>> [j.label for j in join.add_prediction("e1", "m", "v1", "1", 0.9, 500)]
    ['1']
    >>> join.pending
    (0, 0)
    >>> LabelJoin.restore(join.snapshot(), max_delay_ms=60_000, max_pending=10).snapshot() == join.snapshot()
    True
    """

    def __init__(self, *, max_delay_ms: int, max_pending: int) -> None:
        if max_delay_ms <= 0:
            raise ValueError(f"max_delay_ms must be > 0, got {max_delay_ms}")
        if max_pending <= 0:
            raise ValueError(f"max_pending must be > 0, got {max_pending}")
        self.max_delay_ms = max_delay_ms
        self.max_pending = max_pending
        # event_id -> (model, version, prediction, score, ts_ms, tag, segment groups or None)
        self._predictions: OrderedDict[str, tuple] = OrderedDict()
        # event_id -> (model, label, ts_ms)
        self._feedback: OrderedDict[str, tuple] = OrderedDict()
        self.expired_predictions = 0
        self.expired_feedback = 0
        self.evicted = 0

    # -- checkpoints -----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The counters; the pending entries are not included (see :meth:`load_pending`)."""
        return {"expired_predictions": self.expired_predictions, "expired_feedback": self.expired_feedback,
                "evicted": self.evicted}

    @classmethod
    def restore(cls, snapshot: Mapping[str, Any], *, max_delay_ms: int, max_pending: int) -> LabelJoin:
        """An empty join with the current limits and the snapshot's counters."""
        join = cls(max_delay_ms=max_delay_ms, max_pending=max_pending)
        join.expired_predictions = int(snapshot["expired_predictions"])
        join.expired_feedback = int(snapshot["expired_feedback"])
        join.evicted = int(snapshot["evicted"])
        return join

    def load_pending(self, predictions, feedback) -> None:
        """Refill the maps with ``(event_id, model, version, prediction, score, ts_ms[, variant,
        request_id[, segment groups]])`` and ``(event_id, model, label, ts_ms)`` rows, oldest first."""
        for event_id, model, version, prediction, score, ts, *rest in predictions:
            tag = tuple(rest[:2]) if any(rest[:2]) else None
            groups = rest[2] if len(rest) > 2 else None
            self._predictions[event_id] = (model, version, prediction, score, ts, tag, groups)
        for event_id, model, label, ts in feedback:
            self._feedback[event_id] = (model, label, ts)
        self._bound(self._predictions)
        self._bound(self._feedback)

    def pending_rows(self) -> tuple[list[tuple], list[tuple]]:
        """The pending entries in the row format of :meth:`load_pending`."""
        predictions = []
        for k, (model, version, prediction, score, ts, tag, groups) in self._predictions.items():
            row = (k, model, version, prediction, score, ts)
            if groups is not None:
                row += (*(tag or ("", "")), groups)
            elif tag is not None:
                row += tag
            predictions.append(row)
        return predictions, [(k, *v) for k, v in self._feedback.items()]

    @property
    def pending(self) -> tuple[int, int]:
        return len(self._predictions), len(self._feedback)

    def add_prediction(self, event_id, model, version, prediction, score, ts_ms, tag=None,
                       segments=None) -> list[JoinedLabel]:
        waiting = self._feedback.pop(event_id, None)
        if waiting is not None and waiting[0] == model:
            return [JoinedLabel(model, version, event_id, prediction, score, waiting[1], ts_ms, waiting[2], tag,
                                segments)]
        if waiting is not None:  # same id, other model: not a match, keep waiting
            self._feedback[event_id] = waiting
        self._predictions[event_id] = (model, version, prediction, score, ts_ms, tag, segments)
        self._bound(self._predictions)
        return []

    def add_predictions(self, events, ts_ms, model: str, version: str, tags=None, segments=None) -> list[JoinedLabel]:
        """Batch form of :meth:`add_prediction` for events of one model/version (``tags``: one per event;
        ``segments``: each event's segment groups, or None)."""
        feedback = self._feedback
        pending = self._predictions
        tags = [None] * len(events) if tags is None else tags
        groups = segments if segments is not None else [None] * len(events)
        if not feedback:  # the common case: labels come later; skip the per-event lookups
            for event, ts, tag, g in zip(events, ts_ms, tags, groups, strict=True):
                pending[event.event_id] = (model, version, event.prediction, event.score, ts, tag, g)
            self._bound(pending)
            return []
        joined: list[JoinedLabel] = []
        take = feedback.pop
        for event, ts, tag, g in zip(events, ts_ms, tags, groups, strict=True):
            event_id = event.event_id
            waiting = take(event_id, None)
            if waiting is None:
                pending[event_id] = (model, version, event.prediction, event.score, ts, tag, g)
            elif waiting[0] == model:
                joined.append(JoinedLabel(model, version, event_id, event.prediction, event.score,
                                          waiting[1], ts, waiting[2], tag, g))
            else:  # same id, other model: not a match, both keep waiting
                feedback[event_id] = waiting
                pending[event_id] = (model, version, event.prediction, event.score, ts, tag, g)
        self._bound(pending)
        return joined

    def add_feedback(self, event_id, model, label, ts_ms) -> list[JoinedLabel]:
        waiting = self._predictions.get(event_id)
        if waiting is not None and waiting[0] == model:
            del self._predictions[event_id]
            m, version, prediction, score, pred_ts, tag, groups = waiting
            return [JoinedLabel(m, version, event_id, prediction, score, label, pred_ts, ts_ms, tag, groups)]
        self._feedback[event_id] = (model, label, ts_ms)
        self._bound(self._feedback)
        return []

    def expire(self, watermark_ms: int) -> None:
        """Drop entries older than ``watermark_ms - max_delay_ms`` (event time)."""
        horizon = watermark_ms - self.max_delay_ms
        self.expired_predictions += _expire(self._predictions, horizon, ts_index=4)
        self.expired_feedback += _expire(self._feedback, horizon, ts_index=2)

    def _bound(self, pending: OrderedDict) -> None:
        while len(pending) > self.max_pending:
            pending.popitem(last=False)
            self.evicted += 1


def _expire(pending: OrderedDict, horizon: int, ts_index: int) -> int:
    # Insertion order is close to event-time order; stop at the first young entry
    # so that expiry costs O(expired), not O(pending).
    dropped = 0
    while pending:
        key, value = next(iter(pending.items()))
        if value[ts_index] >= horizon:
            break
        del pending[key]
        dropped += 1
    return dropped

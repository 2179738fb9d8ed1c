"""Label join: feedback meets its prediction by ``(model, event_id)``, in either order.

State is two compact tables of pending entries (:class:`~driftline.stream.pending.PendingTable`):
predictions waiting for their label, labels waiting for their prediction. An entry keeps a
128-bit hash of its model and event id, never the id itself: the event that completes the
pair carries the id. Per entry that is about 60 bytes (prediction: hash, time, insertion
number, model/version code, the prediction as a number or a small code, score); the previous
dicts of tuples took about 500. Each side is capped at ``max_pending`` entries (the oldest
added are evicted) and an entry expires ``max_delay_ms`` of event time after its timestamp.

Values keep their type: a float, an int (exact up to 2^53), a bool, or a string (or any
other value), kept once in a small per-join table. A prediction or label sent again while it
is pending replaces the pending one (its values and its age). What a few models need beside
(an experiment's ``(variant, request_id)`` tag, a segment model's groups) waits in a side map
keyed by a per-entry code. The side map and the value table are rebuilt from the live entries
when they grow past a few times the pending count, so neither outgrows the cap whatever
producers send (unique string labels, replaced entries).

The join lives inside a partition's state; its checkpoint holds only its counters: the
pending entries are read back from the event tables on restore (:mod:`driftline.sinks.join_state`;
under two stages they are in the checkpoint, :mod:`~driftline.stream.join_topic`).
Mergeable: no (a partition's join is partition-local); under two-stage aggregation both sides
reach the join of one partition through the join topic (:mod:`~driftline.stream.join_topic`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .join_extras import JoinExtras
from .join_values import VALUE_COLUMNS, Codes, ValueCodes, optional_scores, scores_column
from .pending import PendingTable, event_keys, first_only

__all__ = ["JoinedLabel", "LabelJoin", "PendingId"]



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


@dataclass(frozen=True, slots=True)
class PendingId:
    """A pending entry's key in place of its event id (:meth:`LabelJoin.pending_rows`); valid in this process."""

    k1: int
    k2: int


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
        self._predictions = PendingTable({"mv": np.int32, "score": np.float64, "extra": np.int64, **VALUE_COLUMNS})
        self._feedback = PendingTable({"model": np.int32, **VALUE_COLUMNS})
        self._models = Codes()  # model name (keys and feedback rows)
        self._versions = Codes()  # (model, version) of pending predictions
        self._values = ValueCodes()  # predictions and labels
        self._extras = JoinExtras()  # (tag, segment groups) of the predictions that have them
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
        """Refill the tables with ``(event_id, model, version, prediction, score, ts_ms[, variant,
        request_id[, segment groups]])`` and ``(event_id, model, label, ts_ms)`` rows, oldest first (an
        id may be a :class:`PendingId`)."""
        predictions, feedback = list(predictions), list(feedback)
        if predictions:
            ids, models, versions, values, scores, ts = zip(*(row[:6] for row in predictions), strict=True)
            tags = [tuple(row[6:8]) if any(row[6:8]) else None for row in predictions]
            groups = [row[8] if len(row) > 8 else None for row in predictions]
            k1, k2 = self._keys(ids, models)
            mv = self._versions.codes(list(zip(models, versions, strict=True)))
            self._predictions.add(k1, k2, np.array(ts, np.int64), {
                "mv": mv, "score": scores_column(scores), "extra": self._extras.codes(tags, groups),
                **self._values.encode(values)})
        if feedback:
            ids, models, labels, ts = zip(*feedback, strict=True)
            model_codes = self._models.codes(models)
            k1, k2 = self._keys(ids, models)
            self._feedback.add(k1, k2, np.array(ts, np.int64), {"model": model_codes, **self._values.encode(labels)})
        self._bound()

    def pending_rows(self) -> tuple[list[tuple], list[tuple]]:
        """The pending entries in the row format of :meth:`load_pending`, oldest first, with a
        :class:`PendingId` in place of the event id (the tables hold the ids)."""
        p, f = self._predictions.rows_in_order(), self._feedback.rows_in_order()
        versions, models = self._versions.values, self._models.values
        predictions = []
        for a, b, mv, value, score, t, x in zip(p["k1"], p["k2"], p["mv"], self._values.decode(p),
                                                optional_scores(p["score"]), p["ts"], p["extra"].tolist(), strict=True):
            row = (PendingId(int(a), int(b)), *versions[mv], value, score, int(t))
            tag, groups = self._extras.get(x)
            if groups is not None:
                row += (*(tag or ("", "")), groups)
            elif tag is not None:
                row += tag
            predictions.append(row)
        feedback = [(PendingId(int(a), int(b)), models[m], value, int(t))
                    for a, b, m, value, t in zip(f["k1"], f["k2"], f["model"], self._values.decode(f), f["ts"], strict=True)]
        return predictions, feedback

    @property
    def pending(self) -> tuple[int, int]:
        return self._predictions.alive, self._feedback.alive

    @property
    def nbytes(self) -> int:
        """Bytes the pending entries' columns hold (the small value tables aside)."""
        return self._predictions.nbytes + self._feedback.nbytes

    # -- the join ---------------------------------------------------------------------------------
    def add_prediction(self, event_id, model, version, prediction, score, ts_ms, tag=None,
                       segments=None) -> list[JoinedLabel]:
        event = _Event(event_id, prediction, score)
        return self.add_predictions([event], [ts_ms], model, version, None if tag is None else [tag],
                                    None if segments is None else [segments])

    def add_predictions(self, events, ts_ms, model: str, version: str, tags=None, segments=None,
                        keys=None) -> list[JoinedLabel]:
        """Predictions of one model/version, in arrival order; returns the labels they complete
        (``tags``: each event's ``(variant, request_id)`` or None; ``segments``: each event's groups or None;
        ``keys``: the events' ``(k1, k2)`` when the caller hashed them, see :mod:`~driftline.stream.join_topic`)."""
        n = len(events)
        if not n:
            return []
        k1, k2 = keys if keys is not None else event_keys([e.event_id for e in events], model)
        ts = np.asarray(ts_ms, dtype=np.int64)
        joined: list[JoinedLabel] = []
        waiting = None
        if self._feedback.alive:
            rows = first_only(self._feedback.find(k1, k2), k1, k2)
            waiting = rows >= 0
            if waiting.any():
                labels = self._feedback.take(rows[waiting])
                for i, label, label_ts in zip(np.flatnonzero(waiting).tolist(), self._values.decode(labels),
                                              labels["ts"].tolist(), strict=True):
                    e = events[i]
                    joined.append(JoinedLabel(model, version, e.event_id, e.prediction, e.score, label,
                                              int(ts[i]), label_ts, tags[i] if tags else None,
                                              segments[i] if segments else None))
            else:
                waiting = None
        if waiting is None:
            kept_events, kept, kept_idx = events, slice(None), range(n)
        else:
            kept = np.flatnonzero(~waiting)
            kept_idx = kept.tolist()
            kept_events = [events[i] for i in kept_idx]
        mv = np.full(len(kept_events), self._versions.code((model, version)), dtype=np.int32)
        if tags is None and segments is None:
            extra = np.full(len(kept_events), -1, dtype=np.int64)
        else:
            extra = self._extras.codes([tags[i] if tags else None for i in kept_idx],
                                      [segments[i] if segments else None for i in kept_idx])
        self._predictions.add(k1[kept], k2[kept], ts[kept], {
            "mv": mv, "score": scores_column([e.score for e in kept_events]), "extra": extra,
            **self._values.encode([e.prediction for e in kept_events])})
        self._bound()
        return joined

    def add_feedback(self, event_id, model, label, ts_ms) -> list[JoinedLabel]:
        return self.add_feedbacks([_Feedback(event_id, model, label)], [ts_ms])

    def add_feedbacks(self, events, ts_ms, keys=None) -> list[JoinedLabel]:
        """Labels in arrival order (any models); returns the joins they complete, in that order."""
        n = len(events)
        if not n:
            return []
        models = [e.model for e in events]
        model_codes = self._models.codes(models)
        k1, k2 = keys if keys is not None else event_keys([e.event_id for e in events], models)
        ts = np.asarray(ts_ms, dtype=np.int64)
        joined: list[JoinedLabel] = []
        matched = np.zeros(n, dtype=bool)
        if self._predictions.alive:
            found = first_only(self._predictions.find(k1, k2), k1, k2)
            matched = found >= 0
            if matched.any():
                rows = self._predictions.take(found[matched])
                versions = self._versions.values
                extras = self._extras
                for i, mv, prediction, score, pred_ts, x in zip(
                        np.flatnonzero(matched).tolist(), rows["mv"].tolist(), self._values.decode(rows),
                        optional_scores(rows["score"]), rows["ts"].tolist(), rows["extra"].tolist(), strict=True):
                    e = events[i]
                    m, version = versions[mv]
                    tag, groups = extras.pop(x)
                    joined.append(JoinedLabel(m, version, e.event_id, prediction, score, e.label, pred_ts, int(ts[i]),
                                              tag, groups))
        rest = np.flatnonzero(~matched) if matched.any() else slice(None)
        if not matched.all():
            labels = [e.label for e in events] if isinstance(rest, slice) else [events[i].label for i in rest.tolist()]
            self._feedback.add(k1[rest], k2[rest], ts[rest], {"model": model_codes[rest], **self._values.encode(labels)})
            self._bound()
        return joined

    def expire(self, watermark_ms: int) -> None:
        """Drop entries older than ``watermark_ms - max_delay_ms`` (event time)."""
        horizon = watermark_ms - self.max_delay_ms
        self.expired_predictions += self._predictions.expire(horizon)
        self.expired_feedback += self._feedback.expire(horizon)
        self._prune()

    # -- values -----------------------------------------------------------------------------------
    def _bound(self) -> None:
        self.evicted += self._predictions.evict_oldest(self.max_pending)
        self.evicted += self._feedback.evict_oldest(self.max_pending)
        self._prune()

    def _prune(self) -> None:
        """Rebuild the side map and the value table from the live entries once they outgrow them
        (entries that expired, were evicted or replaced leave their extras and values behind)."""
        slack = 4 * (self._predictions.alive + self._feedback.alive) + 4096
        if len(self._extras) > slack:
            self._extras.keep_only(self._predictions.rows_in_order()["extra"].tolist())
        if len(self._values.values) > slack:
            values = self._values
            self._values = ValueCodes()
            for table in (self._predictions, self._feedback):
                obj = table.cols["obj"][:table.rows]
                used = np.flatnonzero(table.cols["alive"][:table.rows] & (obj >= 0))
                obj[used] = self._values.codes([values.values[c] for c in obj[used].tolist()])
    def _keys(self, ids: Sequence, models: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Keys of ids that may already be :class:`PendingId` s (rows of :meth:`pending_rows`)."""
        if not any(type(i) is PendingId for i in ids):
            return event_keys(list(ids), list(models))
        k1, k2 = event_keys(["" if type(i) is PendingId else i for i in ids], list(models))
        for n, i in enumerate(ids):
            if type(i) is PendingId:
                k1[n], k2[n] = i.k1, i.k2
        return k1, k2


@dataclass(frozen=True, slots=True)
class _Event:
    event_id: str
    prediction: object
    score: float | None


@dataclass(frozen=True, slots=True)
class _Feedback:
    event_id: str
    model: str
    label: object

"""The label join across partitions (two-stage aggregation): both sides re-keyed by event id.

Under ``worker.aggregation: two_stage`` a prediction and its label may land on any partitions.
Stage 1 does not join them where they arrive: each prediction's compact *join record* (a 128-bit
hash of model and event id, the monitored version, prediction, score, event time, segment groups)
and each label's record go to the join partition ``hash % P`` of the join topic
(``kafka.topics.join``, as many partitions as the input topics); the worker of that partition runs
the lean :class:`~driftline.stream.join.LabelJoin` there (either order, bounded, expiry, caps) and
counts the joined labels in its monitors' label windows, which become its label-side partials. The
feedback rows are stored by the partition the label arrived on, as before.

One message per (source partition, join partition) and batch, its records as fixed-width binary
rows (key hash, source offset, event time, value, score, version and segment groups as codes into a
small per-message table; format and layout: :mod:`~driftline.stream.join_wire`) and the source's
marks, keyed so that librdkafka's default partitioner (CRC32 of the key) sends it to its join
partition (:func:`routing_key`).

* **Completeness** (the label *mark* of a join partition): a label joined at *j* has the join time
  ``max(prediction time, label time)``, so no record still to come from source *s* can land in a
  window ending at or before ``min(s's prediction watermark, s's label watermark)`` of the model
  (each idle after ``idle_close`` without an event, as :mod:`~driftline.stream.two_stage` marks a
  side). Every source relays that mark (:meth:`JoinRelay.mark`) to every join partition whenever
  it moves, after the records of its batch (it holds for what follows it); *j* closes a label window only once the lowest mark of all
  ``P`` sources passed its end (:meth:`JoinInbox.label_mark`), and reports that mark to stage 2.
  A source not heard from holds every window (a dead worker is not an idle one); stage 2's
  bounded wait bounds what it costs.
* **Duplicates** (at least once: a source replaying after kill -9): a record carries its source
  offset; *j* drops a record at or below the highest offset it took from that source and side
  (:attr:`JoinInbox.taken`), which the join partition checkpoints with its state. Records of one
  source message travel in one message, so a message is taken whole or not at all; the producer is
  idempotent under two stages, so a retried message never overtakes a later one.
* **Restart**: the join partition's pending entries are part of its checkpoint
  (:func:`pending_snapshot`), their keys being stable hashes; the partition resumes from the
  join topic's checkpointed offset. Cost: about 70 bytes of checkpoint per pending entry, at most
  ``join.max_pending`` per side.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from driftline.settings import ModelSettings

from .join import LabelJoin, PendingId
from .watermark import HighMark

__all__ = ["IDLE", "NEVER", "JoinInbox", "JoinRelay", "join_keys", "pending_restore",
           "pending_snapshot", "routing_key"]

IDLE = 2**62  # a source with no event of the model for idle_close: past every window end
NEVER = -(2**62)  # not heard from: holds every window

_ROUTING: dict[tuple[int, int], bytes] = {}


def join_keys(event_ids: Sequence[str], models: Sequence[str] | str) -> tuple[np.ndarray, np.ndarray]:
    """Stable 128-bit keys of (model, event id), as two int64 columns: the same in every process."""
    # BLAKE2b of "model\x1f" once per model, copied per id: the same digest, 2.4x faster than hashing anew.
    if isinstance(models, str):
        copy = _prefix(models).copy
        digests = []
        for e in event_ids:
            h = copy()
            h.update(e.encode())
            digests.append(h.digest())
    else:
        prefixes: dict[str, Any] = {}
        digests = []
        for m, e in zip(models, event_ids, strict=True):
            h0 = prefixes.get(m)
            if h0 is None:
                h0 = prefixes[m] = _prefix(m)
            h = h0.copy()
            h.update(e.encode())
            digests.append(h.digest())
    raw = b"".join(digests)
    keys = np.frombuffer(raw, dtype=np.int64).reshape(-1, 2) if raw else np.empty((0, 2), np.int64)
    return keys[:, 0].copy(), keys[:, 1].copy()


def _prefix(model: str):
    return hashlib.blake2b(f"{model}\x1f".encode(), digest_size=16)


def join_partitions(k1: np.ndarray, partitions: int) -> np.ndarray:
    return (k1.view(np.uint64) % np.uint64(partitions)).astype(np.int64)


def routing_key(partition: int, partitions: int) -> bytes:
    """A message key librdkafka's default partitioner (CRC32 of the key, modulo the partition count)
    sends to ``partition``. Another partitioner still sends every record of a join partition to one
    partition (the key depends on it alone), so both sides of an event still meet."""
    key = _ROUTING.get((partition, partitions))
    if key is None:
        n = 0
        while zlib.crc32(f"join-{partition}-{n}".encode()) % partitions != partition:
            n += 1
        key = _ROUTING[(partition, partitions)] = f"join-{partition}-{n}".encode()
    return key


def side_mark(watermark_ms: int, last_at_ms: int, now_ms: int, idle_ms: int) -> int:
    return IDLE if now_ms - last_at_ms >= idle_ms else watermark_ms


class JoinRelay:
    """The source side of one partition: its labels' watermark per model, and the marks it relays."""

    def __init__(self, started_at_ms: int = 0) -> None:
        self.started_at_ms = started_at_ms  # the model-less clock: restarted with the idle clocks
        self.labels: dict[str, HighMark] = {}  # model -> high mark of its labels' event times
        self.label_at_ms: dict[str, int] = {}  # model -> processing time of its last label here
        self.sent: dict[tuple[int, str], int] = {}  # (join partition, model) -> last mark sent (not saved)

    def restart(self, now_ms: int) -> None:
        """Time the worker did not read is not idleness (see ``Partitions.restart_idle_clocks``)."""
        self.started_at_ms = max(self.started_at_ms, now_ms)
        for model, at in self.label_at_ms.items():
            self.label_at_ms[model] = max(at, now_ms)

    def saw_labels(self, model: str, ts_ms: np.ndarray, now_ms: int) -> None:
        self.labels.setdefault(model, HighMark()).update(ts_ms)
        self.label_at_ms[model] = now_ms

    def mark(self, settings: ModelSettings, monitors: Sequence[Any], now_ms: int) -> int:
        """No record still to come from here completes a join before this time (window-aligned)."""
        idle = settings.idle_close_ms
        predictions = min((side_mark(m.watermark_ms, m.last_event_at_ms, now_ms, idle) for m in monitors),
                          default=side_mark(NEVER, self.started_at_ms, now_ms, idle))
        high = self.labels.get(settings.name)
        watermark = NEVER if high is None or high.value is None else high.value - settings.allowed_lateness_ms
        mark = min(predictions, side_mark(watermark, max(self.label_at_ms.get(settings.name, 0),
                                                         self.started_at_ms), now_ms, idle))
        return mark if mark in (IDLE, NEVER) else mark - mark % settings.window_ms

    def snapshot(self) -> dict[str, Any]:
        return {"started_at_ms": self.started_at_ms, "label_at_ms": dict(self.label_at_ms),
                "labels": {model: high.snapshot() for model, high in self.labels.items()}}

    @classmethod
    def restore(cls, s: Mapping[str, Any]) -> JoinRelay:
        relay = cls(int(s["started_at_ms"]))
        relay.label_at_ms = {str(m): int(t) for m, t in s["label_at_ms"].items()}
        relay.labels = {str(m): HighMark.restore(times) for m, times in s["labels"].items()}
        return relay


class JoinInbox:
    """The join side of one partition: what it took from each source, and each source's marks."""

    def __init__(self) -> None:
        self.taken: dict[tuple[int, str], int] = {}  # (source, "p"/"l") -> highest source offset taken
        self.marks: dict[str, dict[int, int]] = {}  # model -> source -> its latest mark

    def label_mark(self, model: str, partitions: int) -> int:
        marks = self.marks.get(model, {})
        return min((marks.get(s, NEVER) for s in range(max(partitions, len(marks)))), default=NEVER)

    def fresh(self, source: int, side: str, offsets: np.ndarray) -> np.ndarray:
        """Which records, by their source offsets, were not taken before (a replayed source sends them
        again); takes them."""
        last = self.taken.get((source, side), -1)
        fresh = offsets > last
        if fresh.any():
            self.taken[(source, side)] = max(last, int(offsets[fresh].max()))
        return fresh

    def snapshot(self) -> dict[str, Any]:
        return {"taken": [[s, side, o] for (s, side), o in self.taken.items()],
                "marks": {m: [[s, w] for s, w in marks.items()] for m, marks in self.marks.items()}}

    @classmethod
    def restore(cls, s: Mapping[str, Any]) -> JoinInbox:
        inbox = cls()
        inbox.taken = {(int(src), str(side)): int(o) for src, side, o in s["taken"]}
        inbox.marks = {str(m): {int(src): int(w) for src, w in marks} for m, marks in s["marks"].items()}
        return inbox


class Record(NamedTuple):
    """A join record as the lean join takes it (the event id travels as its hash only)."""

    prediction: object = None
    score: float | None = None
    model: str = ""
    label: object = None
    event_id: str = ""


def pending_snapshot(join: LabelJoin) -> dict[str, Any]:
    """The join's pending entries, JSON-safe: ``[k1, k2, model, version, prediction, score, ts, groups]``
    and ``[k1, k2, model, label, ts]`` rows, oldest first (plus the counters)."""
    predictions, feedback = join.pending_rows()
    return {**join.snapshot(),
            "predictions": [[r[0].k1, r[0].k2, *r[1:6], r[8] if len(r) > 8 else None] for r in predictions],
            "feedback": [[r[0].k1, r[0].k2, *r[1:]] for r in feedback]}


def pending_restore(s: Mapping[str, Any], *, max_delay_ms: int, max_pending: int) -> LabelJoin:
    join = LabelJoin.restore(s, max_delay_ms=max_delay_ms, max_pending=max_pending)
    join.load_pending(
        [(PendingId(int(k1), int(k2)), model, version, value, score, int(ts), "", "",
          None if groups is None else tuple(groups))
         for k1, k2, model, version, value, score, ts, groups in s["predictions"]],
        [(PendingId(int(k1), int(k2)), model, label, int(ts)) for k1, k2, model, label, ts in s["feedback"]])
    return join

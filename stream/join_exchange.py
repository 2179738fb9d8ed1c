"""Sending join records to the join topic and joining them there (two-stage aggregation).

The rules (routing, marks, duplicates, restart) are :mod:`~driftline.stream.join_topic`'s; this is
the processor's side of them: :meth:`JoinExchange.predictions` and :meth:`JoinExchange.feedback`
turn a partition's events into records (stage 1, in :meth:`Processor.process`),
:meth:`JoinExchange.relay` adds each source's marks after them (in :meth:`Processor.close_windows`),
and :meth:`JoinExchange.receive` joins a join partition's records and counts the joined labels in
its monitors' label windows.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from itertools import repeat

import numpy as np
from driftline.settings import ModelSettings

from .events import DeadLetter
from .join_topic import Record, join_keys, join_partitions, routing_key
from .join_wire import (
    JoinBatch,
    JoinMessage,
    decode,
    label_rows,
    optional_scores,
    prediction_rows,
    values,
)
from .monitor import ModelMonitor
from .partition import BatchOutput, PartitionState

__all__ = ["JoinExchange"]

log = logging.getLogger("driftline.join")


class JoinExchange:
    """``partitions()`` is the input topics' partition count (the join topic has as many);
    ``monitor(state, model, version, now_ms)`` the monitor a joined label of that version counts in."""

    def __init__(self, models: Mapping[str, ModelSettings], partitions: Callable[[], int],
                 monitor: Callable[[PartitionState, str, str, int], ModelMonitor]) -> None:
        self.models = models
        self.partitions = partitions
        self.monitor = monitor
        self.misrouted = 0  # messages whose records belong to another join partition (see receive)
        self.refused = 0  # messages of another format, or malformed: dead-lettered

    # -- stage 1: send -----------------------------------------------------------------------------
    def predictions(self, state: PartitionState, events: Sequence, ts: Sequence[int], origins: Sequence,
                    model: str, version: str, groups: Sequence | None, out: BatchOutput) -> None:
        k1, k2 = join_keys([e.event_id for e in events], model)
        rows = prediction_rows(k1, k2, ts, [o[1] for o in origins], [e.prediction for e in events],
                               [e.score for e in events])
        for j, take in _by_partition(join_partitions(k1, self.partitions())):
            _batch(out, state.partition, j).add_predictions(rows, take, model, version, groups)

    def feedback(self, state: PartitionState, events: Sequence, ts: Sequence[int], origins: Sequence,
                 now_ms: int, out: BatchOutput) -> None:
        models = [e.model for e in events]
        one = models[0] if models and models.count(models[0]) == len(models) else None  # the usual batch
        if one is not None:
            state.relay.saw_labels(one, np.asarray(ts, dtype=np.int64), now_ms)
        else:
            times: dict[str, list[int]] = defaultdict(list)
            for model, t in zip(models, ts, strict=True):
                times[model].append(t)
            for model, model_ts in times.items():
                state.relay.saw_labels(model, np.array(model_ts, dtype=np.int64), now_ms)
        k1, k2 = join_keys([e.event_id for e in events], one if one is not None else models)
        rows = label_rows(k1, k2, ts, [o[1] for o in origins], [e.label for e in events])
        for j, take in _by_partition(join_partitions(k1, self.partitions())):
            _batch(out, state.partition, j).add_labels(rows, take, one if one is not None else models)

    def relay(self, state: PartitionState, now_ms: int, out: BatchOutput) -> None:
        """Each model's mark of this source, to every join partition, when it moved (after this batch's
        records: a mark holds for the records that follow it, so an unchanged one is not sent again)."""
        by_model: dict[str, list[ModelMonitor]] = defaultdict(list)
        for (model, _), monitor in state.monitors.items():
            by_model[model].append(monitor)
        marks = {name: state.relay.mark(settings, by_model.get(name, ()), now_ms)
                 for name, settings in self.models.items()}
        sent = state.relay.sent
        for j in range(self.partitions()):
            moved = {m: w for m, w in marks.items() if sent.get((j, m)) != w}
            if moved:
                _batch(out, state.partition, j).marks = moved
                for m, w in moved.items():
                    sent[(j, m)] = w

    def messages(self, out: BatchOutput) -> list[tuple[bytes, bytes]]:
        """``(key, value)`` of each (source, join partition) message of the batch (:mod:`~driftline.stream.join_wire`)."""
        partitions = self.partitions()
        return [(routing_key(j, partitions), batch.encode(source)) for (source, j), batch in out.join.items()]

    # -- a join partition: receive -------------------------------------------------------------------
    def receive(self, state: PartitionState, messages: Sequence[tuple], topic: str, now_ms: int,
                out: BatchOutput | None = None) -> None:
        """``messages``: ``(partition, offset, value, broker timestamp or message)`` tuples of the join topic, of
        this partition. A message of another format, or malformed, is dead-lettered (to ``out``) and skipped."""
        for message in messages:
            try:
                doc = decode(message[2])
            except ValueError as exc:
                self._refused(message, topic, str(exc), out)
                continue
            inbox, source, p, lab = state.inbox, doc.source, doc.predictions, doc.labels
            first = p["k1"][:1] if len(p) else lab["k1"][:1]
            if len(first) and join_partitions(first, self.partitions())[0] != state.partition:
                self._misrouted(state.partition)
            self._predictions(state, doc, p[inbox.fresh(source, "p", p["offset"])], now_ms)
            self._labels(state, doc, lab[inbox.fresh(source, "l", lab["offset"])], now_ms)
            for model, mark in doc.marks.items():
                inbox.marks.setdefault(model, {})[source] = mark
        if messages:
            state.offsets[topic] = messages[-1][1] + 1

    def _refused(self, message: tuple, topic: str, why: str, out: BatchOutput | None) -> None:
        self.refused += 1
        log.warning("join topic partition %d offset %d dead-lettered: %s", message[0], message[1], why)
        if out is not None:
            ts = message[3] if type(message[3]) is int else 0 if message[3] is None else message[3].timestamp()[1]
            out.dead.append(DeadLetter(topic, message[0], message[1], "schema", why, message[2], max(ts, 0)))

    def _misrouted(self, partition: int) -> None:
        """Still joined correctly (every record of a join partition travels alike), but a partition that
        gets no join message holds its label windows until stage 2's bounded wait: say so, once."""
        if not self.misrouted:
            log.warning("join records of another join partition arrive on partition %d: the producer's "
                        "partitioner is not librdkafka's default (CRC32 of the key); labels still join, but a "
                        "join partition that receives nothing holds its label windows until "
                        "worker.aggregation_wait", partition)
        self.misrouted += 1

    def _predictions(self, state: PartitionState, doc: JoinMessage, rows: np.ndarray, now_ms: int) -> None:
        codes = rows["mv"]
        found, first = np.unique(codes, return_index=True)
        for mv in found[np.argsort(first)].tolist():  # versions in order of arrival
            model, version = doc.mv[mv]
            if model not in self.models:
                continue
            mine = rows[codes == mv] if len(found) > 1 else rows
            monitor = self.monitor(state, model, version, now_ms)  # this partition reports the version's labels
            g = mine["groups"]
            segments = [None if c < 0 else doc.groups[c] for c in g.tolist()] if (g >= 0).any() else None
            events = list(map(Record, values(mine, doc.values), optional_scores(mine["score"])))
            joined = state.join.add_predictions(events, mine["ts"], model, monitor.version, None, segments,
                                                keys=_keys(mine))
            monitor.add_labels(joined, now_ms)

    def _labels(self, state: PartitionState, doc: JoinMessage, rows: np.ndarray, now_ms: int) -> None:
        known = [c for c, m in enumerate(doc.models) if m in self.models]
        if len(known) < len(doc.models):
            rows = rows[np.isin(rows["model"], known)]
        if not len(rows):
            return
        n = len(rows)
        models = [doc.models[0]] * n if len(doc.models) == 1 else [doc.models[c] for c in rows["model"].tolist()]
        records = list(map(Record, repeat(None, n), repeat(None, n), models, values(rows, doc.values)))
        by_version: dict[tuple[str, str], list] = defaultdict(list)
        for j in state.join.add_feedbacks(records, rows["ts"], keys=_keys(rows)):
            by_version[(j.model, j.version)].append(j)
        for (model, version), joined in by_version.items():
            self.monitor(state, model, version, now_ms).add_labels(joined, now_ms)


def _by_partition(to: np.ndarray):
    """``(join partition, rows)`` of each partition some rows go to, rows in order."""
    order = np.argsort(to, kind="stable")
    parts, starts = np.unique(to[order], return_index=True)
    return zip(parts.tolist(), np.split(order, starts[1:]), strict=True)


def _batch(out: BatchOutput, source: int, j: int) -> JoinBatch:
    batch = out.join.get((source, j))
    if batch is None:
        batch = out.join[(source, j)] = JoinBatch()
    return batch


def _keys(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.ascontiguousarray(rows["k1"]), np.ascontiguousarray(rows["k2"])

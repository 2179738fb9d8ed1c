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
from typing import Any

import msgspec
import numpy as np
from driftline.settings import ModelSettings

from .errors import CheckpointError
from .join_topic import JOIN_FORMAT, Record, join_keys, join_partitions, routing_key
from .monitor import ModelMonitor
from .partition import BatchOutput, PartitionState

__all__ = ["JoinExchange"]

log = logging.getLogger("driftline.join")

_encoder = msgspec.json.Encoder()


class JoinExchange:
    """``partitions()`` is the input topics' partition count (the join topic has as many);
    ``monitor(state, model, version, now_ms)`` the monitor a joined label of that version counts in."""

    def __init__(self, models: Mapping[str, ModelSettings], partitions: Callable[[], int],
                 monitor: Callable[[PartitionState, str, str, int], ModelMonitor]) -> None:
        self.models = models
        self.partitions = partitions
        self.monitor = monitor
        self.misrouted = 0  # messages whose records belong to another join partition (see receive)

    # -- stage 1: send -----------------------------------------------------------------------------
    def predictions(self, state: PartitionState, events: Sequence, ts: Sequence[int], origins: Sequence,
                    model: str, version: str, groups: Sequence | None, out: BatchOutput) -> None:
        k1, k2 = join_keys([e.event_id for e in events], model)
        to = join_partitions(k1, self.partitions()).tolist()
        groups = groups or [None] * len(events)
        _spread(out, state.partition, "p", to, [
            [a, b, model, version, e.prediction, e.score, t, origin[1], g] for e, a, b, t, origin, g in
            zip(events, k1.tolist(), k2.tolist(), ts, origins, groups, strict=True)])

    def feedback(self, state: PartitionState, events: Sequence, ts: Sequence[int], origins: Sequence,
                 now_ms: int, out: BatchOutput) -> None:
        models = [e.model for e in events]
        times: dict[str, list[int]] = defaultdict(list)
        for model, t in zip(models, ts, strict=True):
            times[model].append(t)
        for model, model_ts in times.items():
            state.relay.saw_labels(model, np.array(model_ts, dtype=np.int64), now_ms)
        k1, k2 = join_keys([e.event_id for e in events], models)
        to = join_partitions(k1, self.partitions()).tolist()
        _spread(out, state.partition, "l", to, [[a, b, e.model, e.label, t, origin[1]] for e, a, b, t, origin in
                                                zip(events, k1.tolist(), k2.tolist(), ts, origins, strict=True)])

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
                _batch(out, state.partition, j)["marks"] = moved
                for m, w in moved.items():
                    sent[(j, m)] = w

    def messages(self, out: BatchOutput) -> list[tuple[bytes, bytes]]:
        """``(key, value)`` of each (source, join partition) message of the batch."""
        partitions = self.partitions()
        return [(routing_key(j, partitions), _encoder.encode({"format": JOIN_FORMAT, "source": source, **batch}))
                for (source, j), batch in out.join.items()]

    # -- a join partition: receive -------------------------------------------------------------------
    def receive(self, state: PartitionState, messages: Sequence[tuple], topic: str, now_ms: int) -> None:
        """``messages``: ``(partition, offset, value, ...)`` tuples of the join topic, of this partition."""
        for message in messages:
            doc = msgspec.json.decode(message[2])
            if doc.get("format") != JOIN_FORMAT:
                raise CheckpointError(f"join record: format {doc.get('format')!r} is not {JOIN_FORMAT}")
            source = int(doc["source"])
            first = (doc.get("p") or doc.get("l") or [None])[0]
            if first is not None and join_partitions(np.array([first[0]], np.int64), self.partitions())[0] \
                    != state.partition:
                self._misrouted(state.partition)
            self._predictions(state, state.inbox.fresh(source, "p", doc.get("p", ())), now_ms)
            self._labels(state, state.inbox.fresh(source, "l", doc.get("l", ())), now_ms)
            for model, mark in doc.get("marks", {}).items():
                state.inbox.marks.setdefault(model, {})[source] = int(mark)
        if messages:
            state.offsets[topic] = messages[-1][1] + 1

    def _misrouted(self, partition: int) -> None:
        """Still joined correctly (every record of a join partition travels alike), but a partition that
        gets no join message holds its label windows until stage 2's bounded wait: say so, once."""
        if not self.misrouted:
            log.warning("join records of another join partition arrive on partition %d: the producer's "
                        "partitioner is not librdkafka's default (CRC32 of the key); labels still join, but a "
                        "join partition that receives nothing holds its label windows until "
                        "worker.aggregation_wait", partition)
        self.misrouted += 1

    def _predictions(self, state: PartitionState, records: list, now_ms: int) -> None:
        groups: dict[tuple[str, str], list] = defaultdict(list)
        for r in records:
            groups[(r[2], r[3])].append(r)
        for (model, version), rows in groups.items():
            if model not in self.models:
                continue
            monitor = self.monitor(state, model, version, now_ms)  # this partition reports the version's labels
            segments = [None if r[8] is None else tuple(r[8]) for r in rows]
            joined = state.join.add_predictions(
                [Record(r[4], r[5]) for r in rows], [r[6] for r in rows], model, monitor.version,
                None, segments if any(g is not None for g in segments) else None, keys=_keys(rows))
            monitor.add_labels(joined, now_ms)

    def _labels(self, state: PartitionState, records: list, now_ms: int) -> None:
        records = [r for r in records if r[2] in self.models]
        if not records:
            return
        by_version: dict[tuple[str, str], list] = defaultdict(list)
        for j in state.join.add_feedbacks([Record(None, None, r[2], r[3]) for r in records], [r[4] for r in records],
                                          keys=_keys(records)):
            by_version[(j.model, j.version)].append(j)
        for (model, version), joined in by_version.items():
            self.monitor(state, model, version, now_ms).add_labels(joined, now_ms)


def _spread(out: BatchOutput, source: int, side: str, to: list[int], records: list) -> None:
    """Each record to the batch of its join partition, in order."""
    lists: dict[int, list] = {}
    for j, record in zip(to, records, strict=True):
        target = lists.get(j)
        if target is None:
            target = lists[j] = _batch(out, source, j)[side]
        target.append(record)


def _batch(out: BatchOutput, source: int, j: int) -> dict[str, Any]:
    batch = out.join.get((source, j))
    if batch is None:
        batch = out.join[(source, j)] = {"p": [], "l": [], "marks": {}}
    return batch


def _keys(records: list) -> tuple[np.ndarray, np.ndarray]:
    return (np.fromiter((r[0] for r in records), np.int64, len(records)),
            np.fromiter((r[1] for r in records), np.int64, len(records)))

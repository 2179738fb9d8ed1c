"""The ``checkpoints`` table: one partition's state and offsets, the newest per consumer group.

A row holds the partition's offsets (JSON ``topic -> next offset``) and its
state: the worker's versioned JSON document, stored as text so that it can be read
with SQL. Rows of the previous release hold a base64 pickle instead; they are
handed back as raw bytes for the worker to recognise, and never unpickled here.

Order: the table is a ReplacingMergeTree on ``seq``, so reading with ``FINAL`` gives
the row with the highest ``seq`` of each ``(group_id, kafka_partition)``. ``seq`` packs
an ownership pair, never a clock: ``(epoch, counter)`` (:func:`pack_seq`). Each new owner
of a partition takes the epoch after the one it loaded and writes a claim row at once
(counter 0); each checkpoint it writes then counts up. So a new owner's rows always
outrank the rows of every owner before it, whatever their clocks, and a worker that lost
the partition but still writes (mid-flush) loses to the new owner. A previous release's
``seq`` (wall-clock milliseconds, below bit 62) reads as epoch 0.

``models`` lists the models the partition had events of lately (:meth:`CheckpointStore.partition_models`
reads them for every partition of the group, to find a model on two partitions).
Delivery guarantee: :meth:`CheckpointStore.save` writes all given rows in one insert or
raises :class:`~driftline.sinks.errors.StoreError`.

>>> unpack_seq(pack_seq(3, 41)), pack_seq(2, 0) > pack_seq(1, 99) > pack_seq(0, 0) > 1_800_000_000_000
((3, 41), True)
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .store import Store

__all__ = ["Checkpoint", "CheckpointStore", "pack_seq", "unpack_seq"]

_LOAD = """
SELECT kafka_partition, seq, offsets, state FROM checkpoints FINAL
WHERE group_id = %(g)s AND kafka_partition = %(p)s
"""
_MODELS = """
SELECT kafka_partition, models FROM checkpoints FINAL
WHERE group_id = %(g)s
"""

_SEQ_FORMAT = 1 << 62  # set in every seq of this format; a wall-clock seq of the previous release is far below
_MAX_EPOCH = (1 << 30) - 1
_MAX_COUNTER = (1 << 32) - 1


def pack_seq(epoch: int, counter: int) -> int:
    """The ``seq`` of the ``counter``-th checkpoint of ownership ``epoch``: ordered as the pair is."""
    if not 0 <= epoch <= _MAX_EPOCH:
        raise ValueError(f"epoch must be in [0, {_MAX_EPOCH}], got {epoch}")
    if not 0 <= counter <= _MAX_COUNTER:
        raise ValueError(f"counter must be in [0, {_MAX_COUNTER}], got {counter}")
    return _SEQ_FORMAT | epoch << 32 | counter


def unpack_seq(seq: int) -> tuple[int, int]:
    """``(epoch, counter)`` of a ``seq``; a previous release's wall-clock ``seq`` is ``(0, 0)``."""
    if seq < _SEQ_FORMAT:
        return 0, 0
    return (seq >> 32) & _MAX_EPOCH, seq & _MAX_COUNTER


@dataclass(frozen=True, slots=True)
class Checkpoint:
    partition: int
    seq: int  # orders the checkpoints of a partition: the highest is read back (see pack_seq)
    offsets: Mapping[str, int]  # topic -> next offset to read
    state: bytes  # UTF-8 JSON document; a previous release's base64-decoded pickle on load
    models: tuple[str, ...] = ()  # models with events on the partition lately (not read back by load)


class CheckpointStore:
    """Saves and loads the checkpoints of one consumer group."""

    def __init__(self, store: Store, *, group_id: str) -> None:
        if not group_id:
            raise ValueError("group_id must be a non-empty consumer group id")
        self.store = store
        self.group_id = group_id

    def save(self, checkpoints: Sequence[Checkpoint]) -> None:
        if not checkpoints:
            return
        for c in checkpoints:
            if not c.state.startswith(b"{"):
                raise ValueError(f"checkpoint of partition {c.partition}: the state must be a JSON document")
        self.store.insert("checkpoints", {
            "group_id": [self.group_id] * len(checkpoints),
            "kafka_partition": [c.partition for c in checkpoints],
            "seq": [c.seq for c in checkpoints],
            "offsets": [json.dumps(dict(c.offsets)) for c in checkpoints],
            "state": [c.state.decode("utf-8") for c in checkpoints],  # a JSON document
            "models": [json.dumps(sorted(c.models)) for c in checkpoints],
        })

    def load(self, partition: int) -> Checkpoint | None:
        """The partition's newest checkpoint, or None if the group never checkpointed it."""
        rows = self.store.execute(_LOAD, {"g": self.group_id, "p": partition})
        if not rows:
            return None
        kafka_partition, seq, offsets, state = rows[0]  # FINAL: one row per (group, partition)
        # A JSON document (this release) starts with "{"; a previous release's row is base64.
        blob = state.encode("utf-8") if state.startswith("{") else base64.b64decode(state)
        return Checkpoint(int(kafka_partition), int(seq), json.loads(offsets), blob)

    def partition_models(self) -> dict[int, list[str]]:
        """Partition -> the models its newest checkpoint saw lately, for every partition of the group."""
        found = {}
        for partition, models in self.store.execute(_MODELS, {"g": self.group_id}):
            try:
                names = json.loads(models)
            except ValueError:
                continue  # not written by this release: says nothing
            if isinstance(names, list):
                found[int(partition)] = [str(name) for name in names]
        return found

"""The ``checkpoints`` table: one partition's state and offsets, the newest per consumer group.

A row holds the partition's offsets (JSON ``topic -> next offset``) and its
state: the worker's versioned JSON document, stored as text so that it can be read
with SQL. Rows of the previous release hold a base64 pickle instead; they are
handed back as raw bytes for the worker to recognise, and never unpickled here. The table is a
ReplacingMergeTree on ``seq``: reading with ``FINAL`` gives the newest row of
each ``(group_id, kafka_partition)``, so an older checkpoint written again by a
retry never wins over a newer one. Delivery guarantee: :meth:`CheckpointStore.save`
writes all given rows in one insert or raises :class:`~driftline.sinks.errors.StoreError`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .store import Store

__all__ = ["Checkpoint", "CheckpointStore"]

_LOAD = """
SELECT kafka_partition, seq, offsets, state FROM checkpoints FINAL
WHERE group_id = %(g)s AND kafka_partition = %(p)s
"""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    partition: int
    seq: int  # orders the checkpoints of a partition: the newest is read back
    offsets: Mapping[str, int]  # topic -> next offset to read
    state: bytes  # UTF-8 JSON document; a previous release's base64-decoded pickle on load


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

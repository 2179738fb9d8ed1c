"""The checkpoint store round trip, on the embedded chdb store and on the real ClickHouse 18.16 server."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from driftline.sinks.checkpoints import Checkpoint, CheckpointStore
from driftline.sinks.migrations import migrate
from driftline.stream.wiring import build_store

# A state is the worker's JSON document, stored as text: any Unicode survives.
DOC = json.dumps({"format": "driftline.checkpoint", "version": 2, "text": "é ü \"quoted\" \\ \u2028"}).encode()
ONE = b'{"one": 1}'


def doc(n: int) -> bytes:
    return json.dumps({"n": n}).encode()


def round_trip(store) -> None:
    migrate(store)
    group = CheckpointStore(store, group_id="driftline")
    other = CheckpointStore(store, group_id="another-group")
    assert group.load(0) is None

    group.save([Checkpoint(0, 1_000, {"p": 10, "f": 4}, DOC), Checkpoint(1, 1_000, {"p": 7}, ONE)])
    other.save([Checkpoint(0, 5_000, {"p": 99}, doc(0))])
    assert group.load(0) == Checkpoint(0, 1_000, {"p": 10, "f": 4}, DOC)
    assert group.load(1) == Checkpoint(1, 1_000, {"p": 7}, ONE)
    assert group.load(2) is None

    group.save([Checkpoint(0, 2_000, {"p": 20, "f": 9}, doc(2))])
    group.save([Checkpoint(0, 1_500, {"p": 15}, doc(1))])  # a late retry of an older one: the newest seq wins
    assert group.load(0) == Checkpoint(0, 2_000, {"p": 20, "f": 9}, doc(2))
    assert group.load(1).state == ONE
    assert other.load(0).offsets == {"p": 99}

    # A previous release's row holds a base64 pickle: handed back as raw bytes (never unpickled here).
    legacy = bytes(range(256)) * 3
    store.insert("checkpoints", {"group_id": ["driftline"], "kafka_partition": [5], "seq": [1],
                                 "offsets": [json.dumps({"p": 3})], "state": [base64.b64encode(legacy).decode()]})
    assert group.load(5) == Checkpoint(5, 1, {"p": 3}, legacy)
    with pytest.raises(ValueError, match="JSON document"):
        group.save([Checkpoint(6, 1, {}, b"\x80\x05 not a document")])


def test_round_trip_on_the_embedded_store(tmp_path):
    store = build_store(f"chdb://{tmp_path}/store")
    try:
        round_trip(store)
    finally:
        store.close()


@pytest.mark.integration
def test_round_trip_on_a_clickhouse_server(clickhouse):
    store = build_store(clickhouse.url.rsplit("/", 1)[0] + f"/checkpoints_{uuid.uuid4().hex[:8]}")
    try:
        round_trip(store)
    finally:
        store.close()


def test_a_group_id_is_required():
    with pytest.raises(ValueError, match="group_id"):
        CheckpointStore(object(), group_id="")

"""The checkpoint store round trip, on the embedded chdb store and on the real ClickHouse 18.16 server."""

from __future__ import annotations

import uuid

import pytest
from driftline.sinks.checkpoints import Checkpoint, CheckpointStore
from driftline.sinks.migrations import migrate
from driftline.stream.wiring import build_store

EVERY_BYTE = bytes(range(256)) * 3  # a state blob is arbitrary binary


def round_trip(store) -> None:
    migrate(store)
    group = CheckpointStore(store, group_id="driftline")
    other = CheckpointStore(store, group_id="another-group")
    assert group.load(0) is None

    group.save([Checkpoint(0, 1_000, {"p": 10, "f": 4}, EVERY_BYTE), Checkpoint(1, 1_000, {"p": 7}, b"one")])
    other.save([Checkpoint(0, 5_000, {"p": 99}, b"not ours")])
    assert group.load(0) == Checkpoint(0, 1_000, {"p": 10, "f": 4}, EVERY_BYTE)
    assert group.load(1) == Checkpoint(1, 1_000, {"p": 7}, b"one")
    assert group.load(2) is None

    group.save([Checkpoint(0, 2_000, {"p": 20, "f": 9}, b"newer")])
    group.save([Checkpoint(0, 1_500, {"p": 15}, b"late retry of an older one")])  # the newest seq wins
    assert group.load(0) == Checkpoint(0, 2_000, {"p": 20, "f": 9}, b"newer")
    assert group.load(1).state == b"one"
    assert other.load(0).offsets == {"p": 99}


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

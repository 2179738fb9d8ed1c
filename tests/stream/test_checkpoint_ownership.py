"""Checkpoint order and fencing: a new owner always outranks earlier ones, whatever the clocks,
and a worker that lost a partition does not write it.

Fakes at the consumer edge; the store is the fake of tests/support/ingest_fakes.py (newest by
``seq``, like ``FINAL``) and, at the end, the real stores.
"""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from driftline.settings import parse_settings
from driftline.sinks.checkpoints import CheckpointStore, pack_seq, unpack_seq
from driftline.sinks.migrations import migrate
from driftline.stream.processor import Processor
from driftline.stream.wiring import build_store

from tests.support.ingest_fakes import FakeConsumer, FlakyStore, Message, ingest_loop

SETTINGS = parse_settings({"models": [{"name": "m", "features": {"x": "numeric"}}],
                           "kafka": {"topics": {"predictions": "p", "feedback": "f"}}})
ASSIGNED = [TopicPartition("p", 0), TopicPartition("f", 0)]


def event(offset: int) -> Message:
    value = (b'{"event_id":"e%d","model":"m","version":"1","ts":1700000000000,"features":{"x":1},"prediction":0}'
             % offset)
    return Message("p", 0, offset, value)


def worker(store, *, clock=None):
    """A worker that is assigned partition 0 of p and f, as on a rebalance."""
    consumer = FakeConsumer()
    kw = {"clock": clock} if clock else {}
    loop, metrics = ingest_loop(SETTINGS, store, consumer, **kw)
    loop.rebalance.on_assign(consumer, [TopicPartition(tp.topic, tp.partition) for tp in ASSIGNED])
    return loop, consumer, metrics


def read(loop, offset: int) -> None:
    """The worker reads one event at ``offset`` and checkpoints."""
    loop.consumer.batches = [[event(offset)]]
    loop.step()
    loop.checkpoints.checkpoint()


def newest(store) -> tuple[tuple[int, int], dict]:
    checkpoint = CheckpointStore(store, group_id=SETTINGS.kafka.group_id).load(0)
    return unpack_seq(checkpoint.seq), checkpoint.offsets


def test_a_new_owner_claims_the_next_epoch_and_counts_up():
    store = FlakyStore()
    a, _, _ = worker(store)
    assert newest(store) == ((1, 0), {})  # the claim, written on assignment
    read(a, 5)
    read(a, 6)
    assert newest(store) == ((1, 2), {"p": 7})
    b, _, _ = worker(store)  # takes over: loads epoch 1, claims epoch 2 with the state it loaded
    assert newest(store) == ((2, 0), {"p": 7})
    assert b.states[0].offsets == {"p": 7}


def test_a_new_owner_whose_clock_is_behind_is_read_back():
    store = FlakyStore()
    a, _, _ = worker(store, clock=lambda: 2_000_000_000.0)  # 2033
    read(a, 5)
    b, _, _ = worker(store, clock=lambda: 1_000_000_000.0)  # 2001: a wall-clock seq would lose for 32 years
    read(b, 6)
    assert newest(store) == ((2, 1), {"p": 7})


def test_a_stale_owners_late_write_loses_to_the_new_owner():
    store = FlakyStore()
    a, _, _ = worker(store)
    read(a, 5)
    b, _, _ = worker(store)  # a has not noticed yet: it still believes it owns partition 0
    a.consumer.batches = [[event(50)]]
    a.step()
    a.checkpoints.checkpoint()  # written (its consumer still lists the partition) ...
    assert [unpack_seq(row["seq"]) for row in store.rows("checkpoints")][-1] == (1, 2)
    assert newest(store) == ((2, 0), {"p": 6})  # ... and outranked by the new owner's claim
    read(b, 6)
    assert newest(store) == ((2, 1), {"p": 7})


def test_a_partition_no_longer_assigned_is_not_written():
    store = FlakyStore()
    a, consumer, metrics = worker(store)
    consumer.assigned = [("p", 1), ("f", 1)]  # the partition moved; no revoke callback has run yet
    inserts = len(store.rows("checkpoints"))
    read(a, 5)
    assert len(store.rows("checkpoints")) == inserts and consumer.commits == []
    assert metrics.checkpoints.labels("fenced")._value.get() == 1


@pytest.mark.parametrize("code", [KafkaError.UNKNOWN_MEMBER_ID, KafkaError.ILLEGAL_GENERATION,
                                  KafkaError.REBALANCE_IN_PROGRESS])
def test_a_member_the_group_coordinator_fenced_out_does_not_write(code):
    store = FlakyStore()
    a, consumer, metrics = worker(store)
    consumer.commit_error = KafkaException(KafkaError(code))
    inserts = len(store.rows("checkpoints"))
    read(a, 5)
    assert len(store.rows("checkpoints")) == inserts
    assert metrics.checkpoints.labels("fenced")._value.get() == 1 and metrics.checkpoints.labels("ok")._value.get() == 0


def test_a_commit_failing_otherwise_still_writes_the_checkpoint():
    store = FlakyStore()
    a, consumer, metrics = worker(store)
    consumer.commit_error = KafkaException(KafkaError(KafkaError._TRANSPORT))
    read(a, 5)
    assert newest(store) == ((1, 1), {"p": 6}) and metrics.checkpoints.labels("ok")._value.get() == 1


def test_a_revoked_partition_is_checkpointed_then_released():
    store = FlakyStore()
    a, consumer, _ = worker(store)
    consumer.batches = [[event(5)]]
    a.step()
    a.rebalance.on_revoke(consumer, list(ASSIGNED))
    assert newest(store) == ((1, 1), {"p": 6}) and a.states == {} and a.checkpoints.ownership.sequences == {}


def round_trip(store) -> None:
    migrate(store)
    group = CheckpointStore(store, group_id=SETTINGS.kafka.group_id)
    # A previous release's row: seq was the wall clock in milliseconds.
    state = Processor(SETTINGS).new_partition(0)
    state.offsets = {"p": 3}
    store.insert("checkpoints", {"group_id": [group.group_id], "kafka_partition": [0], "seq": [1_900_000_000_000],
                                 "offsets": [json.dumps({"p": 3})], "state": [state.snapshot().decode()]})
    assert unpack_seq(group.load(0).seq) == (0, 0)
    a, _, _ = worker(store, clock=lambda: 2_000_000_000.0)  # outranks the wall-clock row: epoch 1
    assert newest(store) == ((1, 0), {"p": 3})
    read(a, 5)
    assert newest(store)[1] == {"p": 6}
    b, _, _ = worker(store, clock=lambda: 1_000_000_000.0)  # clock far behind
    a.consumer.batches = [[event(50)]]
    a.step()
    a.checkpoints.checkpoint()  # the stale owner's late write
    assert newest(store) == ((2, 0), {"p": 6})
    read(b, 6)
    assert newest(store) == ((2, 1), {"p": 7})
    assert group.load(0).seq == pack_seq(2, 1)


def test_order_on_the_embedded_store(tmp_path):
    store = build_store(f"chdb://{tmp_path}/store")
    try:
        round_trip(store)
    finally:
        store.close()


@pytest.mark.integration
def test_order_on_a_clickhouse_server(clickhouse):
    store = build_store(clickhouse.url.rsplit("/", 1)[0] + f"/ownership_{uuid.uuid4().hex[:8]}")
    try:
        round_trip(store)
    finally:
        store.close()


def test_a_takeover_of_checkpointed_partitions_is_announced_so_undelivered_alerts_are_sent_again():
    """A worker taking partitions over from one that died re-sends the alerts that one stored but
    never delivered (its own start-up outbox ran before the other died)."""
    store = FlakyStore()
    a, _, _ = worker(store)
    read(a, 5)
    taken = []
    consumer = FakeConsumer()
    b, _ = ingest_loop(SETTINGS, store, consumer, on_takeover=taken.append)
    b.rebalance.on_assign(consumer, list(ASSIGNED))
    assert taken == [[0]]
    fresh = []
    c, _ = ingest_loop(SETTINGS, FlakyStore(), FakeConsumer(), on_takeover=fresh.append)
    c.rebalance.on_assign(c.consumer, list(ASSIGNED))
    assert fresh == []  # nothing restored, nobody's alerts to re-send

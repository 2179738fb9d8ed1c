"""The ingest loop's fault handling with fakes at the edges (fast; the real-process tests are beside it)."""

from __future__ import annotations

import pytest
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from driftline.settings import parse_settings

from tests.support.ingest_fakes import FakeConsumer, FlakyStore, Message, ingest_loop

SETTINGS = parse_settings({"models": [{"name": "m", "features": {"x": "numeric"}}],
                           "kafka": {"topics": {"predictions": "p", "feedback": "f"}},
                           # the events below carry a fixed 2023 event time: no oldest age
                           "worker": {"event_time": {"max_age": 0}}})


def _loop(store, consumer, **kw):
    loop, metrics = ingest_loop(SETTINGS, store, consumer, **kw)
    loop.states[0] = loop.processor.new_partition(0)
    loop.states[0].offsets = {"p": 10}
    return loop, metrics


def test_a_failing_checkpoint_insert_is_retried_with_consumption_paused():
    store, consumer = FlakyStore(failures=3), FakeConsumer()
    loop, metrics = _loop(store, consumer)
    loop.checkpoints.checkpoint()
    assert store.inserts == ["checkpoints"]
    assert consumer.commits == [[("p", 0, 10)]]
    assert consumer.paused == set() and metrics.paused._value.get() == 0
    assert metrics.checkpoints.labels("error")._value.get() == 3


def test_a_crash_in_the_loop_calls_on_fatal():
    fatal = []
    consumer = FakeConsumer()
    consumer.consume = lambda n, t: (_ for _ in ()).throw(RuntimeError("bug"))
    loop, metrics = _loop(FlakyStore(0), consumer, on_fatal=fatal.append)
    with pytest.raises(RuntimeError):
        loop.run()
    assert [type(e) for e in fatal] == [RuntimeError] and metrics.up._value.get() == 0


def test_a_partition_ending_below_the_expected_offset_is_a_broker_reset():
    consumer = FakeConsumer()
    consumer.watermarks = {"p": (0, 4)}
    loop, metrics = _loop(FlakyStore(0), consumer)
    loop.broker.check_watermarks()
    assert consumer.seeks == [("p", 0, 0)] and loop.states[0].offsets["p"] == 0
    assert metrics.broker_resets.labels("p")._value.get() == 1
    loop.broker.check_watermarks()  # now consistent: counted once
    assert metrics.broker_resets.labels("p")._value.get() == 1


def test_a_failing_checkpoint_read_on_assignment_is_retried_then_restores_the_state():
    store, consumer = FlakyStore(failures=0), FakeConsumer()
    first, _ = _loop(store, consumer)
    first.checkpoints.checkpoint()
    store.failures = 2
    second, metrics = _loop(store, consumer)
    del second.states[0]
    assigned = [TopicPartition("p", 0), TopicPartition("f", 0)]
    second.rebalance.on_assign(consumer, assigned)
    assert second.states[0].offsets == {"p": 10}
    assert [(tp.topic, tp.offset) for tp in assigned] == [("p", 10), ("f", OFFSET_BEGINNING)]
    assert store.failures == 0 and metrics.paused._value.get() == 0 and second.ready.is_set()


def test_a_malformed_message_goes_to_the_dead_letter_topic_and_table():
    store, consumer = FlakyStore(failures=0), FakeConsumer()
    loop, metrics = _loop(store, consumer)
    consumer.batches = [[Message("p", 0, 10, b"{not json")]]
    loop.step()
    ((topic, message),) = loop.producer.produced
    headers = dict(message["headers"])
    assert topic == SETTINGS.kafka.dead_letter_topic and message["value"] == b"{not json"
    assert (headers["driftline-reason"], headers["driftline-offset"]) == (b"invalid_json", b"10")
    loop.checkpoints.flush()
    (rows,) = store.columns["dead_letters"]
    assert rows["kafka_offset"] == [10] and rows["payload"] == ["{not json"]
    assert metrics.dead_letters.labels("invalid_json")._value.get() == 1
    assert loop.states[0].offsets["p"] == 11


def _event(event_id: str) -> bytes:
    return (b'{"event_id":"%s","model":"m","version":"1","ts":1700000000000,"features":{"x":1},"prediction":0}'
            % event_id.encode())


def test_offsets_are_not_committed_past_a_dead_letter_the_broker_did_not_acknowledge():
    from confluent_kafka import KafkaError

    store, consumer = FlakyStore(failures=0), FakeConsumer()
    loop, metrics = _loop(store, consumer)
    consumer.batches = [[Message("p", 0, 10, b"{not json"), Message("p", 0, 11, _event("a"))]]
    loop.step()
    loop.producer.failing = KafkaError._MSG_TIMED_OUT  # the broker never acknowledges the dead letter
    loop.checkpoints.checkpoint()
    loop.checkpoints.checkpoint()
    assert consumer.commits == [] and "checkpoints" not in store.inserts
    assert metrics.checkpoints.labels("postponed")._value.get() == 2
    assert metrics.produce_failures.labels(SETTINGS.kafka.dead_letter_topic, "_MSG_TIMED_OUT")._value.get() >= 2
    loop.producer.failing = None  # the broker is back: the dead letter produced again is acknowledged
    loop.checkpoints.checkpoint()
    assert consumer.commits == [[("p", 0, 12)]] and store.inserts.count("checkpoints") == 1
    sent = [kw["value"] for topic, kw in loop.producer.produced if topic == SETTINGS.kafka.dead_letter_topic]
    assert len(sent) > 2 and set(sent) == {b"{not json"}  # the same dead letter, produced until acknowledged
    assert all(callable(kw["on_delivery"]) for _, kw in loop.producer.produced)


def test_a_row_the_store_refuses_is_dead_lettered_and_the_rest_is_stored():
    store = FlakyStore(refuse=lambda table, row: table == "predictions" and row["event_id"] == "bad")
    consumer = FakeConsumer()
    loop, metrics = _loop(store, consumer)
    consumer.batches = [[Message("p", 0, 10, _event("a")), Message("p", 0, 11, _event("bad")),
                         Message("p", 0, 12, _event("c"))]]
    loop.step()
    loop.checkpoints.checkpoint()
    assert sorted(row["event_id"] for row in store.rows("predictions")) == ["a", "c"]
    ((topic, message),) = [(t, kw) for t, kw in loop.producer.produced if t == SETTINGS.kafka.dead_letter_topic]
    headers = dict(message["headers"])
    assert (headers["driftline-reason"], headers["driftline-table"], headers["driftline-topic"],
            headers["driftline-offset"]) == (b"store_rejected", b"predictions", b"p", b"11")
    assert headers["driftline-detail"].startswith(b"predictions row model='m' event_id='bad' refused: ")
    assert b'"event_id": "bad"' in message["value"]
    (dead,) = store.rows("dead_letters")
    assert (dead["reason"], dead["store_table"], dead["kafka_offset"]) == ("store_rejected", "predictions", 11)
    assert metrics.dead_letters.labels("store_rejected")._value.get() == 1
    assert metrics.store_rejected.labels("predictions")._value.get() == 1
    assert consumer.commits == [[("p", 0, 13)]]  # not stalled: the checkpoint went through


def test_a_step_the_worker_spends_blocked_is_not_the_models_idleness():
    """A slow insert (a failover, a long checkpoint) must not let a window close on idle_close before
    the events still waiting in Kafka for it are read."""
    settings = parse_settings({"models": [{"name": "m", "features": {"x": "numeric"}, "reference": {"warmup_events": 10},
                                           "window": {"size": "10s", "idle_close": "3s"}}],
                               "kafka": {"topics": {"predictions": "p", "feedback": "f"}},
                               "worker": {"event_time": {"max_age": 0}}})
    now = [1_700_000_001.0]  # processing time just after the events' time
    consumer = FakeConsumer()
    loop, _ = ingest_loop(settings, FlakyStore(0), consumer, clock=lambda: now[0])
    loop.states[0] = loop.processor.new_partition(0)
    flush = loop.checkpoints.flush

    def slow_flush():  # the insert blocks for 5 s of the worker's time
        now[0] += 5.0
        flush()

    loop.checkpoints.flush = slow_flush
    loop.checkpoints.flushed_at = 0.0  # the flush is due in the first step
    consumer.batches = [[Message("p", 0, i, b'{"event_id":"e%d","model":"m","version":"1","ts":%d,'
                                            b'"features":{"x":%d},"prediction":0}' % (i, 1700000000000 + i, i))
                         for i in range(20)]]
    loop.step()  # reads the events, then its flush blocks for 5 s
    (monitor,) = loop.states[0].monitors.values()
    assert monitor.windows
    loop.checkpoints.flush = flush
    now[0] += 1.0
    loop.step()  # 6 s after the events were read, 1 s after the worker could read again
    assert monitor.windows, "closed on idle while the worker itself was blocked"
    now[0] += 3.0
    loop.step()
    assert not monitor.windows  # idle_close of real quiet closes it

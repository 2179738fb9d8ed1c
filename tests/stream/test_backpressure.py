"""The one retry/backpressure helper: pause, retry with backoff, resume; fakes only at the edges."""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import TopicPartition
from driftline.sinks.errors import StoreError
from driftline.sinks.messages import KafkaMessage
from driftline.sinks.metrics import WorkerMetrics
from driftline.sinks.writer import EventWriter
from driftline.stream.backpressure import Backpressure, Stopping
from prometheus_client import CollectorRegistry

ASSIGNED = [TopicPartition("p", 0), TopicPartition("f", 0)]


class FakeConsumer:
    """Records pauses and polls; ``during_poll`` runs inside consume() like a rebalance callback."""

    def __init__(self, assigned=ASSIGNED):
        self.assigned = list(assigned)
        self.paused: set[tuple[str, int]] = set()
        self.polls: list[float] = []
        self.seeks: list[tuple[str, int, int]] = []
        self.during_poll = lambda: None
        self.deliver: list = []

    def assignment(self):
        return list(self.assigned)

    def pause(self, tps):
        self.paused |= {(tp.topic, tp.partition) for tp in tps}

    def resume(self, tps):
        self.paused -= {(tp.topic, tp.partition) for tp in tps}

    def seek(self, tp):
        self.seeks.append((tp.topic, tp.partition, tp.offset))

    def consume(self, n, timeout):
        self.polls.append(timeout)
        self.during_poll()
        out, self.deliver = self.deliver, []
        return out


class FlakyStore:
    """Fails the first ``failures`` inserts (retriable unless told otherwise), then stores them."""

    database = "d"

    def __init__(self, failures: int, *, retriable: bool = True, on_fail=lambda: None):
        self.failures, self.retriable, self.on_fail = failures, retriable, on_fail
        self.rows: dict[str, list] = {}

    def insert(self, table, columns):
        if self.failures:
            self.failures -= 1
            self.on_fail()
            error = StoreError("server went away")
            error.retriable = self.retriable
            raise error
        self.rows.setdefault(table, []).extend(zip(*columns.values(), strict=True))


class Message:
    def __init__(self, topic, partition, offset):
        self._tp = (topic, partition, offset)

    def error(self):
        return None

    def topic(self):
        return self._tp[0]

    def partition(self):
        return self._tp[1]

    def offset(self):
        return self._tp[2]


def make(consumer=None, **kw):
    metrics = WorkerMetrics(CollectorRegistry())
    resumed = []
    pressure = Backpressure(consumer or FakeConsumer(), metrics, threading.Event(),
                            on_resume=lambda: resumed.append(True), **kw)
    return pressure, metrics, resumed


def test_a_store_failing_n_times_pauses_consumption_then_resumes_and_loses_nothing():
    consumer = FakeConsumer()
    pressure, metrics, resumed = make(consumer, initial_delay_s=0.1, max_delay_s=0.3)
    seen_while_failing = []
    store = FlakyStore(4, on_fail=lambda: seen_while_failing.append((set(consumer.paused), pressure.paused)))
    writer = EventWriter(store, clock=lambda: 0.0)
    writer.add_columns("predictions", {"event_id": ["a", "b", "c"], "ts": [1, 2, 3]})
    pressure.until_stored("flush", writer.flush)
    assert store.rows == {"predictions": [("a", 1), ("b", 2), ("c", 3)]}  # all rows, once
    assert writer.buffered_rows == 0
    # The first failure pauses every assigned partition; it stays paused through every retry.
    assert seen_while_failing[1:] == [({("p", 0), ("f", 0)}, True)] * 3
    assert consumer.polls == [0.1, 0.2, 0.3, 0.3]  # backoff doubles, capped at max_delay_s
    assert consumer.paused == set() and not pressure.paused
    assert metrics.paused._value.get() == 0 and resumed == [True]


def test_a_non_retriable_error_propagates_at_once_without_pausing():
    consumer = FakeConsumer()
    pressure, metrics, resumed = make(consumer)
    store = FlakyStore(1, retriable=False)
    with pytest.raises(StoreError):
        pressure.until_stored("flush", lambda: store.insert("t", {"a": [1]}))
    assert consumer.polls == [] and consumer.paused == set() and not pressure.paused
    assert metrics.paused._value.get() == 0 and resumed == []


def test_the_result_of_the_write_is_returned():
    pressure, _, _ = make()
    attempts = iter([StoreError("down"), "row"])

    def read():
        value = next(attempts)
        if isinstance(value, Exception):
            raise value
        return value

    assert pressure.until_stored("read", read) == "row"


def test_a_stop_requested_while_the_store_is_down_raises_stopping():
    consumer = FakeConsumer()
    pressure, _, _ = make(consumer)
    consumer.during_poll = pressure.stopping.set
    with pytest.raises(Stopping):
        pressure.until_stored("flush", lambda: FlakyStore(100).insert("t", {"a": [1]}))
    assert consumer.polls == [0.1]  # one wait, then the stop is seen


def test_inside_a_rebalance_it_sleeps_instead_of_polling():
    consumer = FakeConsumer(assigned=[])  # eager rebalance: nothing is assigned inside on_assign
    sleeps = []
    pressure, metrics, resumed = make(consumer, sleep=sleeps.append)
    paused_metric = []
    store = FlakyStore(3, on_fail=lambda: paused_metric.append(metrics.paused._value.get()))
    pressure.until_stored("checkpoint read", lambda: store.insert("t", {"a": [1]}), in_rebalance=True)
    assert sleeps == [0.1, 0.2, 0.4] and consumer.polls == []
    assert paused_metric == [0, 1, 1]  # reported paused from the first failure on
    assert metrics.paused._value.get() == 0 and resumed == [True]


def test_a_retry_inside_an_outage_that_already_paused_leaves_the_resume_to_the_outer_one():
    consumer = FakeConsumer()
    pressure, metrics, resumed = make(consumer, sleep=lambda s: None)
    inner = FlakyStore(2)

    def rebalance_during_poll():
        consumer.during_poll = lambda: None
        pressure.until_stored("checkpoint read", lambda: inner.insert("checkpoints", {"a": [1]}), in_rebalance=True)
        assert pressure.paused and consumer.paused  # still paused for the outer flush

    consumer.during_poll = rebalance_during_poll
    outer = FlakyStore(2)
    pressure.until_stored("flush", lambda: outer.insert("predictions", {"a": [1]}))
    assert inner.rows and outer.rows
    assert not pressure.paused and metrics.paused._value.get() == 0 and resumed == [True]


def test_a_message_delivered_while_paused_is_put_back():
    consumer = FakeConsumer()
    consumer.assigned.append(TopicPartition("p", 1))  # assigned during the pause, not paused yet
    pressure, _, _ = make(consumer)
    consumer.deliver = [Message("p", 1, 42)]
    store = FlakyStore(1)
    seen = []

    def write():
        seen.append(set(consumer.paused))
        store.insert("t", {"a": [1]})

    pressure.until_stored("flush", write)
    assert consumer.seeks == [("p", 1, 42)]  # read again once consumption resumes
    assert ("p", 1) in seen[1]  # and paused until then


class FullProducer:
    """Its queue is full for the first ``full`` produce calls."""

    def __init__(self, full: int):
        self.full, self.produced, self.polls = full, [], []

    def produce(self, topic, **kwargs):
        if self.full:
            self.full -= 1
            raise BufferError("queue full")
        self.produced.append((topic, kwargs))

    def poll(self, timeout):
        self.polls.append(timeout)


def test_a_full_producer_queue_is_waited_out():
    pressure, _, _ = make()
    producer = FullProducer(2)
    message = KafkaMessage(b"v", key=b"k", headers=(("h", b"1"),))
    pressure.until_produced(producer, "t", message)
    assert producer.produced == [("t", {"value": b"v", "key": b"k", "headers": [("h", b"1")]})]
    assert producer.polls == [0.5, 0.5]


def test_a_stop_while_the_producer_queue_is_full_raises_stopping():
    pressure, _, _ = make()
    pressure.stopping.set()
    with pytest.raises(Stopping):
        pressure.until_produced(FullProducer(1), "t", KafkaMessage(b"v"))


@pytest.mark.parametrize(("kw", "name"), [({"initial_delay_s": 0}, "initial_delay_s"),
                                          ({"initial_delay_s": 1, "max_delay_s": 0.5}, "max_delay_s")])
def test_bad_delays_are_rejected_by_name(kw, name):
    with pytest.raises(ValueError, match=name):
        make(**kw)

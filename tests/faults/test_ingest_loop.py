"""The ingest loop's fault handling with fakes at the edges (fast; the real-process tests are beside it)."""

from __future__ import annotations

import pytest
from confluent_kafka import TopicPartition
from driftline.settings import parse_settings
from driftline.sinks.errors import StoreError
from driftline.sinks.metrics import WorkerMetrics
from driftline.sinks.writer import EventWriter
from driftline.stream.ingest import IngestLoop
from driftline.stream.processor import Processor
from prometheus_client import CollectorRegistry

SETTINGS = parse_settings({"models": [{"name": "m", "features": {"x": "numeric"}}],
                           "kafka": {"topics": {"predictions": "p", "feedback": "f"}}})


class FakeConsumer:
    def __init__(self):
        self.paused, self.seeks, self.commits, self.batches = set(), [], [], []
        self.watermarks = {}

    def subscribe(self, topics, on_assign, on_revoke):
        self.on_assign = on_assign

    def consume(self, n, timeout):
        return self.batches.pop(0) if self.batches else []

    def assignment(self):
        return [TopicPartition("p", 0), TopicPartition("f", 0)]

    def pause(self, tps):
        self.paused |= {(tp.topic, tp.partition) for tp in tps}

    def resume(self, tps):
        self.paused -= {(tp.topic, tp.partition) for tp in tps}

    def seek(self, tp):
        self.seeks.append((tp.topic, tp.partition, tp.offset))

    def commit(self, offsets, asynchronous):
        self.commits.append([(tp.topic, tp.partition, tp.offset) for tp in offsets])

    def get_watermark_offsets(self, tp, cached):
        return self.watermarks.get(tp.topic, (-1001, -1001))

    def position(self, tps):
        return []

    def assign(self, tps):
        pass

    def close(self):
        pass


class FakeProducer:
    def produce(self, *a, **k):
        pass

    def poll(self, t=0):
        return 0

    def flush(self, t=0):
        return 0


class FlakyStore:
    database = "d"

    def __init__(self, failures: int):
        self.failures, self.inserts = failures, []

    def insert(self, table, columns):
        if self.failures:
            self.failures -= 1
            raise StoreError("server went away")
        self.inserts.append(table)

    def execute(self, sql, params=None):
        return []


def _loop(store, consumer, **kw):
    metrics = WorkerMetrics(CollectorRegistry())
    loop = IngestLoop(SETTINGS, Processor(SETTINGS), store, EventWriter(store, clock=lambda: 0.0), metrics,
                      consumer, FakeProducer(), **kw)
    loop.states[0] = loop.processor.new_partition(0)
    loop.states[0].offsets = {"p": 10}
    return loop, metrics


def test_a_failing_checkpoint_insert_is_retried_with_consumption_paused():
    store, consumer = FlakyStore(failures=3), FakeConsumer()
    loop, metrics = _loop(store, consumer)
    loop.checkpoint()
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
    loop._check_watermarks()
    assert consumer.seeks == [("p", 0, 0)] and loop.states[0].offsets["p"] == 0
    assert metrics.broker_resets.labels("p")._value.get() == 1
    loop._check_watermarks()  # now consistent: counted once
    assert metrics.broker_resets.labels("p")._value.get() == 1

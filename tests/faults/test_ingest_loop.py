"""The ingest loop's fault handling with fakes at the edges (fast; the real-process tests are beside it)."""

from __future__ import annotations

import pytest
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from driftline.settings import parse_settings
from driftline.sinks.checkpoints import CheckpointStore
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
    def __init__(self):
        self.produced = []

    def produce(self, topic, **kwargs):
        self.produced.append((topic, kwargs))

    def poll(self, t=0):
        return 0

    def flush(self, t=0):
        return 0


class FlakyStore:
    """Fails its first ``failures`` calls; reads return the checkpoint rows it stored."""

    database = "d"

    def __init__(self, failures: int):
        self.failures, self.inserts, self.columns = failures, [], {}

    def _fail(self):
        if self.failures:
            self.failures -= 1
            raise StoreError("server went away")

    def insert(self, table, columns):
        self._fail()
        self.inserts.append(table)
        self.columns.setdefault(table, []).append(dict(columns))

    def execute(self, sql, params=None):
        """The newest checkpoint of a partition (``p``), or every partition's models."""
        self._fail()
        newest = {}
        for cols in self.columns.get("checkpoints", []):
            for row in zip(cols["kafka_partition"], cols["seq"], cols["offsets"], cols["state"], cols["models"],
                           strict=True):
                if row[0] not in newest or row[1] > newest[row[0]][1]:
                    newest[row[0]] = row
        if "p" not in params:
            return [(p, row[4]) for p, row in newest.items()]
        return [row[:4] for p, row in newest.items() if p == params["p"]]


class Message:
    def __init__(self, topic, partition, offset, value):
        self.args = (topic, partition, offset, value)

    def error(self):
        return None

    def topic(self):
        return self.args[0]

    def partition(self):
        return self.args[1]

    def offset(self):
        return self.args[2]

    def value(self):
        return self.args[3]

    def timestamp(self):
        return (1, 1_700_000_000_000)


def _loop(store, consumer, **kw):
    metrics = WorkerMetrics(CollectorRegistry())
    loop = IngestLoop(SETTINGS, Processor(SETTINGS), consumer=consumer, producer=FakeProducer(), sleep=lambda s: None,
                      writer=EventWriter(store, clock=lambda: 0.0),
                      checkpoint_store=CheckpointStore(store, group_id=SETTINGS.kafka.group_id),
                      pending_join=lambda **kw: ([], []), metrics=metrics, **kw)
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

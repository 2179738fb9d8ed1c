"""Fakes at the edges of the ingest loop: consumer, producer and store, for fast unit tests.

Each records what the loop did to it and can be told to fail the way the real one fails:
the store raises StoreError (server away) or StoreRejected (rows it refuses), the producer
reports failed deliveries from flush(), the consumer refuses a commit like a group
coordinator that fenced the member out.
"""

from __future__ import annotations

from collections.abc import Callable

from confluent_kafka import KafkaError, TopicPartition
from driftline.settings import Settings
from driftline.sinks.checkpoints import CheckpointStore
from driftline.sinks.errors import StoreError, StoreRejected
from driftline.sinks.metrics import WorkerMetrics
from driftline.sinks.writer import EventWriter
from driftline.stream.ingest import IngestLoop
from driftline.stream.processor import Processor
from prometheus_client import CollectorRegistry

__all__ = ["Delivered", "FakeConsumer", "FakeProducer", "FlakyStore", "Message", "ingest_loop"]


class FakeConsumer:
    """Owns partition 0 of topics p and f unless told otherwise (``assigned``)."""

    def __init__(self, assigned=(("p", 0), ("f", 0))):
        self.paused, self.seeks, self.commits, self.batches = set(), [], [], []
        self.watermarks = {}
        self.assigned = list(assigned)
        self.commit_error: Exception | None = None  # raised by commit(), like a fenced member's

    def subscribe(self, topics, on_assign, on_revoke):
        self.on_assign = on_assign

    def consume(self, n, timeout):
        return self.batches.pop(0) if self.batches else []

    def assignment(self):
        return [TopicPartition(t, p) for t, p in self.assigned]

    def pause(self, tps):
        self.paused |= {(tp.topic, tp.partition) for tp in tps}

    def resume(self, tps):
        self.paused -= {(tp.topic, tp.partition) for tp in tps}

    def seek(self, tp):
        self.seeks.append((tp.topic, tp.partition, tp.offset))

    def commit(self, offsets, asynchronous):
        if self.commit_error is not None:
            raise self.commit_error
        self.commits.append([(tp.topic, tp.partition, tp.offset) for tp in offsets])

    def get_watermark_offsets(self, tp, cached):
        return self.watermarks.get(tp.topic, (-1001, -1001))

    def position(self, tps):
        return []

    def assign(self, tps):
        pass

    def unassign(self):
        pass

    def close(self):
        pass


class Delivered:
    """A produced message as a delivery callback sees it."""

    def __init__(self, topic, kwargs):
        self._topic, self.kwargs = topic, kwargs

    def topic(self):
        return self._topic

    def value(self):
        return self.kwargs["value"]

    def key(self):
        return self.kwargs.get("key")

    def headers(self):
        return self.kwargs.get("headers")


class FakeProducer:
    """Records produces; flush() reports each queued message delivered, or failed with the
    error code ``failing`` holds (``_MSG_TIMED_OUT``: the broker did not acknowledge it)."""

    def __init__(self):
        self.produced: list[tuple[str, dict]] = []
        self.queue: list[Delivered] = []
        self.failing: int | None = None

    def produce(self, topic, **kwargs):
        self.produced.append((topic, kwargs))
        self.queue.append(Delivered(topic, kwargs))

    def poll(self, t=0):
        return 0

    def flush(self, t=0):
        queue, self.queue = self.queue, []
        for msg in queue:
            callback = msg.kwargs.get("on_delivery")
            if callback is not None:
                callback(None if self.failing is None else KafkaError(self.failing), msg)
        return 0


class FlakyStore:
    """Fails its first ``failures`` calls; refuses rows ``refuse(table, row)`` names; reads return
    the newest checkpoint rows it stored (by ``seq``, like ``FINAL``)."""

    database = "d"

    def __init__(self, failures: int = 0, refuse: Callable[[str, dict], bool] = lambda table, row: False):
        self.failures, self.refuse, self.inserts, self.columns = failures, refuse, [], {}

    def _fail(self):
        if self.failures:
            self.failures -= 1
            raise StoreError("server went away")

    def insert(self, table, columns):
        self._fail()
        rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
        if any(self.refuse(table, row) for row in rows):
            raise StoreRejected("Code: 53. Type mismatch: value out of range", code=53)
        self.inserts.append(table)
        self.columns.setdefault(table, []).append(dict(columns))

    def rows(self, table) -> list[dict]:
        return [dict(zip(cols, values, strict=True)) for cols in self.columns.get(table, [])
                for values in zip(*cols.values(), strict=True)]

    def execute(self, sql, params=None):
        """The newest checkpoint of a partition (``p``), or every partition's models."""
        self._fail()
        newest = {}
        for row in self.rows("checkpoints"):
            if row["kafka_partition"] not in newest or row["seq"] > newest[row["kafka_partition"]]["seq"]:
                newest[row["kafka_partition"]] = row
        if "p" not in params:
            return [(p, row["models"]) for p, row in newest.items()]
        return [(p, row["seq"], row["offsets"], row["state"]) for p, row in newest.items() if p == params["p"]]


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


def ingest_loop(settings: Settings, store, consumer, *, producer=None, **kw) -> tuple[IngestLoop, WorkerMetrics]:
    """An ingest loop on the fakes (or any store), with a fresh metrics registry; rows are written at time 0."""
    metrics = WorkerMetrics(CollectorRegistry())
    loop = IngestLoop(settings, Processor(settings), consumer=consumer, producer=producer or FakeProducer(),
                      sleep=lambda s: None, writer=EventWriter(store, clock=lambda: 0.0),
                      checkpoint_store=CheckpointStore(store, group_id=settings.kafka.group_id),
                      pending_join=lambda **kw: ([], []), metrics=metrics, **kw)
    return loop, metrics

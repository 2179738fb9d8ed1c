"""Readiness (driftline.stream.health): what "stalled" means, with a fake clock; and the batch loop feeding it."""

from __future__ import annotations

import pytest
from confluent_kafka import TopicPartition
from driftline.settings import parse_settings
from driftline.sinks.checkpoints import CheckpointStore
from driftline.sinks.errors import StoreError
from driftline.sinks.metrics import WorkerMetrics
from driftline.sinks.writer import EventWriter
from driftline.stream.health import IngestHealth, Readiness
from driftline.stream.ingest import IngestLoop
from driftline.stream.processor import Processor
from prometheus_client import CollectorRegistry

OK = Readiness(True, "ok")


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def health(clock):
    return IngestHealth(stall_after_s=120, clock=clock)


def test_starting_and_a_dead_thread_are_not_ready(health):
    assert health.check(assigned=False, thread_alive=True) == Readiness(
        False, "starting: waiting for partition assignment")
    assert health.check(assigned=True, thread_alive=False) == Readiness(False, "the ingest thread is not running")
    assert health.check(assigned=True, thread_alive=True) == OK


def test_no_step_for_longer_than_stall_after_is_a_stall(health, clock):
    clock.now += 120
    assert health.check(assigned=True, thread_alive=True) == OK  # at the limit, not past it
    clock.now += 1
    verdict = health.check(assigned=True, thread_alive=True, paused=True)
    assert verdict == Readiness(False, "stalled: no consume loop step completed for 121.0s (limit 120s); "
                                       "the consumer is paused for backpressure (the store does not answer)")
    health.step_done()
    assert health.check(assigned=True, thread_alive=True) == OK


def test_a_lagging_partition_whose_position_does_not_move_is_a_stall(health, clock):
    health.observe_partitions({("p", 0): (100, 0), ("p", 1): (500, 7)})
    for _ in range(4):  # steps keep completing, partition 1 stays behind at 500
        clock.now += 40
        health.step_done()
        health.observe_partitions({("p", 0): (100, 0), ("p", 1): (500, 7)})
    assert health.check(assigned=True, thread_alive=True) == Readiness(
        False, "stalled: p[1] is 7 message(s) behind and its position has not moved for 160.0s (limit 120s)")
    health.observe_partitions({("p", 0): (100, 0), ("p", 1): (501, 6)})  # it moved
    assert health.check(assigned=True, thread_alive=True) == OK


def test_no_lag_or_a_revoked_partition_is_no_stall(health, clock):
    health.observe_partitions({("p", 0): (100, 3)})
    clock.now += 60
    health.observe_partitions({("p", 0): (100, 0)})  # caught up: nothing to make progress on
    clock.now += 100
    health.step_done()
    health.observe_partitions({("p", 0): (100, 5)})  # new messages: the clock starts now
    assert health.check(assigned=True, thread_alive=True) == OK
    clock.now += 121
    health.step_done()
    assert not health.check(assigned=True, thread_alive=True).ready
    health.observe_partitions({})  # revoked
    assert health.check(assigned=True, thread_alive=True) == OK


def test_stall_after_is_validated():
    with pytest.raises(ValueError, match="stall_after_s"):
        IngestHealth(stall_after_s=0)


def test_the_setting_reaches_the_ingest_loops_health():
    settings = parse_settings({"models": [{"name": "m", "features": {"x": "numeric"}}],
                               "metrics": {"stall_after": "45s"}})
    assert settings.metrics.stall_after_s == 45.0
    assert parse_settings({"models": [{"name": "m", "features": {"x": "numeric"}}]}).metrics.stall_after_s == 120.0


# -- the batch loop reports to it -------------------------------------------------------------------------
SETTINGS = parse_settings({"models": [{"name": "m", "features": {"x": "numeric"}}],
                           "kafka": {"topics": {"predictions": "p", "feedback": "f"}},
                           "worker": {"checkpoint_interval": "5s"}})


class Consumer:
    """confluent_kafka.Consumer at the edge: no messages, a position and a high watermark per partition."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self.positions = {("p", 0): 10, ("f", 0): 0}
        self.high = {("p", 0): 50, ("f", 0): 0}
        self.verdicts: list[Readiness] = []
        self.loop: IngestLoop | None = None

    def consume(self, n, timeout):
        if n == 1 and self.loop is not None:  # backpressure waits here while the store is down
            self.clock.now += 30
            ingest = self.loop
            self.verdicts.append(ingest.health.check(assigned=True, thread_alive=True,
                                                     paused=ingest.backpressure.paused))
        return []

    def assignment(self):
        return [TopicPartition(t, p) for t, p in self.positions]

    def position(self, tps):
        return [TopicPartition(tp.topic, tp.partition, self.positions[(tp.topic, tp.partition)]) for tp in tps]

    def get_watermark_offsets(self, tp, cached):
        return 0, self.high[(tp.topic, tp.partition)]

    def pause(self, tps):
        pass

    def resume(self, tps):
        pass

    def seek(self, tp):
        pass

    def commit(self, offsets, asynchronous):
        pass


class Producer:
    def produce(self, topic, **kwargs):
        pass

    def poll(self, t=0):
        return 0

    def flush(self, t=0):
        return 0


class Store:
    """Fails its first ``failures`` writes, retriably."""

    database = "d"

    def __init__(self, failures: int = 0):
        self.failures = failures

    def insert(self, table, columns):
        if self.failures:
            self.failures -= 1
            raise StoreError("server went away")  # retriable: the server may come back

    def execute(self, sql, params=None):
        return []


def ingest_loop(clock: Clock, store: Store) -> tuple[IngestLoop, Consumer]:
    consumer = Consumer(clock)
    loop = IngestLoop(SETTINGS, Processor(SETTINGS), consumer=consumer, producer=Producer(), clock=clock,
                      writer=EventWriter(store, clock=clock), sleep=lambda s: None,
                      checkpoint_store=CheckpointStore(store, group_id="g"), pending_join=lambda **kw: ([], []),
                      metrics=WorkerMetrics(CollectorRegistry()), health=IngestHealth(stall_after_s=120, clock=clock))
    loop.states[0] = loop.processor.new_partition(0)
    consumer.loop = loop
    return loop, consumer


def test_the_loop_reports_steps_and_positions(clock):
    loop, consumer = ingest_loop(clock, Store())
    for _ in range(5):  # 40 behind on p[0], nothing arrives, the position stays at 10
        clock.now += 40
        loop.step()
    assert loop.health.check(assigned=True, thread_alive=True).reason == (
        "stalled: p[0] is 40 message(s) behind and its position has not moved for 160.0s (limit 120s)")
    consumer.positions[("p", 0)] = 11
    clock.now += 1
    loop.step()
    assert loop.health.check(assigned=True, thread_alive=True) == OK


def test_a_store_outage_longer_than_stall_after_turns_readiness_false_until_it_ends(clock):
    loop, consumer = ingest_loop(clock, Store(failures=6))
    consumer.high[("p", 0)] = 10  # no lag: only the outage can stall it
    clock.now += 10
    loop.step()  # its checkpoint fails 6 times: 6 x 30 s paused inside this one step
    ready = [v.ready for v in consumer.verdicts]
    assert ready == [True] * 3 + [False] * 3, consumer.verdicts  # polls 40, 70, 100, 130, 160, 190 s after
    assert consumer.verdicts[-1].reason.startswith("stalled: no consume loop step completed for ")
    assert consumer.verdicts[-1].reason.endswith("the consumer is paused for backpressure (the store does not answer)")
    assert loop.health.check(assigned=True, thread_alive=True, paused=loop.backpressure.paused) == OK

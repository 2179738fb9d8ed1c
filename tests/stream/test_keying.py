"""A model whose events arrive on two partitions (keyed inconsistently) is detected: a metric and a
warning naming the model and its partitions, within one worker and across workers (through the
checkpoints every worker writes)."""

from __future__ import annotations

import logging

from confluent_kafka import TopicPartition
from driftline.settings import parse_settings
from driftline.sinks.metrics import WorkerMetrics
from driftline.stream.keying import KeyingWatch
from prometheus_client import CollectorRegistry

from tests.support.ingest_fakes import FakeConsumer, FlakyStore, Message, ingest_loop

SETTINGS = parse_settings({"models": [{"name": "credit", "features": {"x": "numeric"}},
                                      {"name": "fraud", "features": {"x": "numeric"}}],
                           "kafka": {"topics": {"predictions": "p", "feedback": "f"}},
                           # the events below carry a fixed 2023 event time: no oldest age
                           "worker": {"event_time": {"max_age": 0}}})


def gauge(metrics, model) -> float:
    return metrics.model_partitions.labels(model)._value.get()


def test_models_seen_lately_per_partition_and_forgotten_after_the_horizon():
    now = [1000.0]
    watch = KeyingWatch(WorkerMetrics(CollectorRegistry()), horizon_s=60, clock=lambda: now[0])
    watch.saw(0, ["credit", "credit"], ["fraud"])
    now[0] += 30
    watch.saw(0, ["credit"], [])
    assert watch.models(0) == ("credit", "fraud")
    now[0] += 45  # fraud last seen 75 s ago
    assert watch.models(0) == ("credit",)
    watch.forget(0)
    assert watch.models(0) == ()


def test_a_split_is_a_metric_and_one_warning_per_change(caplog):
    metrics = WorkerMetrics(CollectorRegistry())
    watch = KeyingWatch(metrics, clock=lambda: 0.0)
    with caplog.at_level(logging.WARNING, logger="driftline.ingest"):
        assert watch.update({0: ["credit", "fraud"], 2: ["credit"]}) == {"credit": (0, 2)}
        watch.update({0: ["credit", "fraud"], 2: ["credit"]})
        watch.update({0: ["credit", "fraud"], 2: ["credit"], 3: ["credit"]})
    assert (gauge(metrics, "credit"), gauge(metrics, "fraud")) == (3, 1)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and "model 'credit' has events on partitions 0, 2:" in warnings[0]
    assert "partitions 0, 2, 3" in warnings[1] and "key predictions and feedback by model" in warnings[1]
    watch.update({0: ["credit", "fraud"]})  # fixed: back to one partition
    assert gauge(metrics, "credit") == 1


def event(model: str, event_id: str) -> bytes:
    return (b'{"event_id":"%s","model":"%s","version":"1","ts":1700000000000,"features":{"x":1},"prediction":0}'
            % (event_id.encode(), model.encode()))


def worker(store, partitions):
    consumer = FakeConsumer(assigned=[(t, p) for p in partitions for t in ("p", "f")])
    loop, metrics = ingest_loop(SETTINGS, store, consumer)
    loop.rebalance.on_assign(consumer, [TopicPartition(t, p) for p in partitions for t in ("p", "f")])
    return loop, metrics


def test_one_worker_sees_a_model_on_two_of_its_partitions(caplog):
    loop, metrics = worker(FlakyStore(), [0, 1])
    loop.consumer.batches = [[Message("p", 0, 0, event("credit", "a")), Message("p", 1, 0, event("credit", "b")),
                              Message("p", 1, 1, event("fraud", "c"))]]
    with caplog.at_level(logging.WARNING, logger="driftline.ingest"):
        loop.step()
        loop.checkpoints.checkpoint()
    assert (gauge(metrics, "credit"), gauge(metrics, "fraud")) == (2, 1)
    assert any("model 'credit' has events on partitions 0, 1" in r.getMessage() for r in caplog.records)


def test_workers_see_each_others_partitions_through_the_checkpoints():
    store = FlakyStore()
    a, metrics_a = worker(store, [0])
    b, metrics_b = worker(store, [1])
    a.consumer.batches = [[Message("p", 0, 0, event("credit", "a"))]]
    a.step()
    a.checkpoints.checkpoint()
    assert gauge(metrics_a, "credit") == 1  # b has not checkpointed credit yet
    b.consumer.batches = [[Message("f", 1, 0, b'{"event_id":"a","model":"credit","ts":1700000000000,"label":1}')]]
    b.step()
    b.checkpoints.checkpoint()
    assert gauge(metrics_b, "credit") == 2  # a label on another partition than its prediction counts too
    a.checkpoints.checkpoint()
    assert gauge(metrics_a, "credit") == 2


def test_no_keying_warning_under_two_stage_aggregation(caplog):
    # Under two stages a model's events may be keyed any way: nothing to warn of, no gauge.
    metrics = WorkerMetrics(CollectorRegistry())
    watch = KeyingWatch(metrics, clock=lambda: 0.0, enabled=False)
    watch.saw(0, ["credit"])
    watch.saw(1, ["credit"])
    with caplog.at_level(logging.WARNING, logger="driftline.ingest"):
        assert watch.update({p: watch.models(p) for p in (0, 1)}) == {}
    assert not caplog.records

"""Dead letters and alerts produced to Kafka: acknowledged, retried, cut to fit; fakes at the producer edge.

The same on the real broker (Tansu) is in tests/faults/test_produce_failures.py.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from confluent_kafka import KafkaError, KafkaException
from driftline.sinks.messages import TRUNCATED_HEADER, message_size
from driftline.sinks.metrics import WorkerMetrics
from driftline.stream.backpressure import Backpressure
from driftline.stream.deliveries import SETTLE_ROUNDS, KafkaOutput
from prometheus_client import CollectorRegistry

from tests.support.ingest_fakes import Delivered


class Producer:
    """Queues messages; flush() delivers them, failing those ``fail(msg)`` names an error for.

    ``limit``: produce() refuses a message over it at once (librdkafka's message.max.bytes)."""

    def __init__(self, fail=lambda msg: None, limit=None):
        self.fail, self.limit = fail, limit
        self.queue: list[Delivered] = []
        self.delivered: list[Delivered] = []
        self.produced = 0

    def produce(self, topic, **kwargs):
        assert callable(kwargs.get("on_delivery")), "every produce has a delivery report"
        msg = Delivered(topic, kwargs)
        if self.limit is not None and len(msg.value()) + sum(len(k) + len(v) for k, v in msg.headers() or ()) > self.limit:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        self.produced += 1
        self.queue.append(msg)

    def poll(self, timeout=0):
        return 0

    def flush(self, timeout=0):
        queue, self.queue = self.queue, []
        for msg in queue:
            code = self.fail(msg)
            if code is None:
                self.delivered.append(msg)
            msg.kwargs["on_delivery"](None if code is None else KafkaError(code), msg)
        return 0


class Consumer:
    def assignment(self):
        return []


def output(producer, max_message_bytes=100_000):
    metrics = WorkerMetrics(CollectorRegistry())
    pressure = Backpressure(Consumer(), metrics, threading.Event(), sleep=lambda s: None)
    return KafkaOutput(producer, pressure, metrics, dead_letter_topic="dead", alerts_topic="alerts",
                       max_message_bytes=max_message_bytes), metrics


def letter(payload: bytes, offset: int = 7):
    return SimpleNamespace(topic="p", partition=0, offset=offset, reason="schema", detail="missing ts",
                           payload=payload, ts_ms=0)


def failures(metrics, topic, error) -> float:
    return metrics.produce_failures.labels(topic, error)._value.get()


def test_a_message_that_failed_delivery_is_produced_again_and_counted():
    broker_up = [False]
    producer = Producer(fail=lambda msg: None if broker_up[0] else KafkaError._MSG_TIMED_OUT)
    out, metrics = output(producer)
    out.dead_letter(letter(b"{bad"))
    assert out.settle(1.0) == 1  # failed, produced again, not acknowledged: the checkpoint must wait
    assert failures(metrics, "dead", "_MSG_TIMED_OUT") == SETTLE_ROUNDS  # no busy loop
    assert out.settle(1.0) == 1 and failures(metrics, "dead", "_MSG_TIMED_OUT") == 2 * SETTLE_ROUNDS
    broker_up[0] = True
    assert out.settle(1.0) == 0
    assert [m.value() for m in producer.delivered] == [b"{bad"] and out.failed == 0


def test_an_oversized_dead_letter_is_cut_to_fit_and_marked():
    producer = Producer()
    out, metrics = output(producer, max_message_bytes=10_000)
    message = out.dead_letter(letter(b"x" * 50_000))
    assert message.truncated and message_size(message) <= 10_000
    headers = dict(producer.queue[0].headers())
    assert headers[TRUNCATED_HEADER] == b"50000" and headers["driftline-reason"] == b"schema"
    assert metrics.dead_letters_truncated._value.get() == 1
    assert not out.dead_letter(letter(b"x" * 100)).truncated  # a small one is left whole


def test_a_producer_limit_below_the_configured_one_cuts_again():
    producer = Producer(limit=3_000)  # message.max.bytes lower than kafka.max_message_bytes
    out, metrics = output(producer, max_message_bytes=100_000)
    message = out.dead_letter(letter(b"y" * 50_000))
    assert message is not None and message.truncated and len(message.value) <= 3_000
    assert dict(message.headers)[TRUNCATED_HEADER] == b"50000"
    assert out.dead_letter_limit < 100_000  # learned: the next one is cut at once
    produced = producer.produced
    assert out.dead_letter(letter(b"z" * 50_000)).truncated and producer.produced == produced + 1


def test_a_broker_refusing_a_dead_letter_as_too_large_gets_a_smaller_one():
    producer = Producer(fail=lambda msg: KafkaError.MSG_SIZE_TOO_LARGE if len(msg.value()) > 20_000 else None)
    out, metrics = output(producer, max_message_bytes=100_000)
    out.dead_letter(letter(b"w" * 60_000))
    assert out.settle(1.0) == 0  # cut to half its size and produced again within the same settle
    (delivered,) = producer.delivered
    assert len(delivered.value()) <= 20_000 and dict(delivered.headers())[TRUNCATED_HEADER] == b"60000"
    assert failures(metrics, "dead", "MSG_SIZE_TOO_LARGE") >= 1


def test_an_alert_too_large_for_the_producer_is_counted_not_retried_forever():
    producer = Producer(limit=10)
    out, metrics = output(producer)
    alert = SimpleNamespace(dedup_key="m/v/data_drift", to_dict=lambda: {"summary": "x" * 100})
    out.alert(alert)
    assert producer.queue == [] and failures(metrics, "alerts", "MSG_SIZE_TOO_LARGE") == 1
    assert out.settle(1.0) == 0


def test_other_produce_errors_still_raise():
    class Broken(Producer):
        def produce(self, topic, **kwargs):
            raise KafkaException(KafkaError(KafkaError._INVALID_ARG))

    out, _ = output(Broken())
    with pytest.raises(KafkaException):
        out.dead_letter(letter(b"{"))

"""Kafka helpers for tests: produce records and wait for them, count what a topic holds."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

__all__ = ["count_records", "produce"]


def produce(bootstrap: str, topic: str, records) -> None:
    """Produce ``(key, value)`` records and wait until the broker has them all."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for key, value in records:
        while True:
            try:
                producer.produce(topic, key=key.encode() if key else None, value=value)
                break
            except BufferError:
                producer.poll(0.2)
        producer.poll(0)
    assert producer.flush(60) == 0


def count_records(
    bootstrap: str, topic: str, *, empty_polls: int = 5, poll_timeout: float = 0.2, timeout: float = 120.0
) -> int:
    """Count the records of ``topic`` by reading every partition from the beginning.

    Stops after ``empty_polls`` consecutive polls of ``poll_timeout`` seconds returned
    nothing. Use it instead of watermarks, which the embedded (Tansu) broker gets wrong.
    A missing topic or a read error fails the test (AssertionError).
    """
    if empty_polls < 1:
        raise ValueError(f"empty_polls must be >= 1, got {empty_polls!r}")
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"driftline-count-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "fetch.wait.max.ms": 50,
    })
    try:
        try:
            metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        except KafkaException as exc:
            raise AssertionError(f"no metadata from {bootstrap}: {exc.args[0].str()}") from exc
        if metadata is None or metadata.error is not None or not metadata.partitions:
            reason = metadata.error.str() if metadata is not None and metadata.error else "no partitions"
            raise AssertionError(f"cannot count topic {topic!r}: {reason}")
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions])
        deadline = time.monotonic() + timeout
        total, empty = 0, 0
        while empty < empty_polls:
            if time.monotonic() > deadline:
                raise AssertionError(f"topic {topic!r} was still receiving records after {timeout:g}s")
            messages = consumer.consume(1000, timeout=poll_timeout)
            errors = [m.error() for m in messages if m.error() is not None]
            if errors:
                raise AssertionError(f"error while counting {topic!r}: {errors[0].str()}")
            empty = 0 if messages else empty + 1
            total += len(messages)
        return total
    finally:
        consumer.close()

"""Small helpers shared by the tests that drive real servers."""

from __future__ import annotations

import time

from confluent_kafka import Producer

__all__ = ["produce", "wait_until"]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.25):
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


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

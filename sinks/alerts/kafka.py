"""Kafka topic channel (``type: kafka``): the v1 alert JSON keyed by ``dedup_key``.

Keying by ``dedup_key`` keeps firing/resolved of one alert in one partition,
in order. The producer is always given: ``driftline.stream.wiring`` hands the
worker's producer to every Kafka channel.
"""

from __future__ import annotations

from typing import Any, Protocol

from driftline.alerting import Alert
from driftline.settings import KafkaChannelSettings
from driftline.sinks.alerts.base import KafkaDeliveryError, accepts
from driftline.sinks.alerts.webhook import json_bytes

__all__ = ["KafkaChannel", "Producer"]


class Producer(Protocol):
    """The part of ``confluent_kafka.Producer`` this channel uses."""

    def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None, **kw: Any) -> None: ...
    def flush(self, timeout: float = ...) -> int: ...


class KafkaChannel:
    """Produces and waits for the broker's ack (``deliver`` blocks; the dispatcher runs it in a thread)."""

    def __init__(self, config: KafkaChannelSettings, producer: Producer):
        self.config = config
        self.name = config.name
        self.producer = producer

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    def accepts(self, alert: Alert) -> bool:
        return accepts(self.config.filter, alert)

    def deliver(self, alert: Alert, *, timeout: float) -> None:
        errors: list[Any] = []

        def on_delivery(err: Any, _msg: Any) -> None:
            if err is not None:
                errors.append(err)

        try:
            self.producer.produce(self.config.topic, key=alert.dedup_key.encode(),
                                  value=json_bytes(alert.to_dict()), on_delivery=on_delivery)
        except BufferError as exc:
            raise KafkaDeliveryError(f"producer queue full: {exc}") from exc
        except Exception as exc:  # KafkaException: bad topic name, producer closed...
            raise KafkaDeliveryError(f"produce failed: {exc}", retriable=False) from exc
        if self.producer.flush(timeout) > 0:
            raise KafkaDeliveryError(f"no broker ack within {timeout}s")
        if errors:
            err = errors[0]
            retriable = bool(getattr(err, "retriable", lambda: True)())
            raise KafkaDeliveryError(f"delivery failed: {err}", retriable=retriable)

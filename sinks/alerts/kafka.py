"""Kafka topic channel (``type: kafka``): the v1 alert JSON keyed by ``dedup_key``.

Keying by ``dedup_key`` keeps firing/resolved of one alert in one partition,
in order. The producer is always given: ``driftline.stream.wiring`` hands the
worker's producer to every Kafka channel.

>>> KafkaChannelConfig.from_dict({"topic": "driftline.alerts"}, "alerts.channels[0]", "kafka")
KafkaChannelConfig(name='kafka', topic='driftline.alerts', bootstrap_servers=None)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from driftline.alerting import Alert
from driftline.sinks.alerts.base import ChannelFilter, ConfigReader, KafkaDeliveryError
from driftline.sinks.alerts.webhook import json_bytes

__all__ = ["KafkaChannel", "KafkaChannelConfig", "Producer"]


class Producer(Protocol):
    """The part of ``confluent_kafka.Producer`` this channel uses."""

    def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None, **kw: Any) -> None: ...
    def flush(self, timeout: float = ...) -> int: ...


@dataclass(frozen=True, slots=True)
class KafkaChannelConfig:
    name: str
    topic: str
    filter: ChannelFilter = ChannelFilter()
    bootstrap_servers: str | None = None

    @classmethod
    def from_dict(cls, raw: object, path: str, default_name: str) -> KafkaChannelConfig:
        r = ConfigReader(raw, path, {"topic", "bootstrap_servers"})
        return cls(
            name=r.string("name", default_name, required=True),  # type: ignore[arg-type]
            topic=r.string("topic", required=True),  # type: ignore[arg-type]
            filter=r.channel_filter(),
            bootstrap_servers=r.string("bootstrap_servers"),
        )

    def __repr__(self) -> str:
        return (f"KafkaChannelConfig(name={self.name!r}, topic={self.topic!r}, "
                f"bootstrap_servers={self.bootstrap_servers!r})")


class KafkaChannel:
    """Produces and waits for the broker's ack (``deliver`` blocks; the dispatcher runs it in a thread)."""

    config_class = KafkaChannelConfig

    def __init__(self, config: KafkaChannelConfig, producer: Producer):
        self.config = config
        self.name = config.name
        self.producer = producer

    def accepts(self, alert: Alert) -> bool:
        return self.config.filter.accepts(alert)

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

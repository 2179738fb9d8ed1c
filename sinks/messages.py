"""The Kafka messages the worker produces: dead letters and alert state changes.

A dead letter keeps the offending payload as its value (cut to the topic's
message size) and says where it came from and why in ``driftline-*`` headers.
An alert is its v1 JSON payload keyed by ``dedup_key``, so the firing and
resolved messages of one alert stay in one partition, in order.

>>> from types import SimpleNamespace
>>> dead = SimpleNamespace(topic="p", partition=3, offset=41, reason="schema", detail="missing ts",
...                        payload=b'{"event_id":"a"}', ts_ms=0)
>>> message = dead_letter_message(dead, max_bytes=8)
>>> message.value, dict(message.headers)["driftline-offset"]
(b'{"event_', b'41')
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from driftline.alerting import Alert

from .rows import DeadLetterRecord

__all__ = ["KafkaMessage", "alert_message", "dead_letter_message"]

MAX_DETAIL_HEADER_CHARS = 1_000


@dataclass(frozen=True, slots=True)
class KafkaMessage:
    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


def dead_letter_message(dead: DeadLetterRecord, *, max_bytes: int) -> KafkaMessage:
    headers = (("driftline-reason", dead.reason.encode()),
               ("driftline-detail", dead.detail[:MAX_DETAIL_HEADER_CHARS].encode()),
               ("driftline-topic", dead.topic.encode()), ("driftline-partition", str(dead.partition).encode()),
               ("driftline-offset", str(dead.offset).encode()))
    return KafkaMessage(dead.payload[:max_bytes], headers=headers)


def alert_message(alert: Alert) -> KafkaMessage:
    return KafkaMessage(json.dumps(alert.to_dict(), default=str).encode(), key=alert.dedup_key.encode())

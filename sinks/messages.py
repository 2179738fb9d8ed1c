"""The Kafka messages the worker produces: dead letters and alert state changes.

A dead letter keeps the offending payload as its value and says where it came from and why in
``driftline-*`` headers. The whole message (payload, headers and Kafka's framing) must fit
the producer's and the broker's message limit, else the broker rejects it and the dead letter
is lost from the topic: a payload that does not fit is cut to the room left, and the header
``driftline-truncated`` gives its original size in bytes. A row the store refused carries
``driftline-table`` too. An alert is its v1 JSON payload keyed by ``dedup_key``, so the
firing and resolved messages of one alert stay in one partition, in order.

>>> from types import SimpleNamespace
>>> dead = SimpleNamespace(topic="p", partition=3, offset=41, reason="schema", detail="missing ts",
...                        payload=b'{"event_id":"a"}' + b" " * 2000, ts_ms=0)
>>> message = dead_letter_message(dead, max_bytes=1024)
>>> headers = dict(message.headers)
>>> len(message.value), headers["driftline-truncated"], headers["driftline-offset"], message_size(message) <= 1024
(387, b'2016', b'41', True)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from driftline.alerting import Alert

from .rows import DeadLetterRecord

__all__ = ["KafkaMessage", "alert_message", "dead_letter_message", "message_size", "shrink_dead_letter"]

MAX_DETAIL_HEADER_CHARS = 1_000
TRUNCATED_HEADER = "driftline-truncated"
# Room for Kafka's framing of one message in its own batch: the record batch header (61 bytes)
# and the record's varints (at most ~40 bytes plus 10 per header), rounded up generously.
FRAMING_BYTES = 512


@dataclass(frozen=True, slots=True)
class KafkaMessage:
    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def truncated(self) -> bool:
        return any(name == TRUNCATED_HEADER for name, _ in self.headers)


def message_size(message: KafkaMessage) -> int:
    """The bytes a message counts against a message limit, framing included (an upper bound)."""
    headers = sum(len(name.encode()) + len(value) for name, value in message.headers)
    return FRAMING_BYTES + len(message.value) + len(message.key or b"") + headers


def dead_letter_message(dead: DeadLetterRecord, *, max_bytes: int) -> KafkaMessage:
    """The dead letter as a message of at most ``max_bytes`` (its payload cut to fit if need be)."""
    headers = (("driftline-reason", dead.reason.encode()),
               ("driftline-detail", dead.detail[:MAX_DETAIL_HEADER_CHARS].encode()),
               ("driftline-topic", dead.topic.encode()), ("driftline-partition", str(dead.partition).encode()),
               ("driftline-offset", str(dead.offset).encode()))
    table = getattr(dead, "table", "")
    if table:
        headers += (("driftline-table", table.encode()),)
    return _fit(KafkaMessage(dead.payload, headers=headers), len(dead.payload), max_bytes)


def shrink_dead_letter(message: KafkaMessage, max_bytes: int) -> KafkaMessage:
    """A dead letter cut again to fit ``max_bytes`` (the broker's limit turned out lower).

    >>> big = KafkaMessage(b"x" * 5000, headers=(("driftline-reason", b"schema"),))
    >>> small = shrink_dead_letter(shrink_dead_letter(big, 4000), 2000)
    >>> dict(small.headers)["driftline-truncated"], message_size(small) <= 2000
    (b'5000', True)
    """
    headers = dict(message.headers)
    original = int(headers[TRUNCATED_HEADER]) if TRUNCATED_HEADER in headers else len(message.value)
    plain = KafkaMessage(message.value, message.key, tuple(h for h in message.headers if h[0] != TRUNCATED_HEADER))
    return _fit(plain, original, max_bytes)


def _fit(message: KafkaMessage, original: int, max_bytes: int) -> KafkaMessage:
    if message_size(message) <= max_bytes:
        return message
    marker = (TRUNCATED_HEADER, str(original).encode())
    marked = replace(message, value=b"", headers=message.headers + (marker,))
    room = max(0, max_bytes - message_size(marked))
    return replace(marked, value=message.value[:room])


def alert_message(alert: Alert) -> KafkaMessage:
    return KafkaMessage(json.dumps(alert.to_dict(), default=str).encode(), key=alert.dedup_key.encode())

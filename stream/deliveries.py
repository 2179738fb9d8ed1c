"""The worker's own Kafka produces (dead letters, alerts), each acknowledged before offsets move on.

Every message goes out with a delivery report. :meth:`KafkaOutput.settle` (called by each
checkpoint) waits for the reports; a message the broker did not acknowledge (timed out, broker
or topic away, refused) is counted in ``driftline_produce_failures_total{topic,error}``, logged
and produced again, and the checkpoint is postponed while any message is unacknowledged, so no
offset is ever committed past a dead letter or an alert the broker does not hold. Failed
messages go back into the producer's queue, whose cap (a full queue blocks the loop) bounds
what waits.

Too large: a dead letter is cut to fit ``max_message_bytes`` before it is produced
(:func:`~driftline.sinks.messages.dead_letter_message`); when the producer or the broker still
refuses it as too large (their limit is lower), the limit of the dead-letter topic is halved
and the message cut again, until it fits or has nothing left to cut. An alert cannot be cut:
one the producer refuses as too large is logged and counted, and stays in the ``alerts``
table and the alert channels.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from driftline.alerting import Alert
from driftline.sinks.messages import (
    FRAMING_BYTES,
    KafkaMessage,
    alert_message,
    dead_letter_message,
    message_size,
    shrink_dead_letter,
)
from driftline.sinks.metrics import WorkerMetrics
from driftline.sinks.rows import DeadLetterRecord

from .backpressure import Backpressure

__all__ = ["KafkaOutput"]

log = logging.getLogger("driftline.ingest")

SETTLE_ROUNDS = 3  # a dead letter refused as too large is cut in half per round


class KafkaOutput:
    def __init__(self, producer: Any, backpressure: Backpressure, metrics: WorkerMetrics, *,
                 dead_letter_topic: str, alerts_topic: str, max_message_bytes: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_message_bytes <= FRAMING_BYTES:
            raise ValueError(f"max_message_bytes must be > {FRAMING_BYTES}, got {max_message_bytes}")
        self.producer = producer
        self.backpressure = backpressure
        self.metrics = metrics
        self.dead_letter_topic = dead_letter_topic
        self.alerts_topic = alerts_topic
        self.dead_letter_limit = max_message_bytes  # lowered when a dead letter is refused as too large
        self.clock = clock
        self._failed: list[tuple[str, KafkaMessage, Any]] = []  # (topic, message, KafkaError)

    # -- producing -------------------------------------------------------------------------------
    def dead_letter(self, letter: DeadLetterRecord) -> KafkaMessage | None:
        """Produce a dead letter (cut to fit); returns the message as produced, None if none could be."""
        message = self._send(self.dead_letter_topic, dead_letter_message(letter, max_bytes=self.dead_letter_limit))
        if message is not None and message.truncated:
            self.metrics.dead_letters_truncated.inc()
        return message

    def alert(self, alert: Alert) -> None:
        self._send(self.alerts_topic, alert_message(alert))

    def partial(self, topic: str, key: bytes, value: bytes) -> None:
        """A partial window state or watermark mark (two-stage aggregation), keyed by model version."""
        self._send(topic, KafkaMessage(value, key))

    def _send(self, topic: str, message: KafkaMessage) -> KafkaMessage | None:
        while True:
            try:
                self.backpressure.until_produced(self.producer, topic, message, on_delivery=self._on_delivery)
                return message
            except KafkaException as exc:  # refused before it was queued: only "too large" is expected
                error = exc.args[0]
                if error.code() != KafkaError.MSG_SIZE_TOO_LARGE:
                    raise
                smaller = self._smaller(topic, message)
                if smaller is None:
                    self._give_up(topic, message, error)
                    return None
                message = smaller

    def _on_delivery(self, err: Any, msg: Any) -> None:
        """librdkafka's delivery report; runs inside poll()/flush() on the ingest thread."""
        if err is not None:
            message = KafkaMessage(msg.value() or b"", msg.key(), tuple(msg.headers() or ()))
            self._failed.append((msg.topic(), message, err))

    # -- waiting for the acknowledgements ----------------------------------------------------------
    def settle(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for every report, producing failed messages again (at most
        :data:`SETTLE_ROUNDS` times: a broker refusing them fast is not retried in a busy loop);
        returns how many messages are still not acknowledged (0: every one is on the broker)."""
        deadline = self.clock() + timeout
        remaining, failed = 0, []
        for _ in range(SETTLE_ROUNDS):
            remaining = self.producer.flush(max(0.0, deadline - self.clock()))
            failed, self._failed = self._failed, []
            if not failed:
                return remaining
            self._retry(failed)
        return max(remaining, len(failed))  # produced again, not acknowledged yet

    @property
    def failed(self) -> int:
        """Messages reported as failed and not produced again yet."""
        return len(self._failed)

    def _retry(self, failed: list[tuple[str, KafkaMessage, Any]]) -> None:
        by_cause = Counter((topic, err.name()) for topic, _, err in failed)
        for (topic, error), n in by_cause.items():
            self.metrics.produce_failures.labels(topic, error).inc(n)
        log.warning("%d message(s) not acknowledged by the broker (%s): producing them again; offsets are "
                    "not committed until they are", len(failed),
                    ", ".join(f"{topic}: {error} x{n}" for (topic, error), n in sorted(by_cause.items())))
        for topic, message, err in failed:
            if err.code() == KafkaError.MSG_SIZE_TOO_LARGE:
                smaller = self._smaller(topic, message)
                if smaller is None:
                    self._give_up(topic, message, err)
                    continue
                message = smaller
            self._send(topic, message)

    # -- too large ---------------------------------------------------------------------------------
    def _smaller(self, topic: str, message: KafkaMessage) -> KafkaMessage | None:
        """The dead letter cut to half its size (the new limit of the topic), or None."""
        if topic != self.dead_letter_topic or not message.value:
            return None
        self.dead_letter_limit = max(FRAMING_BYTES, min(self.dead_letter_limit, message_size(message) // 2))
        log.warning("a dead letter of %d bytes is over the producer's or the broker's message limit: dead letters "
                    "are cut to %d bytes from now on (set kafka.max_message_bytes at or below the broker's "
                    "message.max.bytes)", message_size(message), self.dead_letter_limit)
        smaller = shrink_dead_letter(message, self.dead_letter_limit)
        if not message.truncated:
            self.metrics.dead_letters_truncated.inc()
        return smaller

    def _give_up(self, topic: str, message: KafkaMessage, error: Any) -> None:
        self.metrics.produce_failures.labels(topic, error.name()).inc()
        log.error("a message of %d bytes to %s cannot be produced (%s) and is left out of the topic; %s",
                  message_size(message), topic, error,
                  "its row is in the alerts table" if topic == self.alerts_topic else "its row is in dead_letters")

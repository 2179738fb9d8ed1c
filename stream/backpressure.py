"""Backpressure: while an output cannot take more, stop reading, wait, and lose nothing.

One policy for every write the worker must not skip (a flush of buffered rows,
a checkpoint insert, the checkpoint read on assignment): a retriable
:class:`~driftline.sinks.errors.StoreError` pauses consumption
(``driftline_consumer_paused`` = 1) and the write is retried with a backoff
doubling from ``initial_delay_s`` to ``max_delay_s`` until it succeeds; then
consumption resumes. A non-retriable error propagates at once. A stop requested
meanwhile raises :class:`Stopping`, so the worker ends without committing
anything the store did not take.

A full producer queue (the broker is away) is waited out the same way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from confluent_kafka import TopicPartition
from driftline.sinks.errors import StoreError
from driftline.sinks.messages import KafkaMessage
from driftline.sinks.metrics import WorkerMetrics

__all__ = ["Backpressure", "Stopping"]

log = logging.getLogger("driftline.ingest")

T = TypeVar("T")


class Stopping(Exception):  # control flow, not an error: hence no "Error" suffix
    """The worker was asked to stop while it waited for the store or the broker."""


class PausableConsumer(Protocol):
    """The part of ``confluent_kafka.Consumer`` backpressure uses."""

    def assignment(self) -> list[TopicPartition]: ...
    def pause(self, partitions: list[TopicPartition]) -> None: ...
    def resume(self, partitions: list[TopicPartition]) -> None: ...
    def seek(self, partition: TopicPartition) -> None: ...
    def consume(self, num_messages: int, timeout: float) -> list: ...


class Backpressure:
    def __init__(self, consumer: PausableConsumer, metrics: WorkerMetrics, stopping: threading.Event, *,
                 on_resume: Callable[[], None] = lambda: None, sleep: Callable[[float], None] = time.sleep,
                 initial_delay_s: float = 0.1, max_delay_s: float = 5.0) -> None:
        if not initial_delay_s > 0:
            raise ValueError(f"initial_delay_s must be > 0, got {initial_delay_s}")
        if not max_delay_s >= initial_delay_s:
            raise ValueError(f"max_delay_s must be >= initial_delay_s ({initial_delay_s}), got {max_delay_s}")
        self.consumer = consumer
        self.metrics = metrics
        self.stopping = stopping
        self.on_resume = on_resume  # time spent paused is not model idleness (see Partitions)
        self.sleep = sleep
        self.initial_delay_s = initial_delay_s
        self.max_delay_s = max_delay_s
        self.paused = False

    def until_stored(self, what: str, write: Callable[[], T], *, in_rebalance: bool = False) -> T:
        """Run ``write`` until it stops raising a retriable StoreError; consumption is paused meanwhile.

        ``in_rebalance``: called from a rebalance callback, where the consumer cannot be polled;
        it sleeps between attempts instead (librdkafka heartbeats from its own thread).
        """
        delay = self.initial_delay_s
        paused_here = False
        while True:
            try:
                result = write()
                break
            except StoreError as exc:
                if not exc.retriable:
                    raise
                if not self.paused:
                    log.warning("store unavailable (%s), pausing consumption until it answers: %s", what, exc)
                    self._pause()
                    paused_here = True
                if self.stopping.is_set():
                    raise Stopping() from exc
                if in_rebalance:
                    self.sleep(delay)
                else:
                    self._idle_poll(delay)
                delay = min(delay * 2, self.max_delay_s)
        if paused_here:
            log.info("store is back (%s), resuming consumption", what)
            self._resume()
        return result

    def until_produced(self, producer: Any, topic: str, message: KafkaMessage, *,
                       on_delivery: Callable[[Any, Any], None] | None = None) -> None:
        """Hand a message to the producer; while its queue is full (broker away), wait for room.

        ``on_delivery(err, msg)`` is the message's delivery report (librdkafka calls it in poll/flush).
        """
        kwargs: dict[str, Any] = {"value": message.value}
        if on_delivery is not None:
            kwargs["on_delivery"] = on_delivery
        if message.key is not None:
            kwargs["key"] = message.key
        if message.headers:
            kwargs["headers"] = list(message.headers)  # confluent-kafka takes a list or a dict
        while True:
            try:
                producer.produce(topic, **kwargs)
                return
            except BufferError:
                if self.stopping.is_set():
                    raise Stopping() from None
                producer.poll(0.5)

    def _pause(self) -> None:
        assignment = self.consumer.assignment()
        if assignment:  # empty inside an assignment callback: nothing is being read yet
            self.consumer.pause(assignment)
        self.paused = True
        self.metrics.paused.set(1)

    def _resume(self) -> None:
        assignment = self.consumer.assignment()
        if assignment:
            self.consumer.resume(assignment)
        self.paused = False
        self.metrics.paused.set(0)
        self.on_resume()

    def _idle_poll(self, timeout: float) -> None:
        """Wait while paused, serving rebalance callbacks (librdkafka runs them inside consume()).

        A partition assigned during the pause is not paused yet and may deliver a message here:
        it is put back (seek) and paused, so nothing is skipped.
        """
        for msg in self.consumer.consume(1, timeout):
            if msg.error() is None:
                tp = TopicPartition(msg.topic(), msg.partition(), msg.offset())
                self.consumer.pause([tp])
                self.consumer.seek(tp)
        self.consumer.pause(self.consumer.assignment())

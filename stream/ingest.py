"""The batch ingest loop: confluent-kafka consume -> Processor -> rows and messages -> checkpoint.

It runs in one dedicated thread (the Faust worker owns the event loop, web
server and alert delivery). Each :meth:`IngestLoop.step` consumes a batch,
processes it partition by partition, emits the results (rows to the writer,
dead letters and alerts to the producer, metrics) and then flushes,
checkpoints and checks the broker's offsets when their time has come.
Guarantee: at-least-once (see :mod:`~driftline.stream.checkpoints`).

Faults it rides out by itself (docs/guarantees.md names the test for each):

* the store fails (a flush, the checkpoint insert, the checkpoint read on
  assignment): consumption pauses and the write is retried with backoff
  (:mod:`~driftline.stream.backpressure`); nothing is committed meanwhile. The
  buffer is capped (``driftline_buffered_rows_cap``): reaching the cap forces a
  flush, and a flush that fails blocks consumption.
* the broker loses its data: detected, counted and processing goes on with the
  new data (:mod:`~driftline.stream.broker_offsets`).
* anything else raised in the loop is a bug or an unrecoverable state: it is
  logged and ``on_fatal`` is called, by default ending the process with status
  :data:`EXIT_INGEST_CRASHED` so a supervisor restarts it (a worker whose
  ingest thread died must not look alive).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError
from driftline.settings import Settings
from driftline.sinks.checkpoints import CheckpointStore
from driftline.sinks.messages import alert_message, dead_letter_message
from driftline.sinks.metrics import WorkerMetrics
from driftline.sinks.rows import DeadLetterRows
from driftline.sinks.writer import EventWriter

from .backpressure import Backpressure, Stopping
from .broker_offsets import BrokerOffsets
from .checkpoints import CheckpointCoordinator, HistoryLoader, PendingJoinLoader
from .events import DeadLetter
from .health import IngestHealth
from .processor import BatchOutput, PartitionState, Processor
from .rebalance import Partitions, Rebalance

__all__ = ["EXIT_INGEST_CRASHED", "IngestLoop", "exit_process"]

log = logging.getLogger("driftline.ingest")

EXIT_INGEST_CRASHED = 70  # EX_SOFTWARE: the ingest thread died; a supervisor should restart the worker
LAG_CHECK_INTERVAL_S = 1.0


def exit_process(exc: BaseException) -> None:
    """Default ``on_fatal``: flush the logs and end the whole process with a non-zero status."""
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:  # noqa: BLE001 - we are exiting anyway
            pass
    sys.stderr.flush()
    os._exit(EXIT_INGEST_CRASHED)


class IngestLoop:
    def __init__(self, settings: Settings, processor: Processor, *, consumer: Any, producer: Any,
                 writer: EventWriter, checkpoint_store: CheckpointStore, pending_join: PendingJoinLoader,
                 metrics: WorkerMetrics, history: HistoryLoader | None = None, on_alert: Callable = lambda alert: None,
                 clock: Callable[[], float] = time.time, max_buffered_rows: int = 500_000,
                 producer_flush_timeout_s: float = 10.0,
                 on_fatal: Callable[[BaseException], None] = exit_process,
                 sleep: Callable[[float], None] = time.sleep, health: IngestHealth | None = None) -> None:
        if max_buffered_rows <= 0:
            raise ValueError(f"max_buffered_rows must be > 0, got {max_buffered_rows}")
        self.settings = settings
        self.processor = processor
        self.consumer = consumer
        self.producer = producer
        self.writer = writer
        self.metrics = metrics
        self.clock = clock
        self.max_buffered_rows = max_buffered_rows
        self.on_fatal = on_fatal
        self.topics = (settings.kafka.predictions_topic, settings.kafka.feedback_topic)
        self.stopping = threading.Event()
        self.partitions = Partitions(clock=clock)
        self.backpressure = Backpressure(consumer, metrics, self.stopping, sleep=sleep,
                                         on_resume=self.partitions.restart_idle_clocks)
        self.checkpoints = CheckpointCoordinator(
            self.topics, processor, self.partitions, writer, checkpoint_store, pending_join, producer, consumer, metrics,
            self.backpressure, history=history, on_alert=on_alert, clock=clock,
            producer_flush_timeout_s=producer_flush_timeout_s)
        self.rebalance = Rebalance(self.partitions, processor, self.checkpoints)
        self.broker = BrokerOffsets(consumer, self.partitions, metrics, self.backpressure, clock=clock)
        self.health = health or IngestHealth(settings.metrics.stall_after_s)  # what /healthz reports
        metrics.buffer_cap.set(max_buffered_rows)
        metrics.join_pending_cap.set(settings.worker.join_max_pending)

    @property
    def states(self) -> dict[int, PartitionState]:
        return self.partitions.states

    @property
    def ready(self) -> threading.Event:
        """Set once partitions are assigned."""
        return self.partitions.ready

    # -- lifecycle -----------------------------------------------------------------------------
    def run(self) -> None:
        """Consume until :meth:`stop`; a crash calls ``on_fatal`` (default: exit the process)."""
        try:
            self._run()
        except BaseException as exc:
            log.critical("ingest loop crashed: %s: %s; exiting with status %d so a supervisor restarts the "
                         "worker (it replays from the last checkpoint)", type(exc).__name__, exc,
                         EXIT_INGEST_CRASHED, exc_info=True)
            self.metrics.up.set(0)
            self.on_fatal(exc)
            raise

    def _run(self) -> None:
        self.consumer.subscribe(list(self.topics), on_assign=self.rebalance.on_assign,
                                on_revoke=self.rebalance.on_revoke)
        self.metrics.up.set(1)
        try:
            try:
                while not self.stopping.is_set():
                    self.step()
                self.checkpoints.checkpoint()
            except Stopping:
                log.warning("stopping while the store is unavailable: the last checkpoint stands and "
                            "the next start replays from it")
        finally:
            self.metrics.up.set(0)
            self.consumer.close()

    def stop(self) -> None:
        self.stopping.set()

    # -- one batch -----------------------------------------------------------------------------
    def step(self) -> None:
        k = self.settings.kafka
        messages = self.consumer.consume(k.batch_size, k.poll_timeout_s)
        started = self.clock()
        out = BatchOutput()
        by_partition: dict[int, tuple[list, list]] = {}
        predictions_topic = self.topics[0]
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", err)
                continue
            partition = msg.partition()
            lists = by_partition.get(partition)
            if lists is None:
                lists = by_partition[partition] = ([], [])
            # The message itself stands in for its broker timestamp: read only for dead letters.
            lists[0 if msg.topic() == predictions_topic else 1].append((partition, msg.offset(), msg.value(), msg))
        now_ms = int(started * 1000)
        states = self.partitions.states
        for partition, (predictions, feedback) in by_partition.items():
            state = states.get(partition)
            if state is None:  # message from a partition revoked in this very batch
                continue
            self.broker.check_first_offset(state, self.topics[0], predictions)
            self.broker.check_first_offset(state, self.topics[1], feedback)
            self.processor.process(state, predictions, feedback, now_ms, out)
        decoded = self.clock()
        for state in states.values():
            self.processor.close_windows(state, now_ms, out)
        self._emit(out, now_ms)
        done = self.clock()
        if messages:
            self.metrics.batch_size.observe(len(messages))
            self.metrics.batch_duration.labels("process").observe(decoded - started)
            self.metrics.batch_duration.labels("windows").observe(done - decoded)
        self._due(done)
        self.health.step_done()

    def _due(self, now: float) -> None:
        """Flush, checkpoint and check the broker's offsets when their time (or the buffer cap) has come."""
        flush_at = min(self.settings.clickhouse.flush_rows, self.max_buffered_rows)
        if self.writer.buffered_rows >= flush_at or (
                now - self.checkpoints.flushed_at >= self.settings.clickhouse.flush_interval_s):
            self.checkpoints.flush()
        if now - self.checkpoints.checkpointed_at >= self.settings.worker.checkpoint_interval_s:
            self.checkpoints.checkpoint()
        if now - self.broker.checked_at >= LAG_CHECK_INTERVAL_S:
            lag = self.broker.check()
            if lag is not None:
                self.health.observe_partitions(lag)

    def _emit(self, out: BatchOutput, now_ms: int) -> None:
        m = self.metrics
        for (stream, model, version), n in out.counts.items():
            m.events.labels(model, m.version_label(model, version), stream).inc(n)
        for model, n in out.late.items():
            m.late_events.labels(model).inc(n)
        self.writer.add_rows(out.predictions)
        self.writer.add_rows(out.feedback)
        if out.dead:
            self._dead_letters(out.dead)
        for report in out.reports:
            self.writer.add_report(report)
            m.observe_report(report, now_ms / 1000 - report.window_end_ms / 1000)
        for alert in out.alerts:
            self.writer.add_alert(alert)
            m.alerts.labels(alert.kind, alert.severity, alert.status).inc()
            self.backpressure.until_produced(self.producer, self.settings.kafka.alerts_topic, alert_message(alert))
            self.checkpoints.unsent_alerts.append(alert)
        self.producer.poll(0)
        m.buffered_rows.set(self.writer.buffered_rows)

    def _dead_letters(self, dead: list[DeadLetter]) -> None:
        k = self.settings.kafka
        for letter in dead:
            self.metrics.dead_letters.labels(letter.reason).inc()
            self.backpressure.until_produced(self.producer, k.dead_letter_topic,
                                             dead_letter_message(letter, max_bytes=k.max_message_bytes))
        rows = DeadLetterRows()
        rows.add(dead, now_s=int(self.clock()))
        self.writer.add_rows(rows)

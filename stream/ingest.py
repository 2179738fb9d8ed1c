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
* the store refuses rows (a value a column cannot hold): they are isolated and
  dead-lettered as ``store_rejected``, the rest is stored, nothing stalls
  (:mod:`~driftline.sinks.isolation`).
* the broker does not acknowledge a dead letter or an alert: it is produced
  again and no offset is committed past it (:mod:`~driftline.stream.deliveries`).
* the partition moved to another worker without this one knowing yet: its
  checkpoint is fenced (:mod:`~driftline.stream.ownership`).
* events of one model arrive on several partitions: reported, results kept per
  partition (:mod:`~driftline.stream.keying`).
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
from driftline.sinks.errors import StoreError
from driftline.sinks.experiment_rows import VerdictRows
from driftline.sinks.lifecycle import VersionRecord, VersionRows
from driftline.sinks.metrics import WorkerMetrics
from driftline.sinks.rows import DeadLetterRecord, DeadLetterRows
from driftline.sinks.writer import EventWriter

from .backpressure import Backpressure, Stopping
from .broker_offsets import BrokerOffsets
from .checkpoints import CheckpointCoordinator, HistoryLoader, PendingJoinLoader
from .deliveries import KafkaOutput
from .health import IngestHealth
from .keying import KeyingWatch
from .processor import BatchOutput, PartitionState, Processor
from .rebalance import Partitions, Rebalance
from .reference_watch import ReferenceWatch

__all__ = ["EXIT_INGEST_CRASHED", "IngestLoop", "exit_process"]

log = logging.getLogger("driftline.ingest")

EXIT_INGEST_CRASHED = 70  # EX_SOFTWARE: the ingest thread died; a supervisor should restart the worker
BUSY_STEP_S = 1.0  # a step longer than this restarts the idle clocks (see step())
LAG_CHECK_INTERVAL_S = 1.0
LIFECYCLE_READ_INTERVAL_S = 5.0  # how often state changes made elsewhere (CLI, acknowledged webhooks) are read


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
                 producer_flush_timeout_s: float = 10.0, max_produce_bytes: int | None = None,
                 on_fatal: Callable[[BaseException], None] = exit_process,
                 sleep: Callable[[float], None] = time.sleep, health: IngestHealth | None = None,
                 lifecycle_reader: Callable[[list[str]], list[VersionRecord]] | None = None,
                 on_takeover: Callable[[list[int]], None] = lambda partitions: None) -> None:
        """``max_produce_bytes``: the producer's message limit (``message.max.bytes``), when it is
        below ``kafka.max_message_bytes``; a dead letter is cut to fit the lower of the two.
        ``lifecycle_reader(models)`` reads the current ``model_versions`` states
        (:func:`driftline.sinks.lifecycle.latest_version_states` with its store bound)."""
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
        # Stage 2's input (worker.aggregation: two_stage): partial window states, read like the others.
        self.partials_topic = settings.kafka.partials_topic if processor.two_stage is not None else None
        self.join_topic = settings.kafka.join_topic if processor.two_stage is not None else None  # join_topic.py
        self._lists = {self.topics[0]: 0, self.partials_topic: 2, self.join_topic: 3}  # a message's list in step()
        self.stopping = threading.Event()
        self.partitions = Partitions(clock=clock)
        self.backpressure = Backpressure(consumer, metrics, self.stopping, sleep=sleep,
                                         on_resume=self.partitions.restart_idle_clocks)
        k = settings.kafka
        self.output = KafkaOutput(producer, self.backpressure, metrics, dead_letter_topic=k.dead_letter_topic,
                                  alerts_topic=k.alerts_topic,
                                  max_message_bytes=min(k.max_message_bytes, max_produce_bytes or k.max_message_bytes))
        self.keying = KeyingWatch(metrics, clock=clock, enabled=processor.two_stage is None)
        self.checkpoints = CheckpointCoordinator(
            self.topics, processor, self.partitions, writer, checkpoint_store, pending_join, self.output, consumer,
            metrics, self.backpressure, self.keying, dead_letter=self._dead_letters, history=history,
            on_alert=on_alert, clock=clock, producer_flush_timeout_s=producer_flush_timeout_s)
        self.rebalance = Rebalance(self.partitions, processor, self.checkpoints, on_takeover=on_takeover)
        self.broker = BrokerOffsets(consumer, self.partitions, metrics, self.backpressure, clock=clock)
        self.health = health or IngestHealth(settings.metrics.stall_after_s)  # what /healthz reports
        self.references = ReferenceWatch(metrics)  # which reference each version uses: metrics, status page
        self.lifecycle_reader = lifecycle_reader
        self.lifecycle_read_at = 0.0
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
        topics = [*self.topics, *([self.partials_topic, self.join_topic] if self.partials_topic else [])]
        if self.partials_topic:  # stage 2 waits for every partition of the input topics
            self.processor.two_stage.partitions = len(
                self.consumer.list_topics(self.topics[0], timeout=30).topics[self.topics[0]].partitions)
        self.consumer.subscribe(topics, on_assign=self.rebalance.on_assign,
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
        by_partition: dict[int, tuple[list, list, list, list]] = {}
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", err)
                continue
            partition = msg.partition()
            lists = by_partition.get(partition)
            if lists is None:
                lists = by_partition[partition] = ([], [], [], [])
            # The message itself stands in for its broker timestamp: read only for dead letters.
            lists[self._lists.get(msg.topic(), 1)].append((partition, msg.offset(), msg.value(), msg))
        now_ms = int(started * 1000)
        states = self.partitions.states
        for partition, (predictions, feedback, partials, joins) in by_partition.items():
            state = states.get(partition)
            if state is None:  # message from a partition revoked in this very batch
                continue
            self.broker.check_first_offset(state, self.topics[0], predictions)
            self.broker.check_first_offset(state, self.topics[1], feedback)
            n_predictions, n_feedback = len(out.predictions), len(out.feedback)
            self.processor.process(state, predictions, feedback, now_ms, out)
            self.keying.saw(partition, out.predictions.model[n_predictions:], out.feedback.model[n_feedback:])
            if joins:
                self.processor.join_exchange.receive(state, joins, self.join_topic, now_ms, out)
            if partials:
                self.processor.two_stage.receive(state, partials, self.partials_topic, now_ms)
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
        if self.clock() - started > BUSY_STEP_S:
            # The worker itself did not read for that long (a slow insert, a failover, a long
            # checkpoint): that is not the models' idleness, or a window would close on idle_close
            # before the events still waiting in Kafka for it are read.
            self.partitions.restart_idle_clocks()
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
            self.references.observe(self.partitions.states)
            lag = self.broker.check()
            if lag is not None:
                self.health.observe_partitions(lag)
        if self.lifecycle_reader is not None and now - self.lifecycle_read_at >= LIFECYCLE_READ_INTERVAL_S:
            self._read_lifecycle(now)

    def _read_lifecycle(self, now: float) -> None:
        """Adopt the lifecycle changes made outside the worker (a CLI command, an acknowledged webhook)."""
        self.lifecycle_read_at = now
        try:
            records = self.lifecycle_reader([m.name for m in self.settings.models])
        except StoreError as exc:  # only a refresh: the next one tries again
            log.debug("model_versions not read: %s", exc)
            return
        self.processor.experiments.adopt(self.partitions.states, records)

    def _emit(self, out: BatchOutput, now_ms: int) -> None:
        m = self.metrics
        for (stream, model, version), n in out.counts.items():
            m.events.labels(model, m.version_label(model, version), stream).inc(n)
        for model, n in out.late.items():
            m.late_events.labels(model).inc(n)
        for model, n in out.folded.items():
            m.versions_folded.labels(model).inc(n)
        self.writer.add_rows(out.predictions)
        self.writer.add_rows(out.feedback)
        if out.dead:
            self._dead_letters(out.dead)
        for partition, report in zip(out.report_partitions, out.reports, strict=True):
            self.writer.add_report(report, partition=partition)
            m.observe_report(report, now_ms / 1000 - report.window_end_ms / 1000)
        if out.experiments:
            self.writer.add_rows(VerdictRows(out.experiments, now_s=int(self.clock())))
        if out.versions:
            self.writer.add_rows(VersionRows(out.versions, now_s=int(self.clock())))
        if out.join:  # join records and marks: acknowledged before the next commit, like alerts
            for key, value in self.processor.join_exchange.messages(out):
                self.output.partial(self.join_topic, key, value)
        for key, value in out.partials:  # acknowledged before the next commit, like alerts
            self.output.partial(self.partials_topic, key, value)
        for alert in out.alerts:
            self.writer.add_alert(alert)
            m.alerts.labels(alert.kind, alert.severity, alert.status).inc()
            self.output.alert(alert)
            self.checkpoints.unsent_alerts.append(alert)
        self.producer.poll(0)
        m.buffered_rows.set(self.writer.buffered_rows)

    def _dead_letters(self, dead: list[DeadLetterRecord]) -> None:
        """To the dead-letter topic (cut to fit, acknowledged before the next commit) and table."""
        truncated = []
        for letter in dead:
            self.metrics.dead_letters.labels(letter.reason).inc()
            message = self.output.dead_letter(letter)
            truncated.append(message is None or message.truncated)
        rows = DeadLetterRows()
        rows.add(dead, now_s=int(self.clock()), truncated=truncated)
        self.writer.add_rows(rows)

"""The batch ingest loop: confluent-kafka consume -> Processor -> ClickHouse, checkpoint, commit.

It runs in one dedicated thread (the Faust worker owns the event loop, web
server and alert delivery). Guarantee: at-least-once. Offsets are committed
only at a checkpoint, after every buffered row, every dead letter and alert
handed to the producer, and the state of each partition are durably written; a
crash replays from the last checkpoint with the state as it was then, and
idempotent tables absorb the replay.

Faults it rides out by itself (docs/guarantees.md names the test for each):

* the store fails (a flush, the checkpoint insert, the checkpoint read on
  assignment): consumption pauses (``driftline_consumer_paused`` = 1) and the
  write is retried with backoff until it succeeds; nothing is committed
  meanwhile. The buffer is capped (``driftline_buffered_rows_cap``): reaching
  the cap forces a flush, and a flush that fails blocks consumption.
* the broker loses its data (an in-memory broker restarted empty): the first
  offset read per partition is lower than the one the state expects; the gap
  is logged with topic, partition, expected and new offset, counted in
  ``driftline_broker_offset_resets_total`` and processing goes on with the new
  data.
* anything else raised in the loop is a bug or an unrecoverable state: it is
  logged and ``on_fatal`` is called, by default ending the process with status
  :data:`EXIT_INGEST_CRASHED` so a supervisor restarts it (a worker whose
  ingest thread died must not look alive).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from driftline.sinks.errors import StoreError
from driftline.sinks.history import read_partition_history
from driftline.sinks.join_state import load_pending_join
from driftline.sinks.metrics import WorkerMetrics
from driftline.sinks.store import Store
from driftline.sinks.writer import EventWriter

from .config import Settings
from .events import DeadLetter
from .processor import BatchOutput, PartitionState, Processor

__all__ = ["EXIT_INGEST_CRASHED", "IngestLoop"]

log = logging.getLogger("driftline.ingest")

MAX_DEAD_LETTER_STORED_BYTES = 65_536
EXIT_INGEST_CRASHED = 70  # EX_SOFTWARE: the ingest thread died; a supervisor should restart the worker
_MAX_BACKOFF_S = 5.0


class _Stopping(Exception):
    """Raised out of a retry loop when the worker is asked to stop while the store is down."""


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
    def __init__(self, settings: Settings, processor: Processor, store: Store, writer: EventWriter,
                 metrics: WorkerMetrics, consumer: Consumer, producer: Producer, *,
                 on_alert: Callable = lambda alert: None, clock: Callable[[], float] = time.time,
                 max_buffered_rows: int = 500_000, producer_flush_timeout_s: float = 10.0,
                 on_fatal: Callable[[BaseException], None] = exit_process,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.processor = processor
        self.store = store
        self.writer = writer
        self.metrics = metrics
        self.consumer = consumer
        self.producer = producer
        self.on_alert = on_alert
        self.clock = clock
        self.max_buffered_rows = max_buffered_rows
        self.producer_flush_timeout_s = producer_flush_timeout_s
        self.on_fatal = on_fatal
        self.sleep = sleep
        self._generation = 0  # bumped by every rebalance callback
        self._paused = False
        self.states: dict[int, PartitionState] = {}
        self.stopping = threading.Event()
        self.ready = threading.Event()  # set once partitions are assigned
        self._unsent_alerts: list = []  # alerts waiting for their rows to be stored
        self._last_flush = self._last_checkpoint = self._last_lag = clock()
        self.topics = (settings.kafka.predictions_topic, settings.kafka.feedback_topic)
        metrics.buffer_cap.set(max_buffered_rows)
        metrics.join_pending_cap.set(settings.worker.join_max_pending)

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
        self.consumer.subscribe(list(self.topics), on_assign=self._on_assign, on_revoke=self._on_revoke)
        self.metrics.up.set(1)
        try:
            try:
                while not self.stopping.is_set():
                    self.step()
                self.checkpoint()
            except _Stopping:
                log.warning("stopping while the store is unavailable: the last checkpoint stands and "
                            "the next start replays from it")
        finally:
            self.metrics.up.set(0)
            self.consumer.close()

    def stop(self) -> None:
        self.stopping.set()

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
        for partition, (predictions, feedback) in by_partition.items():
            state = self.states.get(partition)
            if state is None:  # message from a partition revoked in this very batch
                continue
            self._check_offsets(state, self.topics[0], predictions)
            self._check_offsets(state, self.topics[1], feedback)
            self.processor.process(state, predictions, feedback, now_ms, out)
        decoded = self.clock()
        for state in self.states.values():
            self.processor.close_windows(state, now_ms, out)
        self._emit(out, now_ms)
        done = self.clock()
        if messages:
            self.metrics.batch_size.observe(len(messages))
            self.metrics.batch_duration.labels("process").observe(decoded - started)
            self.metrics.batch_duration.labels("windows").observe(done - decoded)
        flush_at = min(self.settings.clickhouse.flush_rows, self.max_buffered_rows)
        if self.writer.buffered_rows >= flush_at or (
                done - self._last_flush >= self.settings.clickhouse.flush_interval_s):
            self.flush()
        if done - self._last_checkpoint >= self.settings.worker.checkpoint_interval_s:
            self.checkpoint()
        if done - self._last_lag >= 1.0:
            self._report_lag()
            self._check_watermarks()

    def _check_offsets(self, state: PartitionState, topic: str, records: list) -> None:
        """Detect a broker that lost data: the first offset read is below the one the state expects."""
        if not records:
            return
        expected = state.offsets.get(topic)
        got = records[0][1]
        if expected is None or got >= expected:
            if expected is not None and got > expected:
                log.warning("offset gap on %s[%d]: expected offset %d, got %d (%d records skipped by the broker, "
                            "e.g. retention or compaction)", topic, state.partition, expected, got, got - expected)
            return
        log.warning("broker offset reset on %s[%d]: expected offset %d, got %d; the broker lost records "
                    "(restarted empty or truncated). Continuing with the new data from offset %d",
                    topic, state.partition, expected, got, got)
        self.metrics.broker_resets.labels(topic).inc()

    def _check_watermarks(self) -> None:
        """Detect a broker that lost data before any record comes back: the partition now ends
        below the offset the state expects (Kafka would answer OFFSET_OUT_OF_RANGE and reset; some
        brokers, Tansu among them, answer with nothing). Seek to the partition's new start.

        The high watermark used is the one of the last fetch response (``cached=True``), which the
        state's expected offset never exceeds while the broker keeps its data.
        """
        if self._paused:
            return
        for tp in self.consumer.assignment():
            state = self.states.get(tp.partition)
            expected = state.offsets.get(tp.topic) if state else None
            if expected is None:
                continue
            try:
                low, high = self.consumer.get_watermark_offsets(tp, cached=True)
            except Exception:  # noqa: BLE001 - no fetch answer yet
                continue
            if high < 0 or high >= expected:
                continue
            start = max(low, 0)
            log.warning("broker offset reset on %s[%d]: expected offset %d, got %d (the partition now ends at %d); "
                        "the broker lost records (restarted empty or truncated). Continuing with the new data "
                        "from offset %d", tp.topic, tp.partition, expected, start, high, start)
            self.metrics.broker_resets.labels(tp.topic).inc()
            state.offsets[tp.topic] = start
            try:
                self.consumer.seek(TopicPartition(tp.topic, tp.partition, start))
            except Exception as exc:  # noqa: BLE001 - retried on the next check
                log.warning("seek after the offset reset on %s[%d] failed: %s", tp.topic, tp.partition, exc)

    # -- output --------------------------------------------------------------------------------
    def _emit(self, out: BatchOutput, now_ms: int) -> None:
        m = self.metrics
        for (stream, model, version), n in out.counts.items():
            m.events.labels(model, m.version_label(model, version), stream).inc(n)
        if out.predictions:
            self.writer.add_columns("predictions", out.predictions)
        if out.feedback:
            self.writer.add_columns("feedback", out.feedback)
        for dead in out.dead:
            self._dead_letter(dead)
        for report in out.reports:
            self.writer.add_report(report)
            m.observe_report(report, now_ms / 1000 - report.window_end_ms / 1000)
        for alert in out.alerts:
            self.writer.add_alert(alert)
            m.alerts.labels(alert.kind, alert.severity, alert.status).inc()
            self._produce(self.settings.kafka.alerts_topic, key=alert.dedup_key.encode(),
                          value=json.dumps(alert.to_dict(), default=str).encode())
            self._unsent_alerts.append(alert)
        self.producer.poll(0)
        m.buffered_rows.set(self.writer.buffered_rows)

    def _dead_letter(self, dead: DeadLetter) -> None:
        self.metrics.dead_letters.labels(dead.reason).inc()
        headers = [("driftline-reason", dead.reason.encode()), ("driftline-detail", dead.detail[:1000].encode()),
                   ("driftline-topic", dead.topic.encode()), ("driftline-partition", str(dead.partition).encode()),
                   ("driftline-offset", str(dead.offset).encode())]
        payload = dead.payload[: self.settings.kafka.max_message_bytes]
        self._produce(self.settings.kafka.dead_letter_topic, value=payload, headers=headers)
        stored = dead.payload[:MAX_DEAD_LETTER_STORED_BYTES].decode("utf-8", errors="backslashreplace")
        self.writer.add_columns("dead_letters", {
            "topic": [dead.topic], "kafka_partition": [dead.partition], "kafka_offset": [dead.offset],
            "reason": [dead.reason], "detail": [dead.detail[:2000]], "payload": [stored],
            "payload_bytes": [len(dead.payload)], "ts": [dead.ts_ms // 1000 if dead.ts_ms else int(self.clock())],
        })

    def _produce(self, topic: str, **kwargs) -> None:
        """Hand a message to the producer; while its queue is full (broker away), wait for room."""
        while True:
            try:
                self.producer.produce(topic, **kwargs)
                return
            except BufferError:
                if self.stopping.is_set():
                    raise _Stopping() from None
                self.producer.poll(0.5)

    def flush(self) -> None:
        """Write buffered rows; while the store fails, pause consumption (backpressure) and retry."""
        self._until_stored("flush", self._write_rows)
        self.producer.poll(0)
        self._last_flush = self.clock()
        self.metrics.buffered_rows.set(self.writer.buffered_rows)

    def _write_rows(self) -> None:
        self.writer.flush()
        # Alerts are handed to delivery only once their rows are stored: a delivered alert always
        # has its row in `alerts`, and one lost to a crash before that is recomputed on replay.
        unsent, self._unsent_alerts = self._unsent_alerts, []
        for alert in unsent:
            self.on_alert(alert)

    def _until_stored(self, what: str, write: Callable[[], object]) -> None:
        """Run ``write`` until it stops raising a retriable StoreError, consumption paused meanwhile."""
        delay = 0.1
        paused_here = False
        while True:
            try:
                write()
                break
            except StoreError as exc:
                if not exc.retriable:
                    raise
                if not self._paused:
                    log.warning("store unavailable (%s), pausing consumption until it answers: %s", what, exc)
                    self._pause()
                    paused_here = True
                if self.stopping.is_set():
                    raise _Stopping() from exc
                self._idle_poll(delay)
                delay = min(delay * 2, _MAX_BACKOFF_S)
        if paused_here:
            log.info("store is back, resuming consumption")
            self._resume()

    def _pause(self) -> None:
        self.consumer.pause(self.consumer.assignment())
        self._paused = True
        self.metrics.paused.set(1)

    def _resume(self) -> None:
        self.consumer.resume(self.consumer.assignment())
        self._paused = False
        self.metrics.paused.set(0)
        self._restart_idle_clocks(self.states.values())

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

    def _restart_idle_clocks(self, states) -> None:
        """Time the worker spent not reading (paused, restarted) is not model idleness.

        Without this a window would be closed as idle right after a restart or a store outage,
        before the events of that window still waiting in Kafka are read.
        """
        now_ms = int(self.clock() * 1000)
        for state in states:
            for monitor in state.monitors.values():
                monitor.last_event_at_ms = max(monitor.last_event_at_ms, now_ms)

    # -- checkpoints ---------------------------------------------------------------------------
    def checkpoint(self, partitions: list[int] | None = None, *, wait: bool = True) -> None:
        """Flush, then write the partitions' state and offsets and commit them.

        ``wait=False`` (inside a rebalance callback) tries once and raises StoreError instead of
        retrying; a checkpoint is postponed while the producer still holds undelivered dead letters
        or alerts (the broker is away), since committing would lose them.
        """
        started = self.clock()
        if wait:
            self.flush()
        else:
            self._write_rows()
        chosen = sorted(self.states) if partitions is None else partitions
        if not chosen:
            self._last_checkpoint = self.clock()
            return
        undelivered = self.producer.flush(self.producer_flush_timeout_s if wait else 1.0)
        if undelivered:
            log.warning("checkpoint postponed: %d dead letter/alert message(s) not yet acknowledged by the "
                        "broker", undelivered)
            self.metrics.checkpoints.labels("postponed").inc()
            self._last_checkpoint = self.clock()
            return
        seq = int(started * 1000)
        cols: dict[str, list] = defaultdict(list)
        commits = []
        for p in chosen:
            state = self.states[p]
            cols["group_id"].append(self.settings.kafka.group_id)
            cols["kafka_partition"].append(p)
            cols["seq"].append(seq)
            cols["offsets"].append(json.dumps(state.offsets))
            cols["state"].append(state.snapshot().decode())  # the JSON document as text, readable in SQL
            commits.extend(TopicPartition(t, p, o) for t, o in state.offsets.items())
        generation = self._generation

        def insert() -> None:
            if self._generation != generation:
                return  # a rebalance ran while we waited: these partitions may have moved
            try:
                self.store.insert("checkpoints", cols)
            except StoreError:
                self.metrics.checkpoints.labels("error").inc()
                raise

        if wait:
            self._until_stored("checkpoint", insert)
        else:
            insert()
        if self._generation != generation:
            log.info("checkpoint skipped: partitions were reassigned while the store was away")
            self._last_checkpoint = self.clock()
            return
        if commits:
            try:
                self.consumer.commit(offsets=commits, asynchronous=False)
            except Exception as exc:  # the checkpoint table stays the source of truth
                log.warning("offset commit failed (checkpoint is saved): %s", exc)
        self.metrics.checkpoints.labels("ok").inc()
        self.metrics.checkpoint_duration.observe(self.clock() - started)
        p_pending = sum(s.join.pending[0] for s in self.states.values())
        f_pending = sum(s.join.pending[1] for s in self.states.values())
        self.metrics.join_pending.labels("predictions").set(p_pending)
        self.metrics.join_pending.labels("feedback").set(f_pending)
        joins = [s.join for s in self.states.values()]
        self.metrics.join_dropped.labels("both", "evicted").set(sum(j.evicted for j in joins))
        self.metrics.join_dropped.labels("predictions", "expired").set(sum(j.expired_predictions for j in joins))
        self.metrics.join_dropped.labels("feedback", "expired").set(sum(j.expired_feedback for j in joins))
        self._last_checkpoint = self.clock()

    def _load_checkpoint(self, partition: int) -> PartitionState | None:
        """The partition's last checkpoint; retried while the store is away (inside a rebalance
        callback, so it sleeps instead of polling: librdkafka heartbeats from its own thread)."""
        delay = 0.1
        while True:
            try:
                rows = self.store.execute(
                    "SELECT state, offsets FROM checkpoints FINAL WHERE group_id = %(g)s AND kafka_partition = %(p)s",
                    {"g": self.settings.kafka.group_id, "p": partition},
                )
                break
            except StoreError as exc:
                if not exc.retriable or self.stopping.is_set():
                    raise
                log.warning("cannot read the checkpoint of partition %d, retrying in %.1fs: %s", partition, delay, exc)
                self.metrics.paused.set(1)
                self.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF_S)
        self.metrics.paused.set(1 if self._paused else 0)
        if not rows:
            return None
        (state, offsets), = rows
        try:
            offsets = json.loads(offsets)
        except ValueError:
            offsets = None  # only a version-1 checkpoint needs them, and says so
        # A version-2 document is stored as JSON text; version 1 (a pickle) as base64, and it is
        # rebuilt from the event tables at the row's offsets, never unpickled.
        blob = state.encode() if state.startswith("{") else base64.b64decode(state)
        return self.processor.restore_partition(blob, self._pending_join, partition=partition,
                                                offsets=offsets, history_loader=self._history)

    def _pending_join(self, partition: int, offsets: dict, horizon_ms: int, limit: int):
        """The label join's pending entries at the checkpoint, read back from the event tables."""
        k = self.settings.kafka
        return load_pending_join(self.store, partition=partition, horizon_ms=horizon_ms, limit=limit,
                                 predictions_offset=offsets.get(k.predictions_topic, 0),
                                 feedback_offset=offsets.get(k.feedback_topic, 0))

    def _history(self, partition: int, offsets: dict, horizon_ms: int, warmup: dict):
        """The partition's stored events below the checkpoint offsets, to rebuild a version-1 checkpoint."""
        k = self.settings.kafka
        return read_partition_history(self.store, partition=partition, horizon_ms=horizon_ms, warmup=warmup,
                                      predictions_offset=offsets.get(k.predictions_topic, 0),
                                      feedback_offset=offsets.get(k.feedback_topic, 0))

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._generation += 1
        for p in sorted({tp.partition for tp in partitions}):
            if p in self.states:
                continue
            state = self._load_checkpoint(p)
            self.states[p] = state or self.processor.new_partition(p)
            log.info("partition %d assigned (%s)", p, "restored from checkpoint" if state else "fresh state")
        self._restart_idle_clocks(self.states.values())
        for tp in partitions:
            offset = self.states[tp.partition].offsets.get(tp.topic)
            tp.offset = offset if offset is not None else OFFSET_BEGINNING
        consumer.assign(partitions)
        self.ready.set()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._generation += 1
        revoked = sorted({tp.partition for tp in partitions} & set(self.states))
        if revoked:
            try:
                self.checkpoint(revoked, wait=False)
            except StoreError as exc:
                log.warning("checkpoint on revoke failed, the next owner replays more: %s", exc)
            for p in revoked:
                del self.states[p]
        consumer.unassign()

    def _report_lag(self) -> None:
        self._last_lag = self.clock()
        try:
            positions = self.consumer.position(self.consumer.assignment())
        except Exception:  # noqa: BLE001 - lag is best effort
            return
        for tp in positions:
            low, high = self.consumer.get_watermark_offsets(tp, cached=True)
            if high >= 0 and tp.offset >= 0:
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(0, high - tp.offset))

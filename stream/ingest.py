"""The batch ingest loop: confluent-kafka consume -> Processor -> ClickHouse, checkpoint, commit.

It runs in one dedicated thread (the Faust worker owns the event loop, web
server and alert delivery). Guarantee: at-least-once. Offsets are committed
only at a checkpoint, after every buffered row and the state of each
partition are durably written; a crash replays from the last checkpoint with
the state as it was then, and idempotent tables absorb the replay.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from sinks.errors import StoreError
from sinks.metrics import WorkerMetrics
from sinks.store import Store
from sinks.writer import EventWriter

from .config import Settings
from .events import DeadLetter
from .processor import BatchOutput, PartitionState, Processor

__all__ = ["IngestLoop"]

log = logging.getLogger("driftline.ingest")

MAX_DEAD_LETTER_STORED_BYTES = 65_536


class IngestLoop:
    def __init__(self, settings: Settings, processor: Processor, store: Store, writer: EventWriter,
                 metrics: WorkerMetrics, consumer: Consumer, producer: Producer, *,
                 on_alert: Callable = lambda alert: None, clock: Callable[[], float] = time.time,
                 max_buffered_rows: int = 500_000) -> None:
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
        self.states: dict[int, PartitionState] = {}
        self.stopping = threading.Event()
        self.ready = threading.Event()  # set once partitions are assigned
        self._last_flush = self._last_checkpoint = self._last_lag = clock()
        self.topics = (settings.kafka.predictions_topic, settings.kafka.feedback_topic)
        metrics.buffer_cap.set(max_buffered_rows)

    # -- lifecycle -----------------------------------------------------------------------------
    def run(self) -> None:
        self.consumer.subscribe(list(self.topics), on_assign=self._on_assign, on_revoke=self._on_revoke)
        self.metrics.up.set(1)
        try:
            while not self.stopping.is_set():
                self.step()
            self.checkpoint()
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
        by_partition: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", err)
                continue
            ts_type, ts = msg.timestamp()
            record = (msg.partition(), msg.offset(), msg.value(), ts if ts_type else 0)
            by_partition[msg.partition()][0 if msg.topic() == self.topics[0] else 1].append(record)
        now_ms = int(started * 1000)
        for partition, (predictions, feedback) in by_partition.items():
            state = self.states.get(partition)
            if state is None:  # message from a partition revoked in this very batch
                continue
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
        if self.writer.buffered_rows >= self.settings.clickhouse.flush_rows or (
                done - self._last_flush >= self.settings.clickhouse.flush_interval_s):
            self.flush()
        if done - self._last_checkpoint >= self.settings.worker.checkpoint_interval_s:
            self.checkpoint()
        if done - self._last_lag >= 1.0:
            self._report_lag()

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
            self.producer.produce(self.settings.kafka.alerts_topic, key=alert.dedup_key.encode(),
                                  value=json.dumps(alert.to_dict(), default=str).encode())
            self.on_alert(alert)
        self.producer.poll(0)
        m.buffered_rows.set(self.writer.buffered_rows)

    def _dead_letter(self, dead: DeadLetter) -> None:
        self.metrics.dead_letters.labels(dead.reason).inc()
        headers = [("driftline-reason", dead.reason.encode()), ("driftline-detail", dead.detail[:1000].encode()),
                   ("driftline-topic", dead.topic.encode()), ("driftline-partition", str(dead.partition).encode()),
                   ("driftline-offset", str(dead.offset).encode())]
        payload = dead.payload[: self.settings.kafka.max_message_bytes]
        self.producer.produce(self.settings.kafka.dead_letter_topic, value=payload, headers=headers)
        stored = dead.payload[:MAX_DEAD_LETTER_STORED_BYTES].decode("utf-8", errors="backslashreplace")
        self.writer.add_columns("dead_letters", {
            "topic": [dead.topic], "kafka_partition": [dead.partition], "kafka_offset": [dead.offset],
            "reason": [dead.reason], "detail": [dead.detail[:2000]], "payload": [stored],
            "payload_bytes": [len(dead.payload)], "ts": [dead.ts_ms // 1000 if dead.ts_ms else int(self.clock())],
        })

    def flush(self) -> None:
        """Write buffered rows; while the store fails, pause consumption (backpressure) and retry."""
        delay = 0.1
        paused = False
        while True:
            try:
                self.writer.flush()
                break
            except StoreError as exc:
                if not paused:
                    log.warning("store unavailable, pausing consumption: %s", exc)
                    self.consumer.pause(self.consumer.assignment())
                    self.metrics.paused.set(1)
                    paused = True
                if self.stopping.is_set() and self.writer.buffered_rows == 0:
                    break
                self.consumer.consume(1, min(delay, 1.0))  # keeps group membership alive while paused
                delay = min(delay * 2, 5.0)
        if paused:
            log.info("store is back, resuming consumption")
            self.consumer.resume(self.consumer.assignment())
            self.metrics.paused.set(0)
        self.producer.flush(10)
        self._last_flush = self.clock()
        self.metrics.buffered_rows.set(self.writer.buffered_rows)

    # -- checkpoints ---------------------------------------------------------------------------
    def checkpoint(self, partitions: list[int] | None = None) -> None:
        started = self.clock()
        self.flush()
        chosen = sorted(self.states) if partitions is None else partitions
        if not chosen:
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
            cols["state"].append(base64.b64encode(state.snapshot()).decode())
            commits.extend(TopicPartition(t, p, o) for t, o in state.offsets.items())
        try:
            self.store.insert("checkpoints", cols)
        except StoreError:
            self.metrics.checkpoints.labels("error").inc()
            raise
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
        self._last_checkpoint = self.clock()

    def _load_checkpoint(self, partition: int) -> PartitionState | None:
        rows = self.store.execute(
            "SELECT state FROM checkpoints FINAL WHERE group_id = %(g)s AND kafka_partition = %(p)s",
            {"g": self.settings.kafka.group_id, "p": partition},
        )
        if not rows:
            return None
        return self.processor.restore_partition(base64.b64decode(rows[0][0]))

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for p in sorted({tp.partition for tp in partitions}):
            if p in self.states:
                continue
            state = self._load_checkpoint(p)
            self.states[p] = state or self.processor.new_partition(p)
            log.info("partition %d assigned (%s)", p, "restored from checkpoint" if state else "fresh state")
        for tp in partitions:
            offset = self.states[tp.partition].offsets.get(tp.topic)
            tp.offset = offset if offset is not None else OFFSET_BEGINNING
        consumer.assign(partitions)
        self.ready.set()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = sorted({tp.partition for tp in partitions} & set(self.states))
        if revoked:
            try:
                self.checkpoint(revoked)
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

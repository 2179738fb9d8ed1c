"""Checkpoints: flush, wait for the broker's acks, write each partition's state, commit its offsets.

The order is the at-least-once guarantee. Offsets are committed only after every
buffered row is stored, every dead letter and alert handed to the producer is
acknowledged, and the state of each partition is written with those offsets; a
crash at any point replays from the previous checkpoint, with the state as it
was then. The ``checkpoints`` table, not the committed offsets, is the source of
truth on restore. Alerts go to delivery only once their rows are stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from confluent_kafka import TopicPartition
from driftline.alerting import Alert
from driftline.sinks.checkpoints import Checkpoint, CheckpointStore
from driftline.sinks.errors import StoreError
from driftline.sinks.metrics import WorkerMetrics
from driftline.sinks.writer import EventWriter

from .backpressure import Backpressure
from .processor import PartitionState, Processor
from .rebalance import Partitions

__all__ = ["CheckpointCoordinator", "HistoryLoader", "PendingJoinLoader"]

log = logging.getLogger("driftline.ingest")


class PendingJoinLoader(Protocol):
    """Reads the label join's pending rows back (:func:`driftline.sinks.join_state.load_pending_join`
    with its store bound)."""

    def __call__(self, *, partition: int, predictions_offset: int, feedback_offset: int, horizon_ms: int,
                 limit: int) -> tuple[list[tuple], list[tuple]]: ...


class HistoryLoader(Protocol):
    """Reads a partition's stored events back (:func:`driftline.sinks.history.read_partition_history`
    with its store bound), to rebuild a previous release's checkpoint."""

    def __call__(self, *, partition: int, predictions_offset: int, feedback_offset: int, horizon_ms: int,
                 warmup: Mapping[str, int]) -> tuple[Any, Any]: ...


class CheckpointCoordinator:
    """``topics`` are the predictions and feedback topics, in this order."""

    def __init__(self, topics: tuple[str, str], processor: Processor, partitions: Partitions, writer: EventWriter,
                 store: CheckpointStore, pending_join: PendingJoinLoader, producer: Any, consumer: Any,
                 metrics: WorkerMetrics, backpressure: Backpressure, *, history: HistoryLoader | None = None,
                 on_alert: Callable[[Alert], None] = lambda alert: None, clock: Callable[[], float] = time.time,
                 producer_flush_timeout_s: float = 10.0) -> None:
        if not producer_flush_timeout_s > 0:
            raise ValueError(f"producer_flush_timeout_s must be > 0, got {producer_flush_timeout_s}")
        self.predictions_topic, self.feedback_topic = topics
        self.processor = processor
        self.partitions = partitions
        self.writer = writer
        self.store = store
        self.pending_join = pending_join
        self.history = history
        self.producer = producer
        self.consumer = consumer
        self.metrics = metrics
        self.backpressure = backpressure
        self.on_alert = on_alert
        self.clock = clock
        self.producer_flush_timeout_s = producer_flush_timeout_s
        self.unsent_alerts: list[Alert] = []  # alerts waiting for their rows to be stored
        self.flushed_at = self.checkpointed_at = clock()

    # -- writing -------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write buffered rows; while the store fails, pause consumption (backpressure) and retry."""
        self.backpressure.until_stored("flush", self._write_rows)
        self.producer.poll(0)
        self.flushed_at = self.clock()
        self.metrics.buffered_rows.set(self.writer.buffered_rows)

    def _write_rows(self) -> None:
        self.writer.flush()
        # Alerts are handed to delivery only once their rows are stored: a delivered alert always
        # has its row in `alerts`, and one lost to a crash before that is recomputed on replay.
        unsent, self.unsent_alerts = self.unsent_alerts, []
        for alert in unsent:
            self.on_alert(alert)

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
        states = self.partitions.states
        chosen = sorted(states) if partitions is None else partitions
        if not chosen:
            self.checkpointed_at = self.clock()
            return
        undelivered = self.producer.flush(self.producer_flush_timeout_s if wait else 1.0)
        if undelivered:
            log.warning("checkpoint postponed: %d dead letter/alert message(s) not yet acknowledged by the "
                        "broker", undelivered)
            self.metrics.checkpoints.labels("postponed").inc()
            self.checkpointed_at = self.clock()
            return
        seq = int(started * 1000)
        rows = [Checkpoint(p, seq, dict(states[p].offsets), states[p].snapshot()) for p in chosen]
        commits = [TopicPartition(t, c.partition, o) for c in rows for t, o in c.offsets.items()]
        generation = self.partitions.generation

        def save() -> None:
            if self.partitions.generation != generation:
                return  # a rebalance ran while we waited: these partitions may have moved
            try:
                self.store.save(rows)
            except StoreError:
                self.metrics.checkpoints.labels("error").inc()
                raise

        if wait:
            self.backpressure.until_stored("checkpoint", save)
        else:
            save()
        if self.partitions.generation != generation:
            log.info("checkpoint skipped: partitions were reassigned while the store was away")
            self.checkpointed_at = self.clock()
            return
        if commits:
            try:
                self.consumer.commit(offsets=commits, asynchronous=False)
            except Exception as exc:  # the checkpoint table stays the source of truth
                log.warning("offset commit failed (checkpoint is saved): %s", exc)
        self.metrics.checkpoints.labels("ok").inc()
        self.metrics.checkpoint_duration.observe(self.clock() - started)
        self._report_join()
        self.checkpointed_at = self.clock()

    def _report_join(self) -> None:
        joins = [s.join for s in self.partitions.states.values()]
        m = self.metrics
        m.join_pending.labels("predictions").set(sum(j.pending[0] for j in joins))
        m.join_pending.labels("feedback").set(sum(j.pending[1] for j in joins))
        m.join_dropped.labels("both", "evicted").set(sum(j.evicted for j in joins))
        m.join_dropped.labels("predictions", "expired").set(sum(j.expired_predictions for j in joins))
        m.join_dropped.labels("feedback", "expired").set(sum(j.expired_feedback for j in joins))

    # -- reading -------------------------------------------------------------------------------
    def load(self, partition: int) -> PartitionState | None:
        """The partition's state at its last checkpoint, or None; retried while the store is away."""
        checkpoint = self.backpressure.until_stored(
            f"checkpoint read of partition {partition}", lambda: self.store.load(partition), in_rebalance=True)
        if checkpoint is None:
            return None
        return self.processor.restore_partition(
            checkpoint.state, self._pending_join, partition=partition, offsets=checkpoint.offsets,
            history_loader=self._history if self.history is not None else None)

    def _history(self, partition: int, offsets: Mapping[str, int], horizon_ms: int, warmup: Mapping[str, int]):
        """The partition's stored events below the checkpoint offsets (a previous release's checkpoint)."""
        return self.history(partition=partition, horizon_ms=horizon_ms, warmup=warmup,
                            predictions_offset=offsets.get(self.predictions_topic, 0),
                            feedback_offset=offsets.get(self.feedback_topic, 0))

    def _pending_join(self, partition: int, offsets: Mapping[str, int], horizon_ms: int, limit: int):
        """The label join's pending entries at the checkpoint: what the join had read of each topic."""
        return self.pending_join(partition=partition, horizon_ms=horizon_ms, limit=limit,
                                 predictions_offset=offsets.get(self.predictions_topic, 0),
                                 feedback_offset=offsets.get(self.feedback_topic, 0))

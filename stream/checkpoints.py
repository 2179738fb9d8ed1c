"""Checkpoints: flush, wait for the broker's acks, write each partition's state, commit its offsets.

The order is the at-least-once guarantee. A checkpoint first stores every buffered
row (rows the store refuses are dead-lettered first) and waits until the broker has
acknowledged every dead letter and alert handed to the producer; only then are the
offsets committed and each partition's state written with them. A crash at any point
replays from the previous checkpoint row, with the state as it was then: the
``checkpoints`` table, not the committed offsets, is the source of truth on restore, so
committing just before the row is written (the commit is the ownership fence) loses
nothing. Alerts go to delivery only once their rows are stored.

Which partition a worker may write, and in what order its rows rank, is
:mod:`~driftline.stream.ownership`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from driftline.alerting import Alert
from driftline.sinks.checkpoints import CheckpointStore
from driftline.sinks.errors import StoreError
from driftline.sinks.isolation import rejected_letter
from driftline.sinks.metrics import WorkerMetrics
from driftline.sinks.writer import EventWriter

from .backpressure import Backpressure
from .deliveries import KafkaOutput
from .keying import KeyingWatch
from .ownership import Ownership
from .processor import PartitionState, Processor
from .rebalance import Partitions

__all__ = ["CheckpointCoordinator", "HistoryLoader", "PendingJoinLoader"]

log = logging.getLogger("driftline.ingest")

class PendingJoinLoader(Protocol):
    """Reads the label join's pending rows back (:func:`driftline.sinks.join_state.load_pending_join`
    with its store bound)."""

    def __call__(self, *, partition: int, predictions_offset: int, feedback_offset: int, horizon_ms: int,
                 limit: int, segments: bool = False) -> tuple[list[tuple], list[tuple]]: ...


class HistoryLoader(Protocol):
    """Reads a partition's stored events back (:func:`driftline.sinks.history.read_partition_history`
    with its store bound), to rebuild a previous release's checkpoint."""

    def __call__(self, *, partition: int, predictions_offset: int, feedback_offset: int, horizon_ms: int,
                 warmup: Mapping[str, int]) -> tuple[Any, Any]: ...


class CheckpointCoordinator:
    """``topics`` are the predictions and feedback topics, in this order; ``dead_letter(letters)``
    dead-letters the rows the store refused (topic, table and metrics, like any dead letter)."""

    def __init__(self, topics: tuple[str, str], processor: Processor, partitions: Partitions, writer: EventWriter,
                 store: CheckpointStore, pending_join: PendingJoinLoader, output: KafkaOutput, consumer: Any,
                 metrics: WorkerMetrics, backpressure: Backpressure, keying: KeyingWatch, *,
                 dead_letter: Callable[[list], None], history: HistoryLoader | None = None,
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
        self.output = output
        self.consumer = consumer
        self.metrics = metrics
        self.backpressure = backpressure
        self.keying = keying
        self.dead_letter = dead_letter
        self.on_alert = on_alert
        self.clock = clock
        self.producer_flush_timeout_s = producer_flush_timeout_s
        self.unsent_alerts: list[Alert] = []  # alerts waiting for their rows to be stored
        self.flushed_at = self.checkpointed_at = clock()
        self.ownership = Ownership(consumer, partitions, metrics)

    # -- writing -------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write buffered rows; while the store fails, pause consumption (backpressure) and retry."""
        self.backpressure.until_stored("flush", self._write_rows)
        self.output.producer.poll(0)
        self.flushed_at = self.clock()
        self.metrics.buffered_rows.set(self.writer.buffered_rows)

    def _write_rows(self) -> None:
        self.writer.flush()
        rejected = self.writer.take_rejected()
        if rejected:
            self._dead_letter_rejected(rejected)
            self.writer.flush()  # their dead_letters rows
        # Alerts are handed to delivery only once their rows are stored: a delivered alert always
        # has its row in `alerts`, and one lost to a crash before that is recomputed on replay.
        unsent, self.unsent_alerts = self.unsent_alerts, []
        for alert in unsent:
            self.on_alert(alert)

    def _dead_letter_rejected(self, rejected: list) -> None:
        topics = {"predictions": self.predictions_topic, "feedback": self.feedback_topic}
        letters = []
        for row in rejected:
            self.metrics.store_rejected.labels(row.table).inc()
            if row.table == "dead_letters":  # never dead-lettered again: that could go round forever
                log.error("the store refused a dead_letters row (topic %s, partition %s, offset %s): %s",
                          row.row.get("topic"), row.row.get("kafka_partition"), row.row.get("kafka_offset"),
                          row.message)
                continue
            letters.append(rejected_letter(row, topics=topics))
        log.warning("the store refused %d row(s) (%s): dead-lettered as store_rejected, the rest of their "
                    "batches is stored; first: %s", len(rejected), ", ".join(sorted({r.table for r in rejected})),
                    rejected[0].message)
        if letters:
            self.dead_letter(letters)

    def checkpoint(self, partitions: list[int] | None = None, *, wait: bool = True) -> None:
        """Flush, then write the partitions' state and offsets and commit them.

        ``wait=False`` (inside a rebalance callback) tries once and raises StoreError instead of
        retrying; a checkpoint is postponed while any dead letter or alert is not acknowledged by
        the broker (it is produced again meanwhile), since committing would lose it.
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
        undelivered = self.output.settle(self.producer_flush_timeout_s if wait else 1.0)
        if undelivered:
            log.warning("checkpoint postponed: %d dead letter/alert message(s) not yet acknowledged by the "
                        "broker", undelivered)
            self.metrics.checkpoints.labels("postponed").inc()
            self.checkpointed_at = self.clock()
            return
        rows = [self.ownership.next_row(p, states[p], self.keying.models(p)) for p in chosen]
        generation = self.partitions.generation
        if not self.ownership.still_owned(chosen, generation):
            self.checkpointed_at = self.clock()
            return

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
        self.ownership.written(rows)
        self.metrics.checkpoints.labels("ok").inc()
        self.metrics.checkpoint_duration.observe(self.clock() - started)
        self._report_join()
        self._report_keying()
        self.checkpointed_at = self.clock()

    def _report_join(self) -> None:
        joins = [s.join for s in self.partitions.states.values()]
        m = self.metrics
        m.join_pending.labels("predictions").set(sum(j.pending[0] for j in joins))
        m.join_pending.labels("feedback").set(sum(j.pending[1] for j in joins))
        m.join_dropped.labels("both", "evicted").set(sum(j.evicted for j in joins))
        m.join_dropped.labels("predictions", "expired").set(sum(j.expired_predictions for j in joins))
        m.join_dropped.labels("feedback", "expired").set(sum(j.expired_feedback for j in joins))

    def _report_keying(self) -> None:
        """Models on more than one partition, over every worker's newest checkpoints."""
        try:
            self.keying.update(self.store.partition_models())
        except StoreError as exc:  # only a report: the next checkpoint tries again
            log.debug("keying check skipped: %s", exc)

    # -- assignment ------------------------------------------------------------------------------
    def load(self, partition: int) -> PartitionState | None:
        """The partition's state at its last checkpoint, or None; retried while the store is away."""
        checkpoint = self.backpressure.until_stored(
            f"checkpoint read of partition {partition}", lambda: self.store.load(partition), in_rebalance=True)
        self.ownership.loaded(partition, checkpoint)
        if checkpoint is None:
            return None
        return self.processor.restore_partition(
            checkpoint.state, self._pending_join, partition=partition, offsets=checkpoint.offsets,
            history_loader=self._history if self.history is not None else None)

    def claim(self, states: Mapping[int, PartitionState]) -> None:
        """Take ownership of newly assigned partitions: write each one's state under the next epoch."""
        rows = self.ownership.claims(states)
        self.backpressure.until_stored(f"checkpoint claim of partition(s) {', '.join(map(str, sorted(states)))}",
                                       lambda: self.store.save(rows), in_rebalance=True)
        self.ownership.written(rows)

    def release(self, partitions: list[int]) -> None:
        """The partitions left this worker: it no longer writes or reports them."""
        self.ownership.release(partitions)
        for partition in partitions:
            self.keying.forget(partition)

    # -- reading -------------------------------------------------------------------------------
    def _history(self, partition: int, offsets: Mapping[str, int], horizon_ms: int, warmup: Mapping[str, int]):
        """The partition's stored events below the checkpoint offsets (a previous release's checkpoint)."""
        return self.history(partition=partition, horizon_ms=horizon_ms, warmup=warmup,
                            predictions_offset=offsets.get(self.predictions_topic, 0),
                            feedback_offset=offsets.get(self.feedback_topic, 0))

    def _pending_join(self, partition: int, offsets: Mapping[str, int], horizon_ms: int, limit: int, **options):
        """The label join's pending entries at the checkpoint: what the join had read of each topic
        (``options``: ``segments=True`` for the segment groups, see :meth:`Processor.load_pending`)."""
        return self.pending_join(partition=partition, horizon_ms=horizon_ms, limit=limit, **options,
                                 predictions_offset=offsets.get(self.predictions_topic, 0),
                                 feedback_offset=offsets.get(self.feedback_topic, 0))

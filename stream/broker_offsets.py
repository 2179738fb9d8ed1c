"""What the broker's offsets tell the worker: how far behind it is, and records the broker lost.

A broker that loses its data (an in-memory broker restarted empty, a truncated
log) shows it in two ways: the first offset read from a partition is lower than
the one the state expects, or, before anything comes back, the partition now
ends below it. Either is logged with topic, partition, expected and new offset,
counted in ``driftline_broker_offset_resets_total``, and processing goes on
with the new data. A first offset *above* the expected one is a gap the broker
skipped on purpose (retention, compaction): logged only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import TopicPartition
from driftline.sinks.metrics import WorkerMetrics

from .backpressure import Backpressure
from .processor import PartitionState
from .rebalance import Partitions

__all__ = ["BrokerOffsets"]

log = logging.getLogger("driftline.ingest")


class BrokerOffsets:
    def __init__(self, consumer: Any, partitions: Partitions, metrics: WorkerMetrics, backpressure: Backpressure,
                 *, clock: Callable[[], float] = time.time) -> None:
        self.consumer = consumer
        self.partitions = partitions
        self.metrics = metrics
        self.backpressure = backpressure
        self.clock = clock
        self.checked_at = clock()

    def check_first_offset(self, state: PartitionState, topic: str, records: list) -> None:
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

    def check(self) -> dict[tuple[str, int], tuple[int, int]] | None:
        """The periodic checks (about once a second): consumer lag, then watermarks.
        Returns what :meth:`report_lag` found."""
        lag = self.report_lag()
        self.check_watermarks()
        return lag

    def report_lag(self) -> dict[tuple[str, int], tuple[int, int]] | None:
        """(topic, partition) -> (position, lag) of the partitions whose position is known;
        None when the consumer could not say."""
        self.checked_at = self.clock()
        try:
            positions = self.consumer.position(self.consumer.assignment())
        except Exception:  # noqa: BLE001 - lag is best effort
            return None
        found = {}
        for tp in positions:
            low, high = self.consumer.get_watermark_offsets(tp, cached=True)
            if high >= 0 and tp.offset >= 0:
                behind = max(0, high - tp.offset)
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(behind)
                found[(tp.topic, tp.partition)] = (tp.offset, behind)
        return found

    def check_watermarks(self) -> None:
        """Detect a broker that lost data before any record comes back: the partition now ends
        below the offset the state expects (Kafka would answer OFFSET_OUT_OF_RANGE and reset; some
        brokers, Tansu among them, answer with nothing). Seek to the partition's new start.

        The high watermark used is the one of the last fetch response (``cached=True``), which the
        state's expected offset never exceeds while the broker keeps its data.
        """
        if self.backpressure.paused:
            return
        states = self.partitions.states
        for tp in self.consumer.assignment():
            state = states.get(tp.partition)
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

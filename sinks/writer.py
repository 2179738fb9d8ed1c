"""Buffered, columnar writes of events and results to a :class:`~driftline.sinks.store.Store`.

``add_*`` only appends to in-memory column lists; :meth:`EventWriter.flush`
does one insert per table. Delivery guarantee: at-least-once. A flush that fails
because the store is away (a retriable error) keeps the buffer (so nothing is
lost) and raises; the caller retries and does not commit offsets until a flush
succeeded. Rows the store refuses (:class:`~driftline.sinks.errors.StoreRejected`)
never block the rest: :func:`~driftline.sinks.isolation.insert_isolating` finds
them, the others are stored, and the refused rows wait in :meth:`EventWriter.take_rejected`
for the caller to dead-letter. Every table is a ReplacingMergeTree keyed on the
row's identity, so a retried or replayed batch leaves no duplicate visible
through ``FINAL``. Window results carry the Kafka partition that computed them
(``kafka_partition``, part of their key), so two partitions never replace each
other's results.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from driftline.alerting import Alert
from driftline.detectors import WindowReport

from .isolation import MAX_ISOLATION_INSERTS, RejectedRow, insert_isolating
from .rows import TableRows
from .segment_rows import add_segment_rows
from .store import Store

__all__ = ["EventWriter"]

_TABLE_ORDER = ("predictions", "feedback", "dead_letters", "window_metrics", "drift_results", "segment_metrics",
                "fairness_results", "alerts")


class EventWriter:
    def __init__(self, store: Store, *, clock: Callable[[], float], on_insert=None,
                 max_isolation_inserts: int = MAX_ISOLATION_INSERTS) -> None:
        if max_isolation_inserts < 1:
            raise ValueError(f"max_isolation_inserts must be >= 1, got {max_isolation_inserts}")
        self.store = store
        self.clock = clock
        self.on_insert = on_insert  # callback(table, rows, seconds, error)
        self.max_isolation_inserts = max_isolation_inserts
        self._buffers: dict[str, dict[str, list]] = {}
        self._rejected: list[RejectedRow] = []

    @property
    def buffered_rows(self) -> int:
        return sum(_rows(cols) for cols in self._buffers.values())

    def add_rows(self, rows: TableRows) -> None:
        """Buffer a batch from one of the row builders of :mod:`driftline.sinks.rows`."""
        if len(rows):
            self.add_columns(rows.table, rows.columns())

    def add_columns(self, table: str, columns: Mapping[str, Sequence[Any]]) -> None:
        buffer = self._buffers.setdefault(table, defaultdict(list))
        for name, values in columns.items():
            buffer[name].extend(values)

    def add_report(self, report: WindowReport, *, partition: int) -> None:
        """Buffer a closed window's results; ``partition`` is the Kafka partition that computed them."""
        now = int(self.clock())
        start, end = report.window_start_ms // 1000, report.window_end_ms // 1000
        metrics = self._buffers.setdefault("window_metrics", defaultdict(list))
        for m in report.metrics:
            for name, value in (("model", report.model), ("version", report.version), ("window_start", start),
                                ("window_end", end), ("metric", m.name), ("value", m.value), ("n", m.n),
                                ("kafka_partition", partition), ("computed_at", now)):
                metrics[name].append(value)
        drift = self._buffers.setdefault("drift_results", defaultdict(list))
        for r in report.drift:
            for name, value in (("model", report.model), ("version", report.version), ("window_start", start),
                                ("window_end", end), ("feature", r.feature), ("test", r.stored_test),
                                ("statistic", float(r.statistic)), ("p_value", r.p_value),
                                ("threshold", float(r.threshold)), ("drifted", int(r.drifted)),
                                ("raw_drifted", int(r.drifted if r.raw_drifted is None else r.raw_drifted)),
                                ("corrected", r.corrected), ("kafka_partition", partition), ("computed_at", now)):
                drift[name].append(value)

        # Concept-drift state changes of the error stream share the table, as the pseudo-feature
        # "error_stream" with the detector as the test (statistic 1 = drift, 0.5 = warning).
        for event in report.concept:
            for name, value in (("model", report.model), ("version", report.version), ("window_start", start),
                                ("window_end", end), ("feature", "error_stream"), ("test", event.detector),
                                ("statistic", 1.0 if event.state == "drift" else 0.5), ("p_value", None),
                                ("threshold", 1.0), ("drifted", int(event.state == "drift")),
                                ("raw_drifted", int(event.state == "drift")), ("corrected", "none"),
                                ("kafka_partition", partition), ("computed_at", now)):
                drift[name].append(value)

        if report.segments or report.fairness:
            add_segment_rows(self._buffers, report, partition=partition, now_s=now)

    def add_alert(self, alert: Alert) -> None:
        payload = alert.to_dict()
        row = {
            "alert_id": alert.alert_id, "dedup_key": alert.dedup_key, "status": alert.status,
            "kind": alert.kind, "severity": alert.severity, "action": alert.action,
            "model": alert.model, "version": alert.version,
            "feature": alert.features[0].name if alert.features else "",
            "features": json.dumps([f.name for f in alert.features]),
            "window_start": alert.window_start_ms // 1000, "window_end": alert.window_end_ms // 1000,
            "summary": alert.summary, "payload": json.dumps(payload, default=str),
            "ts": alert.ts_ms // 1000,
        }
        self.add_columns("alerts", {k: [v] for k, v in row.items()})

    def flush(self) -> int:
        """Insert every buffered table; returns the rows stored.

        A retriable error leaves the unwritten tables buffered and raises. Rows the store
        refuses are left out and kept for :meth:`take_rejected`; the rest of their table is stored.
        """
        written = 0
        for table in sorted(self._buffers, key=lambda t: _TABLE_ORDER.index(t) if t in _TABLE_ORDER else 99):
            columns = self._buffers[table]
            rows = _rows(columns)
            if not rows:
                continue
            started = self.clock()
            try:
                rejected = insert_isolating(self.store.insert, table, columns, max_inserts=self.max_isolation_inserts)
            except Exception as exc:
                if self.on_insert:
                    self.on_insert(table, rows, self.clock() - started, exc)
                raise
            if self.on_insert:
                self.on_insert(table, rows - len(rejected), self.clock() - started, None)
            self._rejected += rejected
            self._buffers[table] = defaultdict(list)
            written += rows - len(rejected)
        return written

    def take_rejected(self) -> list[RejectedRow]:
        """The rows the store refused since the last call (the caller dead-letters them)."""
        rejected, self._rejected = self._rejected, []
        return rejected


def _rows(columns: Mapping[str, list]) -> int:
    return len(next(iter(columns.values()))) if columns else 0

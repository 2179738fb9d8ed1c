"""Prometheus metrics of a worker. The registry comes in through the constructor.

Label cardinality is bounded: models and features come from the config, and a
model's versions are capped (``max_versions``); further versions report as
``"_other"``.
"""

from __future__ import annotations

from driftline.detectors import WindowReport
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["WorkerMetrics"]

_FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY, *, max_versions: int = 20) -> None:
        self.registry = registry
        self.max_versions = max_versions
        self._versions: dict[str, set[str]] = {}
        r = registry
        self.events = Counter("driftline_events_total", "Valid events consumed.", ["model", "version", "stream"], registry=r)
        self.dead_letters = Counter("driftline_dead_letters_total", "Events (and rows the store refused: store_rejected) sent to the dead-letter topic and table.", ["reason"], registry=r)
        self.dead_letters_truncated = Counter("driftline_dead_letters_truncated_total", "Dead letters whose payload was cut to fit the message limit (header driftline-truncated).", registry=r)
        self.produce_failures = Counter("driftline_produce_failures_total", "Messages to the alerts and dead-letter topics the broker did not acknowledge; each is produced again and checkpoints wait for it.", ["topic", "error"], registry=r)
        self.store_rejected = Counter("driftline_store_rejected_rows_total", "Rows the store refused (dead-lettered as store_rejected), by table.", ["table"], registry=r)
        self.model_partitions = Gauge("driftline_model_partitions", "Kafka partitions a model's events arrived on lately; over 1, its producers do not key by model.", ["model"], registry=r)
        self.drift_statistic = Gauge("driftline_drift_statistic", "Drift statistic of the last closed window.", ["model", "version", "feature", "test"], registry=r)
        self.drift_detected = Gauge("driftline_drift_detected", "1 when the feature drifted in the last closed window.", ["model", "version", "feature"], registry=r)
        self.window_metric = Gauge("driftline_window_metric", "Performance/health metric of the last closed window.", ["model", "version", "metric"], registry=r)
        self.windows_closed = Counter("driftline_windows_closed_total", "Event-time windows closed.", ["model", "version"], registry=r)
        self.window_close_lag = Histogram("driftline_window_close_lag_seconds", "Processing time from window end to its close.", ["model"], registry=r, buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300))
        self.late_events = Counter("driftline_late_events_total", "Events for an already closed window.", ["model"], registry=r)
        self.versions_folded = Counter("driftline_versions_folded_total", "Predictions of versions past worker.versions.max_per_model, monitored as version _other.", ["model"], registry=r)
        self.concept_drift = Counter("driftline_concept_drift_total", "Concept-drift detector state changes on the error stream.", ["model", "version", "detector", "state"], registry=r)
        self.alerts = Counter("driftline_alerts_total", "Alert state changes.", ["kind", "severity", "status"], registry=r)
        self.deliveries = Counter("driftline_alert_deliveries_total", "Alert deliveries by channel and result.", ["channel", "result"], registry=r)
        self.batch_duration = Histogram("driftline_batch_duration_seconds", "Processing time of one consumed batch.", ["stage"], registry=r, buckets=_FAST_BUCKETS)
        self.batch_size = Histogram("driftline_batch_messages", "Messages per consumed batch.", registry=r, buckets=(1, 10, 100, 1000, 5000, 10000, 50000))
        self.flush_duration = Histogram("driftline_clickhouse_insert_duration_seconds", "ClickHouse insert time per table.", ["table"], registry=r, buckets=_FAST_BUCKETS)
        self.insert_rows = Counter("driftline_clickhouse_insert_rows_total", "Rows inserted into ClickHouse.", ["table"], registry=r)
        self.insert_errors = Counter("driftline_clickhouse_insert_errors_total", "Failed ClickHouse inserts.", ["table"], registry=r)
        self.consumer_lag = Gauge("driftline_consumer_lag_messages", "High watermark minus position, per partition.", ["topic", "partition"], registry=r)
        self.checkpoints = Counter("driftline_checkpoints_total", "State checkpoints by result: ok, error, postponed (messages not acknowledged), fenced (partition no longer owned).", ["result"], registry=r)
        self.checkpoint_duration = Histogram("driftline_checkpoint_duration_seconds", "Time to flush, checkpoint and commit.", registry=r, buckets=_FAST_BUCKETS)
        self.join_pending = Gauge("driftline_join_pending", "Entries waiting in the label join.", ["side"], registry=r)
        self.buffered_rows = Gauge("driftline_buffered_rows", "Rows buffered for ClickHouse.", registry=r)
        self.buffer_cap = Gauge("driftline_buffered_rows_cap", "Cap on buffered rows before the consumer pauses.", registry=r)
        self.join_dropped = Gauge("driftline_join_dropped", "Join entries dropped unmatched since the partition state began, by cause (evicted at the cap, expired past max_delay).", ["side", "cause"], registry=r)
        self.join_pending_cap = Gauge("driftline_join_pending_cap", "Cap on entries waiting in the label join, per side and partition.", registry=r)
        self.paused = Gauge("driftline_consumer_paused", "1 while the consumer is paused for backpressure.", registry=r)
        self.broker_resets = Counter("driftline_broker_offset_resets_total", "Partitions whose offsets went backwards (broker lost data).", ["topic"], registry=r)
        self.up = Gauge("driftline_worker_up", "1 while the worker's consume loop runs.", registry=r)
        self.reference_info = Gauge("driftline_reference_info", "1 for the reference each monitored version uses: source profile, path or warmup; digest: first 12 hex digits of its sha256, empty while the warm-up runs.", ["model", "version", "source", "digest"], registry=r)
        self.reference_changes = Counter("driftline_reference_changes_total", "Checkpointed versions whose reference the configured one replaced at a restore (the config wins; their drift state restarted).", ["model"], registry=r)
        # Segments and fairness: labels are the configured keys and the fixed set of measures, never group values.
        self.fairness = Gauge("driftline_fairness_measure", "Fairness measure of the last closed window, per sensitive key.", ["model", "version", "key", "measure"], registry=r)
        self.fairness_flagged = Gauge("driftline_fairness_flagged", "1 when the measure was past its threshold with confidence in the last closed window.", ["model", "version", "key", "measure"], registry=r)
        self.segment_groups = Gauge("driftline_segment_groups", "Groups of a segment key in the last closed window (at most its max_values, plus __other__).", ["model", "key"], registry=r)
        self.segment_folded = Counter("driftline_segment_values_folded_total", "Predictions whose segment value was folded into __other__ (past the key's max_values).", ["model", "key"], registry=r)

    def version_label(self, model: str, version: str) -> str:
        seen = self._versions.setdefault(model, set())
        if version in seen or len(seen) < self.max_versions:
            seen.add(version)
            return version
        return "_other"

    def observe_report(self, report: WindowReport, close_lag_s: float) -> None:
        version = self.version_label(report.model, report.version)
        self.windows_closed.labels(report.model, version).inc()
        self.window_close_lag.labels(report.model).observe(max(0.0, close_lag_s))
        for metric in report.metrics:
            if ":" not in metric.name:  # per-feature quality metrics stay in ClickHouse
                self.window_metric.labels(report.model, version, metric.name).set(metric.value)
        drifted: dict[str, bool] = {}
        for r in report.drift:
            self.drift_statistic.labels(report.model, version, r.feature, r.stored_test).set(r.statistic)
            drifted[r.feature] = drifted.get(r.feature, False) or r.drifted
        for event in report.concept:
            self.concept_drift.labels(report.model, version, event.detector, event.state).inc()
        for feature, flag in drifted.items():
            self.drift_detected.labels(report.model, version, feature).set(1 if flag else 0)
        for r in report.fairness:
            self.fairness.labels(report.model, version, r.key, r.measure).set(r.value)
            self.fairness_flagged.labels(report.model, version, r.key, r.measure).set(1 if r.flagged else 0)
        groups: dict[str, int] = {}
        for m in report.segments:
            if m.name == "predictions":
                groups[m.key] = groups.get(m.key, 0) + 1
                if m.group == "__other__":
                    self.segment_folded.labels(report.model, m.key).inc(m.value)
        for key, n in groups.items():
            self.segment_groups.labels(report.model, key).set(n)

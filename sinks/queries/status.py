"""What the status page reads: models' activity, drift results, window metrics and alerts.

Plain functions of a :class:`~driftline.sinks.store.Store`; rows come back as
small frozen dataclasses, times as epoch seconds. The SQL is the same for chdb
and a ClickHouse server (18.16 and later): every table is read with ``FINAL``
and times are ``toUnixTimestamp`` seconds. Blocking: the status page calls them
in a thread executor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..store import Store

__all__ = [
    "AlertRecord", "AlertState", "DriftCell", "MetricPoint", "VersionActivity", "alert_history",
    "busiest_version", "drift_cells_since", "drift_window_starts", "latest_alert_states",
    "latest_drifted_features", "metric_points_since", "metric_window_range", "model_versions",
    "version_activity",
]


@dataclass(frozen=True)
class VersionActivity:
    """What one model version has done: its latest window and how many predictions and labels."""

    model: str
    version: str
    last_window_end_s: int
    predictions: int
    labels: int


@dataclass(frozen=True)
class AlertState:
    """The latest state change of one alert (``dedup_key``) of a model version."""

    model: str
    version: str
    dedup_key: str
    status: str
    kind: str
    severity: str
    summary: str


@dataclass(frozen=True)
class DriftCell:
    """One drift test of one feature in one window."""

    window_start_s: int
    feature: str
    test: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class MetricPoint:
    """One window metric of one version."""

    version: str
    window_start_s: int
    metric: str
    value: float


@dataclass(frozen=True)
class AlertRecord:
    """One stored alert state change; ``payload`` is its v1 JSON body."""

    alert_id: str
    ts_s: int
    status: str
    kind: str
    severity: str
    action: str
    model: str
    version: str
    summary: str
    window_start_s: int
    window_end_s: int
    payload: str


def version_activity(store: Store) -> list[VersionActivity]:
    """Every model version with window metrics."""
    return [VersionActivity(model, version, int(last_end), int(predictions), int(labels))
            for model, version, last_end, predictions, labels in store.execute(
                "SELECT model, version, toUnixTimestamp(max(window_end)), sumIf(value, metric = 'predictions'),"
                " sumIf(value, metric = 'labels') FROM window_metrics FINAL GROUP BY model, version")]


def latest_drifted_features(store: Store) -> list[tuple[str, str, str]]:
    """(model, version, feature) drifted in the latest window that ran feature tests, by feature name.

    Concept drift on the error stream is filed in label windows and shows as alerts instead.
    """
    return [(model, version, feature) for model, version, feature in store.execute(
        "SELECT model, version, feature FROM drift_results FINAL WHERE drifted = 1"
        " AND feature != 'error_stream' AND (model, version, window_start) IN"
        " (SELECT model, version, max(window_start) FROM drift_results FINAL"
        " WHERE feature != 'error_stream' GROUP BY model, version) GROUP BY model, version, feature"
        " ORDER BY feature")]


def latest_alert_states(store: Store) -> list[AlertState]:
    """The latest state of every alert, by ``dedup_key``."""
    return [AlertState(*row) for row in store.execute(
        "SELECT model, version, dedup_key, argMax(status, window_end), argMax(kind, window_end),"
        " argMax(severity, window_end), argMax(summary, window_end) FROM alerts FINAL"
        " GROUP BY model, version, dedup_key ORDER BY dedup_key")]


def busiest_version(store: Store, model: str) -> str | None:
    """The version of ``model`` with the most predictions (ties: the first by name), if any."""
    rows = store.execute(
        "SELECT version FROM window_metrics FINAL WHERE model = %(m)s AND metric = 'predictions'"
        " GROUP BY version ORDER BY sum(value) DESC, version LIMIT 1", {"m": model})
    return rows[0][0] if rows else None


def model_versions(store: Store, model: str) -> list[str]:
    """Versions of ``model`` with window metrics, by name."""
    return [row[0] for row in store.execute(
        "SELECT version FROM window_metrics FINAL WHERE model = %(m)s GROUP BY version ORDER BY version",
        {"m": model})]


def drift_window_starts(store: Store, model: str, version: str, limit: int) -> list[int]:
    """Starts of the latest ``limit`` windows with drift results, oldest first."""
    return [int(row[0]) for row in store.execute(
        "SELECT toUnixTimestamp(window_start) AS w FROM drift_results FINAL"
        " WHERE model = %(m)s AND version = %(v)s GROUP BY w ORDER BY w DESC LIMIT %(n)s",
        {"m": model, "v": version, "n": limit})][::-1]


def drift_cells_since(store: Store, model: str, version: str, since_s: int) -> list[DriftCell]:
    """Drift results of windows starting at or after ``since_s``, by window, feature and test."""
    return [DriftCell(int(w), feature, test, statistic, p_value, threshold, bool(drifted))
            for w, feature, test, statistic, p_value, threshold, drifted in store.execute(
                "SELECT toUnixTimestamp(window_start) AS w, feature, test, statistic, p_value, threshold, drifted"
                " FROM drift_results FINAL WHERE model = %(m)s AND version = %(v)s"
                " AND toUnixTimestamp(window_start) >= %(since)s ORDER BY w, feature, test",
                {"m": model, "v": version, "since": since_s})]


def metric_window_range(store: Store, model: str, metrics: Sequence[str]) -> tuple[int, int]:
    """(first, last) window start with any of ``metrics``; (0, 0) when there is none."""
    (first, last), = store.execute(
        "SELECT toUnixTimestamp(min(window_start)), toUnixTimestamp(max(window_start)) FROM window_metrics FINAL"
        " WHERE model = %(m)s AND metric IN %(metrics)s", {"m": model, "metrics": tuple(metrics)})
    return int(first or 0), int(last or 0)


def metric_points_since(store: Store, model: str, metrics: Sequence[str], since_s: int) -> list[MetricPoint]:
    """Values of ``metrics`` in windows starting at or after ``since_s``, by version and window."""
    return [MetricPoint(version, int(w), metric, value) for version, w, metric, value in store.execute(
        "SELECT version, toUnixTimestamp(window_start) AS w, metric, value FROM window_metrics FINAL"
        " WHERE model = %(m)s AND metric IN %(metrics)s AND toUnixTimestamp(window_start) >= %(since)s"
        " ORDER BY version, w", {"m": model, "metrics": tuple(metrics), "since": since_s})]


def alert_history(store: Store, limit: int, model: str | None = None) -> list[AlertRecord]:
    """The latest ``limit`` alert state changes, newest first; of one model when ``model`` is given."""
    where = "WHERE model = %(m)s " if model else ""
    rows = store.execute(
        "SELECT alert_id, toUnixTimestamp(ts), status, kind, severity, action, model, version, summary,"
        " toUnixTimestamp(window_start), toUnixTimestamp(window_end), payload FROM alerts FINAL "
        + where + "ORDER BY ts DESC, window_end DESC, alert_id LIMIT %(n)s",
        {"m": model or "", "n": limit})
    return [AlertRecord(alert_id, int(ts), status, kind, severity, action, model_, version, summary,
                        int(ws), int(we), payload)
            for alert_id, ts, status, kind, severity, action, model_, version, summary, ws, we, payload in rows]

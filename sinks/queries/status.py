"""What the status page reads: models' activity, drift results, window metrics and alerts.

Plain functions of a :class:`~driftline.sinks.store.Store`; rows come back as
small frozen dataclasses, times as epoch seconds. The SQL is the same for chdb
and a ClickHouse server (18.16 and later). Blocking: the status page calls them
in a thread executor.

Every read is bounded, so a page refresh costs the same after a year as after a day:

* a **time range**: ``since_s`` (epoch seconds) bounds the time column that
  partitions the table (``window_start``, ``ts``), compared as a ``DateTime`` so the
  server skips older partitions;
* a **LIMIT** on the rows it returns (``limit``);
* the **rollups** (``sinks/schema/0002_rollups.sql``) where they answer the question:
  the versions of a model and their prediction and label counts come from
  ``window_metrics_hourly``, one row per model, version, metric and hour. A rollup
  counts a window a crash made the worker write twice twice (see the schema), so
  those counts are for the overview, not for accounting;
* ``FINAL`` only where a replaced row could change the answer (values of drift
  results, metrics and alerts), never for ``max``/``min`` or a set of names.
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


def version_activity(store: Store, since_s: int, limit: int) -> list[VersionActivity]:
    """Every model version with windows since ``since_s``: its latest window end, and its predictions and
    labels in the range (from the hourly rollup, so hours cut at ``since_s``'s hour)."""
    counts = store.execute(
        "SELECT model, version, sumIf(value_sum, metric = 'predictions'), sumIf(value_sum, metric = 'labels')"
        " FROM window_metrics_hourly WHERE hour >= toStartOfHour(toDateTime(%(since)s))"
        " GROUP BY model, version ORDER BY model, version LIMIT %(n)s", {"since": since_s, "n": limit})
    if not counts:
        return []
    ends = dict(((model, version), end) for model, version, end in store.execute(
        "SELECT model, version, toUnixTimestamp(max(window_end)) FROM window_metrics"
        " WHERE window_start >= toDateTime(%(since)s) GROUP BY model, version", {"since": since_s}))
    return [VersionActivity(model, version, int(ends.get((model, version), 0)), int(predictions), int(labels))
            for model, version, predictions, labels in counts]


def latest_drifted_features(store: Store, since_s: int, limit: int) -> list[tuple[str, str, str]]:
    """(model, version, feature) drifted in the latest window since ``since_s`` that ran feature tests,
    by feature name.

    Concept drift on the error stream is filed in label windows and shows as alerts instead.
    """
    return [(model, version, feature) for model, version, feature in store.execute(
        "SELECT model, version, feature FROM drift_results FINAL WHERE drifted = 1"
        " AND feature != 'error_stream' AND window_start >= toDateTime(%(since)s) AND (model, version, window_start) IN"
        " (SELECT model, version, max(window_start) FROM drift_results"
        " WHERE feature != 'error_stream' AND window_start >= toDateTime(%(since)s) GROUP BY model, version)"
        " GROUP BY model, version, feature ORDER BY feature, model, version LIMIT %(n)s",
        {"since": since_s, "n": limit})]


def latest_alert_states(store: Store, since_s: int, limit: int) -> list[AlertState]:
    """The latest state of every alert (by ``dedup_key``) with a state change for a window since ``since_s``."""
    return [AlertState(*row) for row in store.execute(
        "SELECT model, version, dedup_key, argMax(status, window_end), argMax(kind, window_end),"
        " argMax(severity, window_end), argMax(summary, window_end) FROM alerts FINAL"
        " WHERE window_start >= toDateTime(%(since)s)"
        " GROUP BY model, version, dedup_key ORDER BY dedup_key LIMIT %(n)s", {"since": since_s, "n": limit})]


def busiest_version(store: Store, model: str, since_s: int) -> str | None:
    """The version of ``model`` with the most predictions since ``since_s``'s hour (ties: the first by name)."""
    rows = store.execute(
        "SELECT version FROM window_metrics_hourly WHERE model = %(m)s AND metric = 'predictions'"
        " AND hour >= toStartOfHour(toDateTime(%(since)s))"
        " GROUP BY version ORDER BY sum(value_sum) DESC, version LIMIT 1", {"m": model, "since": since_s})
    return rows[0][0] if rows else None


def model_versions(store: Store, model: str, since_s: int, limit: int) -> list[str]:
    """Versions of ``model`` with window metrics since ``since_s``'s hour, by name."""
    return [row[0] for row in store.execute(
        "SELECT version FROM window_metrics_hourly WHERE model = %(m)s"
        " AND hour >= toStartOfHour(toDateTime(%(since)s)) GROUP BY version ORDER BY version LIMIT %(n)s",
        {"m": model, "since": since_s, "n": limit})]


def drift_window_starts(store: Store, model: str, version: str, since_s: int, limit: int) -> list[int]:
    """Starts of the latest ``limit`` windows since ``since_s`` with drift results, oldest first."""
    return [int(row[0]) for row in store.execute(
        "SELECT toUnixTimestamp(window_start) AS w FROM drift_results"
        " WHERE model = %(m)s AND version = %(v)s AND window_start >= toDateTime(%(since)s)"
        " GROUP BY w ORDER BY w DESC LIMIT %(n)s",
        {"m": model, "v": version, "since": since_s, "n": limit})][::-1]


def drift_cells_since(store: Store, model: str, version: str, since_s: int, limit: int) -> list[DriftCell]:
    """Drift results of windows starting at or after ``since_s``, by window, feature and test; at most
    ``limit``, the latest windows first when there are more."""
    rows = store.execute(
        "SELECT toUnixTimestamp(window_start) AS w, feature, test, statistic, p_value, threshold, drifted"
        " FROM drift_results FINAL WHERE model = %(m)s AND version = %(v)s"
        " AND window_start >= toDateTime(%(since)s) ORDER BY w DESC, feature, test LIMIT %(n)s",
        {"m": model, "v": version, "since": since_s, "n": limit})
    return sorted((DriftCell(int(w), feature, test, statistic, p_value, threshold, bool(drifted))
                   for w, feature, test, statistic, p_value, threshold, drifted in rows),
                  key=lambda c: (c.window_start_s, c.feature, c.test))


def metric_window_range(store: Store, model: str, metrics: Sequence[str], since_s: int) -> tuple[int, int]:
    """(first, last) window start since ``since_s`` with any of ``metrics``; (0, 0) when there is none."""
    (first, last), = store.execute(
        "SELECT toUnixTimestamp(min(window_start)), toUnixTimestamp(max(window_start)) FROM window_metrics"
        " WHERE model = %(m)s AND metric IN %(metrics)s AND window_start >= toDateTime(%(since)s)",
        {"m": model, "metrics": tuple(metrics), "since": since_s})
    return int(first or 0), int(last or 0)


def metric_points_since(store: Store, model: str, metrics: Sequence[str], since_s: int,
                        limit: int) -> list[MetricPoint]:
    """Values of ``metrics`` in windows starting at or after ``since_s``, by version and window; at most ``limit``."""
    return [MetricPoint(version, int(w), metric, value) for version, w, metric, value in store.execute(
        "SELECT version, toUnixTimestamp(window_start) AS w, metric, value FROM window_metrics FINAL"
        " WHERE model = %(m)s AND metric IN %(metrics)s AND window_start >= toDateTime(%(since)s)"
        " ORDER BY version, w LIMIT %(n)s", {"m": model, "metrics": tuple(metrics), "since": since_s, "n": limit})]


def alert_history(store: Store, limit: int, model: str | None = None, since_s: int = 0) -> list[AlertRecord]:
    """The latest ``limit`` alert state changes since ``since_s``, newest first; of one model when ``model`` is given."""
    where = "AND model = %(m)s " if model else ""
    rows = store.execute(
        "SELECT alert_id, toUnixTimestamp(ts), status, kind, severity, action, model, version, summary,"
        " toUnixTimestamp(window_start), toUnixTimestamp(window_end), payload FROM alerts FINAL"
        " WHERE ts >= toDateTime(%(since)s) " + where + "ORDER BY ts DESC, window_end DESC, alert_id LIMIT %(n)s",
        {"m": model or "", "n": limit, "since": since_s})
    return [AlertRecord(alert_id, int(ts), status, kind, severity, action, model_, version, summary,
                        int(ws), int(we), payload)
            for alert_id, ts, status, kind, severity, action, model_, version, summary, ws, we, payload in rows]

"""What the governance report (``driftline report``) reads: one model over one period.

Plain functions of a :class:`~driftline.sinks.store.Store`, each bounded like every reader's query:
the period ``[since_s, until_s)`` on the column that partitions the table, and a ``LIMIT``. Values
of windows come through ``FINAL`` (a replayed window replaces its rows, and an audit document must
not count it twice); sums over many windows of many features come from the rollups of
``sinks/schema/0002_rollups.sql`` (``window_metrics_hourly``, ``drift_daily``,
``dead_letters_daily``), so a year of hourly windows of 50 features stays a few thousand rows.
Every result is sorted on a total order, and sums of floats are taken as integers of millionths (a float
sum depends on the order the server adds in), so the same data gives the same document.

``version=None`` reads every version of the model. The SQL runs on chdb and ClickHouse 18.16+.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..store import Store

__all__ = [
    "AlertEvent", "DeadLetterCount", "DeliveryCount", "DriftEvent", "DriftStanding", "LifecycleChange",
    "MetricTotal", "MetricWindow", "alert_events", "dead_letter_counts", "delivery_counts", "drift_events",
    "drift_standings", "lifecycle_changes", "metric_totals", "metric_windows", "model_period",
]


@dataclass(frozen=True)
class LifecycleChange:
    """One row of ``model_versions``: a state a version entered, who set it and why (epoch seconds)."""

    version: str
    state: str
    reason: str
    changed_by: str
    changed_at_s: int
    first_seen_s: int
    last_seen_s: int


@dataclass(frozen=True)
class MetricWindow:
    """One metric of one version in one window."""

    version: str
    window_start_s: int
    metric: str
    value: float
    n: int


@dataclass(frozen=True)
class MetricTotal:
    """One metric of one version over the period, from the hourly rollup."""

    version: str
    metric: str
    windows: int
    samples: int
    value_sum: float  # of the window values, to 1e-6
    min_value: float
    max_value: float

    @property
    def mean(self) -> float:
        return self.value_sum / self.windows if self.windows else 0.0


@dataclass(frozen=True)
class DriftStanding:
    """How often and how strongly one test of one feature drifted over the period."""

    version: str
    feature: str
    test: str
    windows: int
    drifted_windows: int
    max_statistic: float
    mean_statistic: float
    threshold: float
    first_drifted_s: int  # 0: never
    last_drifted_s: int
    min_p_value: float | None  # tests with a p-value (ks, chi2): the threshold is then their alpha


@dataclass(frozen=True)
class DriftEvent:
    """One drifted result: a change point, a prediction or multivariate drift, concept drift."""

    version: str
    window_start_s: int
    feature: str
    test: str
    statistic: float
    threshold: float


@dataclass(frozen=True)
class AlertEvent:
    """One stored alert state change."""

    alert_id: str
    dedup_key: str
    ts_s: int
    status: str
    kind: str
    severity: str
    action: str
    version: str
    feature: str
    window_start_s: int
    summary: str


@dataclass(frozen=True)
class DeliveryCount:
    """Deliveries of the period's alerts on one channel, by outcome."""

    channel: str
    status: str
    alerts: int
    attempts: int


@dataclass(frozen=True)
class DeadLetterCount:
    topic: str
    reason: str
    dead_letters: int
    payload_bytes: int


# Sums of floats are summed as integers of millionths: a float sum depends on the order the server adds
# its parts and threads in, an integer sum does not, so the same data always gives the same dossier.
SCALE = 1_000_000
_FIXED_SUM = "sum(toInt64(round({} * 1000000)))"


def _version(version: str | None) -> str:
    return " AND version = %(v)s" if version is not None else ""


def _args(model: str, version: str | None, since_s: int, until_s: int, limit: int, **more) -> dict:
    return {"m": model, "v": version or "", "since": since_s, "until": until_s, "n": limit, **more}


def model_period(store: Store, model: str, version: str | None = None) -> tuple[int, int]:
    """``(first hour, end of the last hour)`` with window metrics of ``model``, from the hourly rollup;
    ``(0, 0)`` when there is none. The default period of a report: it depends on the data only."""
    (first, last, n), = store.execute(
        "SELECT toUnixTimestamp(min(hour)), toUnixTimestamp(max(hour)), count() FROM window_metrics_hourly"
        " WHERE model = %(m)s" + _version(version), {"m": model, "v": version or ""})
    return (int(first), int(last) + 3600) if n else (0, 0)


def lifecycle_changes(store: Store, model: str, limit: int) -> list[LifecycleChange]:
    """Every recorded lifecycle state of every version of ``model``, by time of change then version."""
    rows = store.execute(
        "SELECT version, state, reason, changed_by, toUnixTimestamp(changed_at) AS c, toUnixTimestamp(first_seen),"
        " toUnixTimestamp(last_seen) FROM model_versions FINAL WHERE model = %(m)s"
        " ORDER BY c, version, state LIMIT %(n)s", {"m": model, "n": limit})
    return [LifecycleChange(v, state, reason, by, int(c), int(first), int(last))
            for v, state, reason, by, c, first, last in rows]


def metric_windows(store: Store, model: str, version: str | None, since_s: int, until_s: int, limit: int, *,
                   metrics: Sequence[str] = (), prefix: str | None = None) -> list[MetricWindow]:
    """Values of ``metrics`` (or of every metric named ``prefix...``) per window, by version, metric, window."""
    which = "metric IN %(metrics)s" if metrics else "startsWith(metric, %(prefix)s)"
    if not metrics and not prefix:
        return []
    rows = store.execute(
        "SELECT version, toUnixTimestamp(window_start) AS w, metric, value, n FROM window_metrics FINAL"
        " WHERE model = %(m)s AND " + which + " AND window_start >= toDateTime(%(since)s)"
        " AND window_start < toDateTime(%(until)s)" + _version(version)
        + " ORDER BY version, metric, w LIMIT %(n)s",
        _args(model, version, since_s, until_s, limit, metrics=tuple(metrics) or ("",), prefix=prefix or ""))
    return [MetricWindow(v, int(w), metric, float(value), int(n)) for v, w, metric, value, n in rows]


def metric_totals(store: Store, model: str, version: str | None, since_s: int, until_s: int,
                  limit: int) -> list[MetricTotal]:
    """Every metric of the period, per version, from ``window_metrics_hourly`` (hours cut at the bounds'
    hours; a window a crash made the worker write twice counts twice, see the schema)."""
    rows = store.execute(
        "SELECT version, metric, sum(windows) AS k, sum(samples) AS s, " + _FIXED_SUM.format("value_sum") + ","
        " minMerge(value_min), maxMerge(value_max) FROM window_metrics_hourly"
        " WHERE model = %(m)s AND hour >= toStartOfHour(toDateTime(%(since)s)) AND hour < toDateTime(%(until)s)"
        + _version(version) + " GROUP BY version, metric ORDER BY version, metric LIMIT %(n)s",
        _args(model, version, since_s, until_s, limit))
    return [MetricTotal(v, metric, int(k), int(s), int(vs) / SCALE, float(lo), float(hi))
            for v, metric, k, s, vs, lo, hi in rows]


def drift_standings(store: Store, model: str, version: str | None, since_s: int, until_s: int,
                    limit: int) -> list[DriftStanding]:
    """Per version, feature and test: windows tested, windows drifted, the largest and mean statistic,
    the threshold and the first and last drifted window; by version, feature and test."""
    rows = store.execute(
        "SELECT version, feature, test, count(), sum(toUInt64(drifted)), max(statistic), "
        + _FIXED_SUM.format("statistic") + ","
        " max(threshold), toUnixTimestamp(minIf(window_start, drifted = 1)),"
        " toUnixTimestamp(maxIf(window_start, drifted = 1)), sum(toUInt64(drifted)) AS d, count(p_value), min(p_value)"
        " FROM drift_results FINAL WHERE model = %(m)s AND isFinite(statistic)"
        " AND window_start >= toDateTime(%(since)s) AND window_start < toDateTime(%(until)s)" + _version(version)
        + " GROUP BY version, feature, test ORDER BY version, feature, test LIMIT %(n)s",
        _args(model, version, since_s, until_s, limit))
    return [DriftStanding(v, feature, test, int(k), int(d), float(hi), int(total) / SCALE / k if k else 0.0,
                          float(threshold),
                          int(first) if d else 0, int(last) if d else 0, float(p) if n_p else None)
            for v, feature, test, k, d, hi, total, threshold, first, last, _, n_p, p in rows]


def drift_events(store: Store, model: str, version: str | None, since_s: int, until_s: int, limit: int, *,
                 features: Sequence[str] = (), test_suffix: str | None = None) -> list[DriftEvent]:
    """Drifted results of some ``features`` or of every test ending in ``test_suffix``, by window."""
    if not features and not test_suffix:
        return []
    which = "feature IN %(features)s" if features else "endsWith(test, %(suffix)s)"
    rows = store.execute(
        "SELECT version, toUnixTimestamp(window_start) AS w, feature, test, statistic, threshold"
        " FROM drift_results FINAL WHERE model = %(m)s AND drifted = 1 AND " + which
        + " AND window_start >= toDateTime(%(since)s) AND window_start < toDateTime(%(until)s)" + _version(version)
        + " ORDER BY w, version, feature, test LIMIT %(n)s",
        _args(model, version, since_s, until_s, limit, features=tuple(features) or ("",), suffix=test_suffix or ""))
    return [DriftEvent(v, int(w), feature, test, float(s), float(t)) for v, w, feature, test, s, t in rows]


def alert_events(store: Store, model: str, version: str | None, since_s: int, until_s: int,
                 limit: int) -> list[AlertEvent]:
    """Alert state changes for windows of the period, in time order."""
    rows = store.execute(
        "SELECT alert_id, dedup_key, toUnixTimestamp(ts) AS t, status, kind, severity, action, version, feature,"
        " toUnixTimestamp(window_start) AS w, summary FROM alerts FINAL WHERE model = %(m)s"
        " AND window_start >= toDateTime(%(since)s) AND window_start < toDateTime(%(until)s)" + _version(version)
        + " ORDER BY t, w, alert_id LIMIT %(n)s", _args(model, version, since_s, until_s, limit))
    return [AlertEvent(a, key, int(t), status, kind, severity, action, v, feature, int(w), summary)
            for a, key, t, status, kind, severity, action, v, feature, w, summary in rows]


def delivery_counts(store: Store, model: str, version: str | None, since_s: int, until_s: int,
                    limit: int) -> list[DeliveryCount]:
    """Per channel and final outcome: how many of the period's alerts and their delivery attempts."""
    rows = store.execute(
        "SELECT channel, status, count(), sum(attempts) FROM alert_deliveries FINAL"
        " WHERE ts >= toDateTime(%(since)s) AND alert_id IN (SELECT alert_id FROM alerts WHERE model = %(m)s"
        " AND window_start >= toDateTime(%(since)s) AND window_start < toDateTime(%(until)s)" + _version(version)
        + ") GROUP BY channel, status ORDER BY channel, status LIMIT %(n)s",
        _args(model, version, since_s, until_s, limit))
    return [DeliveryCount(channel, status, int(n), int(attempts)) for channel, status, n, attempts in rows]


def dead_letter_counts(store: Store, topics: Sequence[str], since_s: int, until_s: int,
                       limit: int) -> list[DeadLetterCount]:
    """Dead letters of ``topics`` by reason over the period's days (``dead_letters_daily``)."""
    if not topics:
        return []
    rows = store.execute(
        "SELECT topic, reason, sum(dead_letters), sum(payload_bytes_sum) FROM dead_letters_daily"
        " WHERE topic IN %(topics)s AND day >= toDate(toDateTime(%(since)s)) AND day < toDate(toDateTime(%(until)s))"
        " + 1 GROUP BY topic, reason ORDER BY topic, reason LIMIT %(n)s",
        {"topics": tuple(topics), "since": since_s, "until": until_s, "n": limit})
    return [DeadLetterCount(topic, reason, int(n), int(b)) for topic, reason, n, b in rows]

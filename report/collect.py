"""Everything a dossier says, read from the store in one pass: :class:`Evidence`.

Each read is a function of :mod:`driftline.sinks.queries.report` (or of the experiment and
fairness readers), bounded by the period and a row limit; the limits below keep a year of
hourly windows of a 50-feature model within seconds and a few megabytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from driftline.settings import ModelSettings, Settings
from driftline.sinks.queries.experiments import VerdictRecord, experiment_verdicts
from driftline.sinks.queries.report import (
    AlertEvent,
    DeadLetterCount,
    DeliveryCount,
    DriftEvent,
    DriftStanding,
    LifecycleChange,
    MetricTotal,
    MetricWindow,
    alert_events,
    dead_letter_counts,
    delivery_counts,
    drift_events,
    drift_standings,
    lifecycle_changes,
    metric_totals,
    metric_windows,
)
from driftline.sinks.queries.segments import (
    FairnessRecord,
    FairnessSummary,
    fairness_history,
    fairness_summary,
)
from driftline.sinks.store import Store

__all__ = ["OPERATIONAL_METRICS", "Evidence", "Period", "collect", "performance_metric_names"]

MAX_WINDOW_ROWS = 200_000
MAX_ROWS = 20_000
# Window metrics that are not a measure of the model's quality.
OPERATIONAL_METRICS = ("predictions", "throughput_per_s", "labels", "label_coverage", "latency_p50_ms",
                       "latency_p95_ms", "latency_p99_ms")
SERIES_METRICS = ("label_coverage", "latency_p95_ms")
SPECIAL_FEATURES = ("prediction", "score", "multivariate", "error_stream")


@dataclass(frozen=True)
class Period:
    """``[since_s, until_s)`` in epoch seconds."""

    since_s: int
    until_s: int


@dataclass(frozen=True)
class Evidence:
    model: ModelSettings
    version: str | None
    period: Period
    lifecycle: tuple[LifecycleChange, ...]
    totals: tuple[MetricTotal, ...]
    performance: tuple[MetricWindow, ...]  # quality measures, label coverage and p95 latency per window
    estimated: tuple[MetricWindow, ...]
    standings: tuple[DriftStanding, ...]
    special_drift: tuple[DriftEvent, ...]  # prediction, multivariate and concept drift
    change_points: tuple[DriftEvent, ...]
    alerts: tuple[AlertEvent, ...]
    deliveries: tuple[DeliveryCount, ...]
    dead_letters: tuple[DeadLetterCount, ...]
    verdicts: tuple[VerdictRecord, ...]
    fairness: tuple[FairnessSummary, ...]
    fairness_windows: tuple[FairnessRecord, ...]


def performance_metric_names(totals: tuple[MetricTotal, ...]) -> list[str]:
    """The model-quality metrics among ``totals`` (accuracy, f1, mae...), by name."""
    return sorted({t.metric for t in totals if t.metric not in OPERATIONAL_METRICS and ":" not in t.metric
                   and not t.metric.startswith("estimated_")})


def collect(store: Store, settings: Settings, model: ModelSettings, version: str | None, period: Period) -> Evidence:
    since, until = period.since_s, period.until_s
    name = model.name
    totals = tuple(metric_totals(store, name, version, since, until, MAX_ROWS))
    series = (*performance_metric_names(totals), *SERIES_METRICS)
    verdicts = tuple(v for v in experiment_verdicts(store, name, since, MAX_ROWS) if v.window_start_s < until
                     and (version is None or version in (v.champion, v.challenger)))
    fairness = model.fairness is not None
    return Evidence(
        model=model, version=version, period=period,
        lifecycle=tuple(c for c in lifecycle_changes(store, name, MAX_ROWS) if version in (None, c.version)),
        totals=totals,
        performance=tuple(metric_windows(store, name, version, since, until, MAX_WINDOW_ROWS, metrics=series)),
        estimated=tuple(metric_windows(store, name, version, since, until, MAX_WINDOW_ROWS, prefix="estimated_")),
        standings=tuple(drift_standings(store, name, version, since, until, MAX_ROWS)),
        special_drift=tuple(drift_events(store, name, version, since, until, MAX_ROWS, features=SPECIAL_FEATURES)),
        change_points=tuple(drift_events(store, name, version, since, until, MAX_ROWS, test_suffix="_stream")),
        alerts=tuple(alert_events(store, name, version, since, until, MAX_ROWS)),
        deliveries=tuple(delivery_counts(store, name, version, since, until, MAX_ROWS)),
        dead_letters=tuple(dead_letter_counts(store, (settings.kafka.predictions_topic, settings.kafka.feedback_topic),
                                              since, until, MAX_ROWS)),
        verdicts=verdicts,
        fairness=tuple(s for s in fairness_summary(store, name, since, until, MAX_ROWS)
                       if version in (None, s.version)) if fairness else (),
        fairness_windows=tuple(fairness_history(store, name, since, until, MAX_WINDOW_ROWS, version=version))
        if fairness else (),
    )

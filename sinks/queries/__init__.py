"""Reads for the readers beside the worker: one module per reader, SQL only here.

:mod:`~driftline.sinks.queries.status` and :mod:`~driftline.sinks.queries.experiments` answer the status page, :mod:`~driftline.sinks.queries.demo`
the demo's terminal view. Each function takes a :class:`~driftline.sinks.store.Store`
and typed arguments and returns plain data (frozen dataclasses, tuples, numbers).
"""

from .demo import (
    FirstAlert,
    FirstDrift,
    FirstVerdict,
    RecentAlert,
    drifted_result_count,
    firing_alert_count,
    first_alert_after,
    first_drift_after,
    first_verdict_after,
    recent_alerts,
)
from .experiments import VerdictRecord, experiment_verdicts
from .status import (
    AlertRecord,
    AlertState,
    DriftCell,
    MetricPoint,
    VersionActivity,
    alert_history,
    busiest_version,
    drift_cells_since,
    drift_window_starts,
    latest_alert_states,
    latest_drifted_features,
    metric_points_since,
    metric_window_range,
    model_versions,
    version_activity,
)

__all__ = [
    "AlertRecord", "AlertState", "DriftCell", "FirstAlert", "FirstDrift", "FirstVerdict", "MetricPoint", "RecentAlert",
    "VerdictRecord", "VersionActivity", "alert_history", "experiment_verdicts", "busiest_version", "drift_cells_since", "drift_window_starts",
    "drifted_result_count", "first_alert_after", "first_drift_after", "first_verdict_after", "firing_alert_count",
    "latest_alert_states", "latest_drifted_features", "metric_points_since", "metric_window_range",
    "model_versions", "recent_alerts", "version_activity",
]

"""Reads for the readers beside the worker: one module per reader, SQL only here.

:mod:`~driftline.sinks.queries.status` and :mod:`~driftline.sinks.queries.experiments` answer the status page, :mod:`~driftline.sinks.queries.demo`
the demo's terminal view, :mod:`~driftline.sinks.queries.segments` the segment view and the
governance report (fairness results per version over time), :mod:`~driftline.sinks.queries.report` the
rest of the governance report (``driftline report``). Each function takes a :class:`~driftline.sinks.store.Store`
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
from .report import (
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
    model_period,
)
from .segments import (
    FairnessRecord,
    FairnessSummary,
    SegmentPoint,
    fairness_history,
    fairness_summary,
    segment_points_since,
)
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
    "AlertEvent", "DeadLetterCount", "DeliveryCount", "DriftEvent", "DriftStanding", "LifecycleChange",
    "MetricTotal", "MetricWindow", "alert_events", "dead_letter_counts", "delivery_counts", "drift_events",
    "drift_standings", "lifecycle_changes", "metric_totals", "metric_windows", "model_period",
    "AlertRecord", "AlertState", "DriftCell", "FairnessRecord", "FairnessSummary", "FirstAlert", "FirstDrift",
    "FirstVerdict", "MetricPoint", "RecentAlert", "SegmentPoint", "VerdictRecord", "VersionActivity", "alert_history",
    "busiest_version", "drift_cells_since", "drift_window_starts", "experiment_verdicts",
    "drifted_result_count", "fairness_history", "fairness_summary", "first_alert_after", "first_drift_after",
    "first_verdict_after", "firing_alert_count",
    "latest_alert_states", "latest_drifted_features", "metric_points_since", "metric_window_range",
    "model_versions", "recent_alerts", "segment_points_since", "version_activity",
]

"""The status page's and the demo's reads (driftline.sinks.queries) on the sample rows, in chdb."""

from __future__ import annotations

import pytest
from driftline.sinks import queries as q

from tests.support.stores import sample_start_s, sample_store

S = sample_start_s()
H = 3600


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with sample_store(tmp_path_factory.mktemp("reads")) as s:
        yield s


def test_version_activity(store):
    assert sorted(q.version_activity(store, S, 100), key=lambda v: v.version) == [
        q.VersionActivity("credit", "v1", S + 69 * H + 60, 8400, 6300),
        q.VersionActivity("credit", "v2", S + 69 * H + 60, 8400, 6300),
    ]
    # Counts cover the range (the rollup's hours 60..69); the latest window is exact.
    assert q.version_activity(store, S + 60 * H + 30, 1) == [
        q.VersionActivity("credit", "v1", S + 69 * H + 60, 10 * 120, 10 * 90)]
    assert q.version_activity(store, S + 70 * H, 100) == []


def test_drifted_features_of_the_latest_window_only(store):
    # v2's income drifts from hour 41 on; v1 never does.
    assert q.latest_drifted_features(store, S, 100) == [("credit", "v2", "income")]
    assert q.latest_drifted_features(store, S, 0) == []  # the limit
    assert q.latest_drifted_features(store, S + 70 * H, 100) == []  # nothing in range


def test_latest_alert_state_per_dedup_key(store):
    # Alerts for windows since hour 55 leave out data_drift (hours 41 and 50).
    assert [a.dedup_key for a in q.latest_alert_states(store, S + 55 * H, 100)] == [
        "credit/v2/concept_drift", "credit/v2/performance"]
    assert len(q.latest_alert_states(store, S, 2)) == 2
    assert q.latest_alert_states(store, S, 100) == [
        q.AlertState("credit", "v2", "credit/v2/concept_drift", "firing", "concept_drift", "critical",
                     "credit v2 concept_drift firing"),
        q.AlertState("credit", "v2", "credit/v2/data_drift", "resolved", "data_drift", "warning",
                     "credit v2 data_drift resolved"),
        q.AlertState("credit", "v2", "credit/v2/performance", "firing", "performance", "critical",
                     "credit v2 performance firing"),
    ]


def test_versions(store):
    assert q.busiest_version(store, "credit", S) == "v1"  # a tie: the first by name
    assert q.busiest_version(store, "price", S) is None
    assert q.busiest_version(store, "credit", S + 70 * H) is None
    assert q.model_versions(store, "credit", S, 100) == ["v1", "v2"]
    assert q.model_versions(store, "credit", S, 1) == ["v1"]
    assert q.model_versions(store, "price", S, 100) == []


def test_drift_windows_and_cells(store):
    assert q.drift_window_starts(store, "credit", "v2", S, 3) == [S + 67 * H, S + 68 * H, S + 69 * H]
    assert q.drift_window_starts(store, "credit", "v2", S + 68 * H, 3) == [S + 68 * H, S + 69 * H]
    assert q.drift_window_starts(store, "credit", "v9", S, 3) == []
    # More cells than the limit: the latest window's first.
    assert [(c.window_start_s, c.feature) for c in q.drift_cells_since(store, "credit", "v2", S + 68 * H, 4)] == [
        (S + 68 * H, "age"), (S + 69 * H, "age"), (S + 69 * H, "country"), (S + 69 * H, "income")]
    assert q.drift_cells_since(store, "credit", "v2", S + 69 * H, 100) == [
        q.DriftCell(S + 69 * H, "age", "psi", 0.02, 0.5, 0.1, False),
        q.DriftCell(S + 69 * H, "country", "chi2", 0.02, 0.5, 0.1, False),
        q.DriftCell(S + 69 * H, "income", "ks", 0.3, 0.001, 0.1, True),
    ]


def test_metric_range_and_points(store):
    assert q.metric_window_range(store, "credit", ("accuracy", "f1"), S) == (S, S + 69 * H)
    assert q.metric_window_range(store, "credit", ("accuracy", "f1"), S + 50 * H) == (S + 50 * H, S + 69 * H)
    assert q.metric_window_range(store, "price", ("accuracy",), S) == (0, 0)
    assert len(q.metric_points_since(store, "credit", ("accuracy", "latency_p95_ms"), S + 68 * H, 3)) == 3
    points = q.metric_points_since(store, "credit", ("accuracy", "latency_p95_ms"), S + 68 * H, 100)
    assert sorted((p.version, p.window_start_s, p.metric, round(p.value, 6)) for p in points) == [
        ("v1", S + 68 * H, "accuracy", 0.9), ("v1", S + 68 * H, "latency_p95_ms", 40.0),
        ("v1", S + 69 * H, "accuracy", 0.9), ("v1", S + 69 * H, "latency_p95_ms", 40.0),
        ("v2", S + 68 * H, "accuracy", 0.768), ("v2", S + 68 * H, "latency_p95_ms", 40.0),
        ("v2", S + 69 * H, "accuracy", 0.769), ("v2", S + 69 * H, "latency_p95_ms", 40.0),
    ]
    assert [(p.version, p.window_start_s) for p in points] == sorted((p.version, p.window_start_s) for p in points)


def test_alert_history(store):
    assert q.alert_history(store, 2) == [
        q.AlertRecord("alert-3", S + 65 * H + 120, "firing", "concept_drift", "critical", "retrain", "credit", "v2",
                      "credit v2 concept_drift firing", S + 65 * H, S + 65 * H + 60, "{}"),
        q.AlertRecord("alert-2", S + 60 * H + 120, "firing", "performance", "critical", "deactivate", "credit",
                      "v2", "credit v2 performance firing", S + 60 * H, S + 60 * H + 60, "{}"),
    ]
    assert [a.alert_id for a in q.alert_history(store, 10, "credit")] == ["alert-3", "alert-2", "alert-1", "alert-0"]
    assert q.alert_history(store, 10, "price") == []
    assert [a.alert_id for a in q.alert_history(store, 10, since_s=S + 60 * H + 120)] == ["alert-3", "alert-2"]


def test_demo_counts(store):
    assert q.drifted_result_count(store) == 29  # hours 41..69
    assert q.firing_alert_count(store) == 3


def test_first_drift_and_first_alert_after(store):
    assert q.first_drift_after(store, "credit", "income", S + 30 * H) == q.FirstDrift(
        S + 41 * H + 60, "v2", "ks", 0.3, 0.001)
    assert q.first_drift_after(store, "credit", "income", S + 69 * H + 60) is None
    assert q.first_drift_after(store, "credit", "age", S) is None
    assert q.first_alert_after(store, "credit", "v2", ("performance", "concept_drift"), S + 20 * H) == q.FirstAlert(
        S + 60 * H + 60, "performance", "critical")
    assert q.first_alert_after(store, "credit", "v2", ["concept_drift"], S + 61 * H) == q.FirstAlert(
        S + 65 * H + 60, "concept_drift", "critical")
    assert q.first_alert_after(store, "credit", "v1", ("performance",), S) is None


def test_recent_alerts(store):
    recent = q.recent_alerts(store, 3)
    assert [(a.status, a.severity, a.kind, a.model, a.version, a.summary) for a in recent] == [
        ("firing", "critical", "concept_drift", "credit", "v2", "credit v2 concept_drift firing"),
        ("firing", "critical", "performance", "credit", "v2", "credit v2 performance firing"),
        ("resolved", "warning", "data_drift", "credit", "v2", "credit v2 data_drift resolved"),
    ]
    assert recent[0].ts > recent[1].ts > recent[2].ts
    assert (recent[0].ts - recent[1].ts).total_seconds() == 5 * H

"""The status page's and the demo's reads return the same data on ClickHouse 18.16 and on chdb."""

from __future__ import annotations

import uuid

import pytest
from driftline.sinks import queries as q
from driftline.sinks.migrations import migrate
from driftline.stream.wiring import build_store

from tests.integration.samples import insert_samples
from tests.support.stores import SAMPLE_NOW, sample_start_s, sample_store

pytestmark = pytest.mark.integration

S = sample_start_s()
H = 3600

SINCE = S + 20 * H  # a range that leaves older sample rows out
DL_TOPICS = ("driftline.predictions", "driftline.feedback")
# Every read with arguments that find rows (and a few that find none).
READS = {
    # The governance dossier's reads (driftline report).
    "alert_events": lambda s: [q.alert_events(s, "credit", v, S, S + 70 * H, 100) for v in (None, "v2")],
    "dead_letter_counts": lambda s: q.dead_letter_counts(s, DL_TOPICS, S, S + 70 * H, 100),
    "delivery_counts": lambda s: [q.delivery_counts(s, "credit", v, S, S + 70 * H, 100) for v in (None, "v1")],
    "drift_events": lambda s: [q.drift_events(s, "credit", None, S, S + 70 * H, 50),
                               q.drift_events(s, "credit", "v1", SINCE, S + 70 * H, 20, features=("amount",))],
    "drift_standings": lambda s: [q.drift_standings(s, "credit", v, S, S + 70 * H, 20) for v in (None, "v1")],
    "lifecycle_changes": lambda s: q.lifecycle_changes(s, "credit", 20),
    "metric_totals": lambda s: [q.metric_totals(s, "credit", v, S, S + 70 * H, 50) for v in (None, "v1")],
    "metric_windows": lambda s: [q.metric_windows(s, "credit", None, S, S + 70 * H, 200, metrics=("accuracy",)),
                                 q.metric_windows(s, "credit", "v1", SINCE, S + 70 * H, 50, prefix="latency")],
    "model_period": lambda s: [q.model_period(s, "credit"), q.model_period(s, "credit", "v1")],
    "version_activity": lambda s: [sorted(q.version_activity(s, since, 100), key=lambda v: (v.model, v.version))
                                   for since in (S, SINCE)],
    "latest_drifted_features": lambda s: [q.latest_drifted_features(s, since, 100) for since in (S, S + 70 * H)],
    "latest_alert_states": lambda s: [q.latest_alert_states(s, since, 100) for since in (S, S + 55 * H)],
    "busiest_version": lambda s: [q.busiest_version(s, m, SINCE) for m in ("credit", "price")],
    "model_versions": lambda s: [q.model_versions(s, m, SINCE, 1) for m in ("credit", "price")],
    "drift_window_starts": lambda s: [q.drift_window_starts(s, "credit", "v2", since, 30) for since in (S, S + 65 * H)],
    "drift_cells_since": lambda s: [q.drift_cells_since(s, "credit", "v2", S + 60 * H, n) for n in (1000, 7)],
    "metric_window_range": lambda s: [q.metric_window_range(s, m, ("accuracy", "label_coverage"), SINCE)
                                      for m in ("credit", "price")],
    "metric_points_since": lambda s: sorted(
        (p.version, p.window_start_s, p.metric, round(p.value, 9))
        for p in q.metric_points_since(s, "credit", ("accuracy", "f1", "latency_p99_ms"), S + 50 * H, 1000)),
    "alert_history": lambda s: [q.alert_history(s, 3), q.alert_history(s, 10, "credit"), q.alert_history(s, 1, "x"),
                                q.alert_history(s, 10, since_s=S + 55 * H)],
    "drifted_result_count": q.drifted_result_count,
    "firing_alert_count": q.firing_alert_count,
    "first_drift_after": lambda s: [q.first_drift_after(s, "credit", f, S + 10 * H) for f in ("income", "age")],
    "first_alert_after": lambda s: [q.first_alert_after(s, "credit", "v2", k, S) for k in (("performance",),
                                                                                           ("latency",))],
    "recent_alerts": lambda s: q.recent_alerts(s, 6),
    "first_verdict_after": lambda s: [q.first_verdict_after(s, "credit", c, at) for c, at in (("v2", S), ("v1", S),
                                                                                               ("v2", S + 60 * H))],
    "experiment_verdicts": lambda s: [q.experiment_verdicts(s, m, since, n)
                                      for m, since, n in (("credit", S, 1000), ("credit", SINCE, 5), ("price", S, 10))],
    "segment_points_since": lambda s: q.segment_points_since(s, "credit", ("accuracy", "selection_rate"), S + 60 * H,
                                                             1000),
    "fairness_history": lambda s: [q.fairness_history(s, "credit", S + 38 * H, S + 44 * H, 100),
                                   q.fairness_history(s, "credit", S, S + 70 * H, 5, version="v2")],
    "fairness_summary": lambda s: q.fairness_summary(s, "credit", S, S + 70 * H, 10),
}


@pytest.fixture(scope="module")
def server_store(clickhouse):
    name = f"reads_{uuid.uuid4().hex[:10]}"
    store = build_store(clickhouse.url.rsplit("/", 1)[0] + f"/{name}")
    migrate(store)
    insert_samples(store, SAMPLE_NOW)
    yield store
    store.execute(f"DROP DATABASE IF EXISTS {name}")
    store.close()


@pytest.fixture(scope="module")
def embedded_results(tmp_path_factory):
    with sample_store(tmp_path_factory.mktemp("reads-chdb")) as store:
        return {name: read(store) for name, read in READS.items()}


def test_every_read_is_compared():
    assert set(READS) == set(q.__all__) - {n for n in q.__all__ if n[0].isupper()}


@pytest.mark.parametrize("name", sorted(READS))
def test_both_engines_agree(server_store, embedded_results, name):
    result = READS[name](server_store)
    assert result == embedded_results[name]
    assert result not in ([], None, 0), f"{name} found nothing in the samples: the comparison proves little"

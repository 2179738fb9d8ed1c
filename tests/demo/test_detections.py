"""DetectionTracker: which scheduled change the stored results and alerts caught, on the sample rows."""

from __future__ import annotations

import pytest
from driftline.demo.detections import Detection, DetectionTracker
from driftline.demo.scenario import Change, Scenario

from tests.support.stores import sample_start_s, sample_store

S = sample_start_s()
H_MS = 3_600_000


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with sample_store(tmp_path_factory.mktemp("detections")) as s:
        yield s


def test_first_drift_and_first_alert_after_each_change(store):
    scenario = Scenario(changes=(
        Change("income shift", "covariate_shift", "credit", 30 * H_MS, feature="income"),
        Change("age shift", "covariate_shift", "credit", 10 * H_MS, feature="age"),
        Change("concept", "concept_drift", "credit", 50 * H_MS),  # alerts only on v2: the demo watches v1
        Change("canary v2", "canary", "credit", 20 * H_MS, params={"version": "v2"}),
        Change("after it all", "covariate_shift", "credit", 69 * H_MS + 60_000, feature="income"),
    ))
    ticks = iter([100.0, 101.5])
    tracker = DetectionTracker(scenario, wall_start=99.0, clock=lambda: next(ticks))
    tracker.poll(store, S * 1000)
    assert tracker.drift == {0: Detection("ks on income (credit/v2, p=0.001)", (S + 41 * 3600 + 60) * 1000, 1.0)}
    assert tracker.alert == {3: Detection("critical performance alert (credit/v2)", (S + 60 * 3600 + 60) * 1000, 1.0)}
    assert tracker.verdict == {3: Detection("rollback verdict of credit-canary, action rollback (credit/v2)",
                                            (S + 31 * 3600) * 1000, 1.0)}
    assert (tracker.first_drift_s, tracker.first_alert_s, tracker.drifted_results) == (1.0, 1.0, 29)
    # A second poll keeps the first sightings.
    tracker.poll(store, S * 1000)
    assert tracker.drift[0].seen_s == 1.0 and set(tracker.drift) == {0} and set(tracker.alert) == {3}

"""The version lifecycle of a partition: first sight, decisions, changes made elsewhere, traffic."""

from __future__ import annotations

import json

from driftline.detectors import WindowReport
from driftline.sinks.lifecycle import VersionRecord
from driftline.stream.lifecycle import Lifecycle


def report(version: str, start: int, n: int) -> WindowReport:
    return WindowReport("credit", version, start, start + 10_000, n, 0)


def test_first_sight_decisions_and_rows():
    life = Lifecycle()
    life.saw("credit", "v1", 5_000, 9_000, "active")
    life.saw("credit", "v2", 6_000, 7_000, "canary")
    life.saw("credit", "v2", 4_000, 12_000, "active")  # already known: only the seen times move
    assert [(r.version, r.state, r.first_seen_ms, r.last_seen_ms) for r in life.rows()] == [
        ("v1", "active", 5_000, 9_000), ("v2", "canary", 4_000, 12_000)]
    life.window_closed(report("v2", 0, 5))
    assert [r.version for r in life.rows()] == ["v2"]  # one row per closed window of the version
    life.decided("credit", "v2", "rolled_back", "worse", "verdict:c", 20_000)
    (row,) = life.rows()
    assert (row.state, row.changed_by, row.changed_at_ms, row.first_seen_ms) == ("rolled_back", "verdict:c", 20_000,
                                                                                 4_000)


def test_changes_made_elsewhere_are_adopted_when_newer():
    life = Lifecycle()
    life.saw("credit", "v2", 0, 1_000, "canary")
    life.rows()
    older = VersionRecord("credit", "v2", "deactivated", "x", "cli:a", -5)
    life.adopt({("credit", "v2"): older})
    assert life.rows() == [] and life.state("credit", "v2").state == "canary"
    newer = VersionRecord("credit", "v2", "deactivated", "router off", "cli:ops", 50_000)
    life.adopt({("credit", "v2"): newer})
    (row,) = life.rows()
    assert (row.state, row.changed_by, row.changed_at_ms, row.last_seen_ms) == ("deactivated", "cli:ops", 50_000, 1_000)
    known = VersionRecord("credit", "v3", "rolled_back", "old", "cli:ops", 1)
    life.saw("credit", "v3", 7, 8, "canary", known)  # a version the table knows takes its state back
    assert life.state("credit", "v3").state == "rolled_back"


def test_a_replay_deciding_later_keeps_the_adopted_decision():
    """The worker before a crash decided at 20 s and wrote the row; the replay reads it back, then
    decides the same a window later: no second row, the first time stays."""
    life = Lifecycle()
    life.saw("credit", "v2", 0, 1_000, "canary")
    life.rows()
    life.adopt({("credit", "v2"): VersionRecord("credit", "v2", "rolled_back", "worse", "verdict:c", 20_000)})
    assert [r.changed_at_ms for r in life.rows()] == [20_000]
    life.decided("credit", "v2", "rolled_back", "worse, later", "verdict:c", 30_000)
    assert life.rows() == [] and life.state("credit", "v2").changed_at_ms == 20_000
    life.decided("credit", "v2", "promoted", "better", "verdict:d", 40_000)  # another decision: its row
    assert [(r.state, r.changed_at_ms) for r in life.rows()] == [("promoted", 40_000)]


def test_traffic_after_the_grace_period_is_reported():
    life = Lifecycle()
    life.saw("credit", "v1", 0, 100_000, "active")
    life.saw("credit", "v2", 0, 45_000, "canary")
    life.decided("credit", "v2", "rolled_back", "worse", "verdict:c", 20_000)
    grace = lambda model: 10_000  # noqa: E731
    assert life.traffic(report("v2", 20_000, 8), grace) == []  # within the grace period
    (seen,) = life.traffic(report("v2", 30_000, 8), grace)
    assert (seen.version, seen.n_predictions, seen.state) == ("v2", 8, "rolled_back")
    assert life.traffic(report("v1", 40_000, 50), grace) == []  # v2 seen in that window: no verdict on it
    (clean,) = life.traffic(report("v1", 50_000, 50), grace)
    assert (clean.version, clean.n_predictions) == ("v2", 0)
    assert life.traffic(report("v1", 60_000, 0), grace) == []


def test_bounded_per_model_and_checkpointed():
    life = Lifecycle()
    for i in range(30):
        life.saw("credit", f"v{i}", i, i, "active", max_per_model=5)
    life.saw("price", "v1", 0, 0, "active", max_per_model=5)
    assert [v for _, v in life.versions] == ["v25", "v26", "v27", "v28", "v29", "v1"]
    again = Lifecycle.restore(json.loads(json.dumps(life.snapshot())))
    assert again.snapshot() == life.snapshot()

"""Experiment verdicts and ineffective rollbacks through the alert engine: one alert per decision."""

from __future__ import annotations

import numpy as np
from driftline.alerting import AlertEngine, lifecycle_rules
from driftline.detectors import (
    ChampionChallenger,
    ExperimentDesign,
    ExperimentResult,
    VersionTraffic,
    WindowReport,
)
from driftline.settings import ExperimentWhen, LifecycleWhen, RuleSettings


def results(accuracy_b: float, windows: int = 6, late: int = 0) -> list[ExperimentResult]:
    """Six windows' verdicts; ``late`` challenger labels of each window arrive in the next one."""
    cc = ChampionChallenger(ExperimentDesign(min_sample=100))
    out = []
    rng = np.random.default_rng(0)
    carried = np.zeros(0)
    for i in range(windows):
        w = cc.new_window(i * 60_000, (i + 1) * 60_000)
        w.champion.add_labels({"accuracy": (rng.random(400) < 0.9).astype(float)})
        labels = np.concatenate([carried, (rng.random(100) < accuracy_b).astype(float)])
        carried = labels[len(labels) - late:] if late else np.zeros(0)
        w.challenger.add_labels({"accuracy": labels[:len(labels) - late]})
        e = cc.close(w)
        out.append(ExperimentResult("canary", "credit", "v1", "v2", e, {"rollback": "rollback"}.get(e.verdict,
                                                                                                      "notify")))
    return out


def test_one_alert_per_decision_with_the_experiments_action():
    engine = AlertEngine(lifecycle_rules(None))
    alerts = [a for r in results(0.5) for a in engine.evaluate(r, now_ms=r.window_end_ms)]
    (alert,) = alerts
    assert (alert.kind, alert.action, alert.severity, alert.status, alert.reason) == (
        "experiment", "rollback", "critical", "firing", "new")
    assert alert.dedup_key == "credit/v2/experiment/canary" and alert.version == "v2"
    assert alert.evidence["verdict"] == "rollback" and alert.evidence["upper"] < 0
    assert alert.summary.startswith("Experiment canary on credit: rollback v2 (champion v1): accuracy")
    again = AlertEngine(lifecycle_rules(None))  # a replay after a crash: the same alert id
    assert [a.alert_id for r in results(0.5) for a in again.evaluate(r, now_ms=0)] == [alert.alert_id]
    quiet = AlertEngine(lifecycle_rules(None))
    assert [a for r in results(0.9) for a in quiet.evaluate(r, now_ms=0)] == []


def test_a_rule_may_take_only_some_verdicts_and_window_reports_are_ignored():
    rules = lifecycle_rules([RuleSettings("promotions", "experiment", "warning", "notify", ExperimentWhen(("promote",)))])
    engine = AlertEngine(rules)
    assert [a for r in results(0.5) for a in engine.evaluate(r, now_ms=0)] == []
    assert engine.evaluate(WindowReport("credit", "v2", 0, 60_000, 10, 0), now_ms=0) == []


def test_rollback_not_effective_fires_while_traffic_continues_and_resolves():
    engine = AlertEngine(lifecycle_rules([RuleSettings("rb", "rollback_not_effective", "critical", "notify",
                                                       LifecycleWhen(), resolve_after_windows=2)]))

    def traffic(i: int, n: int) -> VersionTraffic:
        return VersionTraffic("credit", "v2", i * 60_000, (i + 1) * 60_000, n, "rolled_back", 0, "verdict:canary")

    out = [a for i, n in enumerate([30, 12, 0, 0, 0]) for a in engine.evaluate(traffic(i, n), now_ms=i * 60_000)]
    assert [(a.status, a.window_start_ms) for a in out] == [("firing", 0), ("resolved", 180_000)]
    assert out[0].dedup_key == "credit/v2/rollback_not_effective" and "30 predictions" in out[0].summary

"""AlertEngine: seeded window sequences with the exact expected notifications."""

from __future__ import annotations

import hashlib
import json
import random

import pytest
from driftline.alerting import DEFAULT_RULES, Alert, AlertEngine, build_rules
from driftline.alerting.rules import OPERATORS
from driftline.detectors.results import ConceptDriftEvent, DriftResult, MetricValue, WindowReport
from driftline.settings import parse_rules
from driftline.settings import rules as rule_settings

MIN = 60_000


def rules_from(raw):
    """Rules as the worker gets them: typed by the settings layer, then built by alerting."""
    return build_rules(parse_rules(raw))


def report(i: int, *, drifted=(), clean=("f_clean",), metrics=None, concept=(), model="fraud", version="v3"):
    """Window i of one model; ``drifted`` maps feature -> psi statistic (threshold 0.2)."""
    if isinstance(drifted, tuple | list):
        drifted = {f: 0.3 for f in drifted}
    drift = tuple(DriftResult(f, "psi", s, 0.2, True) for f, s in drifted.items())
    drift += tuple(DriftResult(f, "psi", 0.01, 0.2, False) for f in clean)
    metric_values = tuple(MetricValue(k, v, 500) for k, v in (metrics or {}).items())
    return WindowReport(model, version, i * MIN, (i + 1) * MIN, 1000, 500, drift=drift,
                        metrics=metric_values, concept=tuple(concept))


def run(engine, reports, *, step_ms=MIN):
    """Evaluate reports at now = window end; returns [(window index, status, key, severity, reason)]."""
    out = []
    for r in reports:
        i = r.window_start_ms // step_ms
        for a in engine.evaluate(r, now_ms=r.window_end_ms):
            out.append((i, a.status, a.dedup_key, a.severity, a.reason))
    return out


def drift_rules(**extra):
    return rules_from([{"name": "drift", "kind": "data_drift", "severity": "warning", "action": "notify", **extra}])


def test_fires_once_within_cooldown_and_resends_after_it():
    engine = AlertEngine(drift_rules(cooldown="5m"))
    reports = [report(i, drifted=["amount"]) for i in range(12)]
    assert run(engine, reports) == [
        (0, "firing", "fraud/v3/data_drift", "warning", "new"),
        (5, "firing", "fraud/v3/data_drift", "warning", "repeat"),  # now - last_sent = 5m
        (10, "firing", "fraud/v3/data_drift", "warning", "repeat"),
    ]


def test_default_cooldown_is_thirty_minutes():
    engine = AlertEngine(drift_rules())
    reports = [report(i, drifted=["amount"]) for i in range(61)]
    assert [x[0] for x in run(engine, reports)] == [0, 30, 60]


def test_escalation_warning_to_critical_resends_immediately_and_downgrade_does_not():
    rules = rules_from([
        {"name": "drift-any", "kind": "data_drift", "severity": "warning", "action": "notify"},
        {"name": "drift-wide", "kind": "data_drift", "severity": "critical", "action": "retrain",
         "when": {"min_features": 3}},
    ])
    engine = AlertEngine(rules)
    reports = [
        report(0, drifted=["a"]),
        report(1, drifted=["a", "b", "c"]),
        report(2, drifted=["a", "b", "c"]),
        report(3, drifted=["a"]),
        report(4, drifted=["a", "b", "c"]),
    ]
    assert run(engine, reports) == [
        (0, "firing", "fraud/v3/data_drift", "warning", "new"),
        (1, "firing", "fraud/v3/data_drift", "critical", "escalation"),
    ]
    (critical,) = engine.active()
    assert critical.action == "retrain" and critical.rule == "drift-wide"


def test_resolves_after_n_consecutive_clean_windows():
    engine = AlertEngine(drift_rules(resolve_after_windows=3))
    pattern = ["x", "", "", "x", "", "", "", "", "x"]
    reports = [report(i, drifted=["amount"] if p else ()) for i, p in enumerate(pattern)]
    assert run(engine, reports) == [
        (0, "firing", "fraud/v3/data_drift", "warning", "new"),
        (6, "resolved", "fraud/v3/data_drift", "warning", "resolved"),  # clean 4, 5, 6
        (8, "firing", "fraud/v3/data_drift", "warning", "new"),
    ]
    assert len(engine.active()) == 1


def test_for_windows_two_stays_pending_and_missing_metric_is_no_data():
    engine = AlertEngine(DEFAULT_RULES)
    accuracy = [0.7, 0.9, 0.7, None, 0.7, 0.75, 0.95, None, 0.9]
    reports = [report(i, clean=(), metrics={} if a is None else {"accuracy": a}) for i, a in enumerate(accuracy)]
    assert run(engine, reports) == [
        # window 3 has no labels: it neither resets the streak nor resolves
        (4, "firing", "fraud/v3/performance", "critical", "new"),
        (6, "resolved", "fraud/v3/performance", "critical", "resolved"),
    ]


def test_grouping_lists_every_drifted_feature_worst_first():
    engine = AlertEngine(DEFAULT_RULES)
    r = report(0, drifted={"age": 0.25, "amount": 0.9, "country": 0.4}, clean=("f1", "f2"))
    (alert,) = engine.evaluate(r, now_ms=r.window_end_ms)
    assert alert.dedup_key == "fraud/v3/data_drift"
    assert [f.name for f in alert.features] == ["amount", "country", "age"]
    assert alert.summary.startswith("Data drift on fraud/v3: 3 of 5 drifted: amount psi=0.9 > 0.2")
    assert alert.to_dict()["evidence"]["features_drifted"] == ["amount", "country", "age"]
    assert alert.evidence["features_tested"] == 5


def test_per_feature_rule_gives_one_key_per_feature_and_filters_features():
    engine = AlertEngine(drift_rules(per_feature=True, features=["amount", "age"]))
    r = report(0, drifted={"age": 0.25, "amount": 0.9, "country": 0.4})
    keys = [a.dedup_key for a in engine.evaluate(r, now_ms=r.window_end_ms)]
    assert keys == ["fraud/v3/data_drift/age", "fraud/v3/data_drift/amount"]
    r1 = report(1, drifted={"amount": 0.9}, clean=("age",))
    assert run(engine, [r1]) == [(1, "resolved", "fraud/v3/data_drift/age", "warning", "resolved")]


def test_prediction_drift_is_its_own_kind():
    engine = AlertEngine(DEFAULT_RULES)
    r = report(0, drifted={"score": 0.5})
    assert run(engine, [r]) == [(0, "firing", "fraud/v3/prediction_drift", "warning", "new")]


def test_concept_drift_retrain_and_warning_state_downgrades_severity():
    rules = rules_from([{"name": "concept", "kind": "concept_drift", "severity": "critical", "action": "retrain",
                          "when": {"states": ["warning", "drift"]}, "resolve_after_windows": 2}])
    engine = AlertEngine(rules)
    warn = ConceptDriftEvent("adwin", "warning", 10, 100)
    drift = ConceptDriftEvent("adwin", "drift", 20, 180)
    reports = [report(0, concept=[warn]), report(1, concept=[drift]), report(2), report(3)]
    assert run(engine, reports) == [
        (0, "firing", "fraud/v3/concept_drift", "warning", "new"),
        (1, "firing", "fraud/v3/concept_drift", "critical", "escalation"),
        (3, "resolved", "fraud/v3/concept_drift", "critical", "resolved"),
    ]


def test_default_concept_rule_ignores_warnings_and_requests_retrain():
    engine = AlertEngine(DEFAULT_RULES)
    r0 = report(0, concept=[ConceptDriftEvent("adwin", "warning", 1, 5)])
    r1 = report(1, concept=[ConceptDriftEvent("adwin", "drift", 2, 9)])
    assert engine.evaluate(r0, now_ms=MIN) == []
    (alert,) = engine.evaluate(r1, now_ms=2 * MIN)
    assert (alert.action, alert.severity) == ("retrain", "critical")
    assert alert.summary == ("Concept drift on fraud/v3: error rate changed with no input drift "
                             "(adwin signalled drift at error index 9)")
    assert (alert.evidence["cause"], alert.evidence["input_drift"]) == ("concept", ())


def test_an_error_rate_change_with_input_drift_is_a_covariate_shift_that_notifies():
    """Issue 18: only the inputs shifted and the error rate followed; a critical `concept_drift` with action
    `retrain` read as a false alarm. With input drift in the same windows it is a `covariate_shift` naming the
    drifted features, a warning that notifies by default; without, still `concept_drift` that retrains."""
    engine = AlertEngine(DEFAULT_RULES)
    change = ConceptDriftEvent("adwin", "drift", 2, 9)
    labels = WindowReport("fraud", "v3", MIN, 2 * MIN, 0, 500, concept=(change,), input_drift=("amount", "age"))
    alerts = engine.evaluate(labels, now_ms=2 * MIN)
    assert [(a.kind, a.dedup_key, a.severity, a.action) for a in alerts] == [
        ("covariate_shift", "fraud/v3/covariate_shift", "warning", "notify")]
    assert alerts[0].summary == ("Covariate shift on fraud/v3: error rate changed with drift in `amount`, `age` "
                                 "(adwin signalled drift at error index 9)")
    assert (alerts[0].evidence["cause"], alerts[0].evidence["input_drift"]) == ("covariate", ("amount", "age"))
    # The next change comes with no input drift: concept drift, retrain; the covariate shift resolves.
    later = WindowReport("fraud", "v3", 2 * MIN, 3 * MIN, 0, 500, concept=(ConceptDriftEvent("adwin", "drift", 3, 30),))
    assert sorted((a.kind, a.status, a.action) for a in engine.evaluate(later, now_ms=3 * MIN)) == [
        ("concept_drift", "firing", "retrain"), ("covariate_shift", "resolved", "notify")]
    # A rule may watch covariate shifts with its own policy.
    (rule,) = rules_from([{"name": "shift", "kind": "covariate_shift", "severity": "critical", "action": "retrain",
                           "when": {"states": ["warning", "drift"]}}])
    assert (rule.condition.kind, rule.condition.states) == ("covariate_shift", ("warning", "drift"))


def test_data_quality_prefix_and_latency_rules():
    rules = rules_from([
        {"name": "missing", "kind": "data_quality", "severity": "warning", "action": "notify",
         "when": {"metric_prefix": "missing_rate", "op": ">", "value": 0.2}},
        {"name": "slow", "kind": "latency", "severity": "critical", "action": "notify",
         "when": {"metric": "latency_p95_ms", "op": ">", "value": 500}},
    ])
    engine = AlertEngine(rules)
    r = report(0, metrics={"missing_rate:age": 0.5, "missing_rate:amount": 0.01, "latency_p95_ms": 812.0})
    alerts = engine.evaluate(r, now_ms=MIN)
    assert [(a.dedup_key, a.severity) for a in alerts] == [
        ("fraud/v3/data_quality/age", "warning"), ("fraud/v3/latency", "critical")]
    assert alerts[0].features[0].name == "age" and alerts[0].features[0].statistic == 0.5
    assert alerts[1].summary == "Latency on fraud/v3: latency_p95_ms=812 > 500 (n=500)"


def test_models_do_not_interfere():
    engine = AlertEngine(DEFAULT_RULES)
    a0 = report(0, drifted=["x"], model="a")
    b0 = report(0, model="b")
    b1 = report(1, model="b")
    a1 = report(1, model="a")
    assert run(engine, [a0, b0, b1, a1]) == [
        (0, "firing", "a/v3/data_drift", "warning", "new"),
        (1, "resolved", "a/v3/data_drift", "warning", "resolved"),
    ]


def test_alert_id_is_deterministic_and_json_contract():
    r = report(0, drifted={"amount": 0.9}, metrics={"accuracy": 0.95})
    a1 = AlertEngine(DEFAULT_RULES).evaluate(r, now_ms=61_000)[0]
    a2 = AlertEngine(DEFAULT_RULES).evaluate(r, now_ms=99_000)[0]
    expected = hashlib.sha256(b"fraud/v3/data_drift|firing|0|warning").hexdigest()[:32]
    assert a1.alert_id == a2.alert_id == expected
    d = a1.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["window_start"] == "1970-01-01T00:00:00.000Z" and d["window_end"] == "1970-01-01T00:01:00.000Z"
    assert d["ts"] == "1970-01-01T00:01:01.000Z" and d["ts_ms"] == 61_000
    assert d["features"] == [{"name": "amount", "test": "psi", "statistic": 0.9, "threshold": 0.2, "p_value": None}]
    assert d["evidence"]["metrics"] == {"accuracy": 0.95}
    assert {"alert_id", "dedup_key", "status", "kind", "severity", "action", "model", "version",
            "summary", "window_start_ms", "window_end_ms"} <= d.keys()
    assert Alert.from_dict(d) == a1


def _random_reports(seed: int, n: int):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        drifted = [f for f in ("a", "b", "c", "d") if rng.random() < 0.35]
        metrics = {} if rng.random() < 0.2 else {"accuracy": rng.choice([0.6, 0.75, 0.85, 0.95])}
        concept = [ConceptDriftEvent("adwin", rng.choice(["warning", "drift"]), i, i)] if rng.random() < 0.1 else []
        out.append(report(i, drifted=drifted, clean=("e",), metrics=metrics, concept=concept,
                          model=rng.choice(["m1", "m2"])))
    return out


RICH_RULES = rules_from([
    {"name": "drift-any", "kind": "data_drift", "severity": "warning", "cooldown": "7m"},
    {"name": "drift-wide", "kind": "data_drift", "severity": "critical", "action": "retrain",
     "when": {"min_features": 3}, "for_windows": 2, "resolve_after_windows": 2},
    {"name": "drift-each", "kind": "data_drift", "severity": "warning", "per_feature": True, "features": ["a"]},
    {"name": "concept", "kind": "concept_drift", "severity": "critical", "action": "retrain",
     "when": {"states": ["warning", "drift"]}},
    {"name": "acc", "kind": "performance", "severity": "critical", "action": "deactivate",
     "when": {"metric": "accuracy", "op": "<", "value": 0.8}, "for_windows": 2, "resolve_after_windows": 3},
])


@pytest.mark.parametrize("seed", range(8))
def test_snapshot_restore_mid_sequence_gives_identical_outputs(seed):
    reports = _random_reports(seed, 120)
    straight = AlertEngine(RICH_RULES)
    expected = [[a.to_dict() for a in straight.evaluate(r, now_ms=r.window_end_ms)] for r in reports]
    assert sum(map(len, expected)) > 10  # the sequence exercises the state machine

    engine = AlertEngine(RICH_RULES)
    got = []
    for i, r in enumerate(reports):
        if i % 17 == 5:  # "crash": persist as JSON, rebuild a fresh engine
            saved = json.loads(json.dumps(engine.snapshot()))
            engine = AlertEngine(RICH_RULES)
            engine.restore(saved)
        got.append([a.to_dict() for a in engine.evaluate(r, now_ms=r.window_end_ms)])
    assert got == expected


def test_restart_neither_resends_nor_forgets_firing_alerts():
    engine = AlertEngine(DEFAULT_RULES)
    engine.evaluate(report(0, drifted=["x"]), now_ms=MIN)
    restored = AlertEngine(DEFAULT_RULES)
    restored.restore(json.loads(json.dumps(engine.snapshot())))
    assert restored.active() == engine.active()
    assert restored.evaluate(report(1, drifted=["x"]), now_ms=2 * MIN) == []  # no re-send
    assert [a.status for a in restored.evaluate(report(2), now_ms=3 * MIN)] == ["resolved"]  # not forgotten


def test_memory_is_bounded_pending_keys_evicted_before_firing_ones():
    rules = rules_from([{"name": "each", "kind": "data_drift", "severity": "warning",
                          "per_feature": True, "for_windows": 3}])
    engine = AlertEngine(rules, max_keys=5)
    for i in range(3):
        engine.evaluate(report(i, drifted=[f"f{j}" for j in range(4)], clean=()), now_ms=(i + 1) * MIN)
    assert len(engine.active()) == 4
    for i in range(3, 10):
        engine.evaluate(report(i, drifted=[f"g{i}"], clean=(), model="other"), now_ms=(i + 1) * MIN)
        assert len(engine.snapshot()["states"]) <= 5
    assert len(engine.active()) == 4  # firing keys survived the churn of pending ones


def test_every_rule_kind_and_operator_of_the_settings_has_a_condition():
    from driftline.alerting.rules import CONDITIONS

    assert set(CONDITIONS) == set(rule_settings.KINDS)
    assert set(OPERATORS) == set(rule_settings.OPERATORS)


def test_absent_rules_mean_the_defaults_and_an_empty_list_means_none():
    assert build_rules(None) is DEFAULT_RULES
    assert build_rules(()) == ()


def test_default_rules_cover_the_documented_policy():
    summary = [(r.kind, r.severity, r.action, r.for_windows) for r in DEFAULT_RULES]
    assert summary == [
        ("data_drift", "warning", "notify", 1),
        ("prediction_drift", "warning", "notify", 1),
        ("concept_drift", "critical", "retrain", 1),
        ("covariate_shift", "warning", "notify", 1),
        ("performance", "critical", "deactivate", 2),
        ("fairness", "warning", "notify", 1),  # only models with fairness: have fairness results
        ("performance", "warning", "notify", 2),
    ]


def test_non_finite_statistics_become_null_in_strict_json():
    engine = AlertEngine(DEFAULT_RULES)
    r = WindowReport("fraud", "v3", 0, MIN, 10, 0,
                     drift=(DriftResult("amount", "chi2", float("inf"), 0.01, True, p_value=0.0),),
                     metrics=(MetricValue("mae", float("nan"), 0),))
    (alert,) = engine.evaluate(r, now_ms=MIN)
    d = alert.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["features"][0]["statistic"] is None and d["evidence"]["metrics"] == {"mae": None}
    assert Alert.from_dict(d).to_dict() == d

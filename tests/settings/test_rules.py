"""``alerts.rules`` into typed rules with a typed ``when`` per kind; every problem named by its key path.

The alerting layer's use of them (conditions, engine): tests/alerting/test_engine.py.
"""

from __future__ import annotations

import pytest
from driftline.settings import (
    ConceptWhen,
    ConfigError,
    DriftWhen,
    MetricWhen,
    QualityWhen,
    RuleSettings,
    parse_rules,
)


def test_each_kind_gets_its_typed_when():
    rules = parse_rules([
        {"name": "d", "kind": "data_drift", "severity": "warning", "when": {"min_features": 3}, "per_feature": True,
         "features": ["a", "b"], "cooldown": "1h30m", "for_windows": 2, "resolve_after_windows": 3},
        {"name": "p", "kind": "prediction_drift", "severity": "warning"},
        {"name": "c", "kind": "concept_drift", "severity": "critical", "action": "retrain",
         "when": {"states": "warning"}},
        {"name": "a", "kind": "performance", "severity": "critical", "action": "deactivate",
         "when": {"metric": "accuracy", "op": "<", "value": 0.8, "min_n": 50}},
        {"name": "l", "kind": "latency", "severity": "warning", "when": {"metric": "latency_p95_ms", "op": ">",
                                                                          "value": 500}},
        {"name": "q", "kind": "data_quality", "severity": "warning",
         "when": {"metric_prefix": "missing_rate", "op": ">", "value": 0.1}},
    ])
    assert rules == (
        RuleSettings("d", "data_drift", "warning", "notify", DriftWhen(3), 2, 3, 5_400_000, ("a", "b"), True),
        RuleSettings("p", "prediction_drift", "warning", "notify", DriftWhen(1)),
        RuleSettings("c", "concept_drift", "critical", "retrain", ConceptWhen(("warning",))),
        RuleSettings("a", "performance", "critical", "deactivate", MetricWhen("accuracy", "<", 0.8, 50)),
        RuleSettings("l", "latency", "warning", "notify", MetricWhen("latency_p95_ms", ">", 500.0)),
        RuleSettings("q", "data_quality", "warning", "notify", QualityWhen(None, "missing_rate", ">", 0.1)),
    )


@pytest.mark.parametrize(("raw", "message"), [
    ([{"name": "r", "kind": "drift", "severity": "warning"}],
     "alerts.rules[0].kind: 'drift' is invalid, expected one of: data_drift, prediction_drift, concept_drift, "
     "covariate_shift, performance, data_quality, latency, experiment, rollback_not_effective, segment_performance, fairness"),
    ([{"name": "r", "kind": "performance", "severity": "warning", "when": {"metric": "accuracy", "op": "=",
                                                                           "value": 1}}],
     "alerts.rules[0].when.op: '=' is invalid, expected one of: <, <=, >, >="),
    ([{"name": "ok", "kind": "latency", "severity": "warning", "when": {"metric": "x", "op": ">", "value": 1}},
      {"name": "r", "kind": "data_drift", "severity": "warning", "cooldown": "soon"}],
     "alerts.rules[1].cooldown: 'soon' is invalid, expected a duration like 500ms, 60s, 5m, 1h, 1d or 1h30m "
     "(a bare number is seconds)"),
    ([{"name": "r", "kind": "data_drift", "severity": "warning", "for_windows": 0}],
     "alerts.rules[0].for_windows: 0 is invalid, expected an integer >= 1"),
    ([{"name": "r", "kind": "data_drift", "severity": "warning", "action": "page"}],
     "alerts.rules[0].action: 'page' is invalid, expected one of: notify, retrain, deactivate, rollback, promote"),
    ([{"name": "r", "kind": "data_drift", "severity": "warning", "wehn": {}}],
     "alerts.rules[0].wehn: {} is invalid, expected a known key: name, kind, severity, action, when"),
    ([{"name": "r", "kind": "data_drift", "severity": "warning", "when": {"metric": "accuracy"}}],
     "alerts.rules[0].when.metric: '***' is invalid, expected a known key: min_features"),
    ([{"name": "r", "kind": "data_quality", "severity": "warning", "when": {"op": ">", "value": 1}}],
     "alerts.rules[0].when: {'op': '>', 'value': 1} is invalid, expected exactly one of: metric, metric_prefix"),
    ([{"name": "r", "kind": "concept_drift", "severity": "warning", "when": {"states": ["drfit"]}}],
     "alerts.rules[0].when.states: ['drfit'] is invalid, expected a list drawn from: warning, drift"),
    ([{"name": "r", "kind": "latency", "severity": "warning", "when": {"metric": "x", "op": ">"}}],
     "alerts.rules[0].when.value: <missing> is invalid, expected a number"),
    ([{"name": "r", "kind": "data_drift", "severity": "warning", "features": "age"}],
     "alerts.rules[0].features: 'age' is invalid, expected a list of names"),
    ([{"name": "r", "kind": "data_drift", "severity": "warning", "per_feature": "yes"}],
     "alerts.rules[0].per_feature: 'yes' is invalid, expected true or false"),
    ([{"kind": "data_drift", "severity": "warning"}],
     "alerts.rules[0].name: <missing> is invalid, expected a non-empty string"),
    ([{"name": "r", "kind": "data_drift", "severity": "warning"}] * 2,
     "alerts.rules[1].name: 'r' is invalid, expected a name no earlier rule uses"),
    (["r"], "alerts.rules[0]: 'r' is invalid, expected a mapping with name, kind, severity"),
    ("nope", "alerts.rules: 'nope' is invalid, expected a list of rules"),
])
def test_problems_name_the_key_path(raw, message):
    with pytest.raises(ConfigError) as info:
        parse_rules(raw)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)


def test_every_bad_rule_is_reported_not_only_the_first():
    with pytest.raises(ConfigError) as info:
        parse_rules([{"name": "a", "kind": "nope", "severity": "warning"},
                     {"name": "b", "kind": "data_drift", "severity": "major"},
                     {"name": "c", "kind": "data_drift", "severity": "warning", "cooldown": -1}])
    assert [p.path for p in info.value.problems] == [
        "alerts.rules[0].kind", "alerts.rules[1].severity", "alerts.rules[2].cooldown"]

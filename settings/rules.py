"""``alerts.rules``: typed alert rules and the ``when:`` condition of each kind.

The alerting layer builds its condition objects from these (``driftline.alerting.build_rules``)
and keeps the default rules used when ``alerts.rules`` is absent.

>>> rules = parse_rules([{"name": "acc", "kind": "performance", "severity": "critical", "action": "deactivate",
...                       "when": {"metric": "accuracy", "op": "<", "value": 0.8}, "cooldown": "1h30m"}])
>>> rules[0].when, rules[0].cooldown_ms
(MetricWhen(metric='accuracy', op='<', value=0.8, min_n=0), 5400000)
>>> parse_rules([{"name": "x", "kind": "latency", "severity": "major",
...               "when": {"metric": "latency_p95_ms", "op": ">", "value": 500}}])
Traceback (most recent call last):
...
driftline.settings.errors.ConfigError: alerts.rules[0].severity: 'major' is invalid, expected one of: warning, critical
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftline.detectors.fairness import MEASURES

from .errors import MISSING
from .reader import Reader, join

__all__ = ["ACTIONS", "CONCEPT_STATES", "EXPERIMENT_VERDICTS", "KINDS", "OPERATORS", "SEVERITIES", "ConceptWhen",
           "DriftWhen", "ExperimentWhen", "FairnessWhen", "LifecycleWhen", "MetricWhen", "QualityWhen",
           "RuleSettings", "SegmentMetricWhen", "When", "parse_rules", "read_rules"]

SEVERITIES = ("warning", "critical")  # least to most severe
ACTIONS = ("notify", "retrain", "deactivate", "rollback", "promote")
KINDS = ("data_drift", "prediction_drift", "concept_drift", "covariate_shift", "performance", "data_quality",
         "latency", "experiment", "rollback_not_effective", "segment_performance", "fairness")
EXPERIMENT_VERDICTS = ("rollback", "promote", "inconclusive")  # the verdicts that decide an experiment
CONCEPT_STATES = ("warning", "drift")
OPERATORS = ("<", "<=", ">", ">=")
FAIRNESS_MEASURES = tuple(MEASURES)
_RULE_KEYS = ("name", "kind", "severity", "action", "when", "for_windows", "resolve_after_windows", "cooldown",
              "features", "per_feature")


@dataclass(frozen=True)
class DriftWhen:
    """``data_drift`` / ``prediction_drift``: at least ``min_features`` drifted features."""

    min_features: int = 1


@dataclass(frozen=True)
class ConceptWhen:
    """``concept_drift`` / ``covariate_shift``: an error-rate change point in one of ``states``
    (without / with input drift in the same windows)."""

    states: tuple[str, ...] = ("drift",)


@dataclass(frozen=True)
class MetricWhen:
    """``performance`` / ``latency``: ``metric op value`` once ``min_n`` samples are in."""

    metric: str
    op: str
    value: float
    min_n: int = 0


@dataclass(frozen=True)
class QualityWhen:
    """``data_quality``: one ``metric`` (``missing_rate:age``) or every metric of a ``prefix``."""

    metric: str | None
    prefix: str | None
    op: str
    value: float
    min_n: int = 0


@dataclass(frozen=True)
class ExperimentWhen:
    """``experiment``: an experiment's verdict changed to one of ``verdicts``."""

    verdicts: tuple[str, ...] = EXPERIMENT_VERDICTS


@dataclass(frozen=True)
class LifecycleWhen:
    """``rollback_not_effective``: a rolled-back or deactivated version still gets traffic."""


@dataclass(frozen=True)
class SegmentMetricWhen:
    """``segment_performance``: ``metric op value`` in a segment group with at least ``min_n`` rows
    (a group's own labelled rows: small groups do not page)."""

    metric: str
    op: str
    value: float
    min_n: int = 30


@dataclass(frozen=True)
class FairnessWhen:
    """``fairness``: a flagged fairness measure (past its threshold with confidence), of ``measures``
    (empty: any)."""

    measures: tuple[str, ...] = ()


When = (DriftWhen | ConceptWhen | MetricWhen | QualityWhen | ExperimentWhen | LifecycleWhen | SegmentMetricWhen
        | FairnessWhen)


@dataclass(frozen=True)
class RuleSettings:
    """One alert rule. ``cooldown_ms=None`` means the engine's default."""

    name: str
    kind: str
    severity: str
    action: str = "notify"
    when: When = DriftWhen()
    for_windows: int = 1
    resolve_after_windows: int = 1
    cooldown_ms: int | None = None
    features: tuple[str, ...] = ()
    per_feature: bool = False


def parse_rules(raw: Any, path: str = "alerts.rules") -> tuple[RuleSettings, ...]:
    """Read a list of rules; raises :class:`~driftline.settings.ConfigError` listing every problem."""
    r = Reader()
    rules = read_rules(r, raw, path)
    r.raise_if_problems()
    return rules


def read_rules(r: Reader, raw: Any, path: str) -> tuple[RuleSettings, ...]:
    if not isinstance(raw, list):
        r.problem(path, raw, "a list of rules")
        return ()
    rules: list[RuleSettings] = []
    for i, item in enumerate(raw):
        rule = _rule(r, item, join(path, i))
        if rule is None:
            continue
        if any(rule.name == earlier.name for earlier in rules):
            r.problem(join(join(path, i), "name"), rule.name, "a name no earlier rule uses")
        rules.append(rule)
    return tuple(rules)


def _rule(r: Reader, raw: Any, path: str) -> RuleSettings | None:
    if not isinstance(raw, Mapping):
        r.problem(path, raw, "a mapping with name, kind, severity")
        return None
    m = r.mapping(raw, path, keys=_RULE_KEYS)
    name = r.string(m, "name", path, required=True)
    kind = r.string(m, "kind", path, required=True, choices=KINDS)
    severity = r.string(m, "severity", path, required=True, choices=SEVERITIES)
    action = r.string(m, "action", path, "notify", choices=ACTIONS)
    features = r.strings(m, "features", path) or ()
    per_feature = r.boolean(m, "per_feature", path, False)
    when = _when(r, kind, m.get("when"), join(path, "when"))
    rule = RuleSettings(
        name=name or "", kind=kind or "", severity=severity or "", action=action or "notify",
        when=when if when is not None else DriftWhen(),
        for_windows=r.integer(m, "for_windows", path, 1, low=1),
        resolve_after_windows=r.integer(m, "resolve_after_windows", path, 1, low=1),
        cooldown_ms=r.duration_ms(m, "cooldown", path, None),
        features=features, per_feature=per_feature,
    )
    return rule if name and kind and severity and when is not None else None


def _when(r: Reader, kind: str | None, raw: Any, path: str) -> When | None:
    if kind is None:
        return None
    keys = {"data_drift": ("min_features",), "prediction_drift": ("min_features",),
            "concept_drift": ("states",), "covariate_shift": ("states",), "performance": ("metric", "op", "value", "min_n"),
            "latency": ("metric", "op", "value", "min_n"),
            "data_quality": ("metric", "metric_prefix", "op", "value", "min_n"),
            "experiment": ("verdicts",), "rollback_not_effective": (),
            "segment_performance": ("metric", "op", "value", "min_n"), "fairness": ("measures",)}[kind]
    n_before = len(r.problems)
    w = r.mapping(raw, path, keys=keys)
    if kind in ("data_drift", "prediction_drift"):
        when: When = DriftWhen(r.integer(w, "min_features", path, 1, low=1))
    elif kind == "experiment":
        verdicts = w.get("verdicts", list(EXPERIMENT_VERDICTS))
        verdicts = [verdicts] if isinstance(verdicts, str) else verdicts
        when = ExperimentWhen(r.strings({"verdicts": verdicts}, "verdicts", path, choices=EXPERIMENT_VERDICTS)
                              or EXPERIMENT_VERDICTS)
    elif kind == "rollback_not_effective":
        when = LifecycleWhen()
    elif kind in ("concept_drift", "covariate_shift"):
        states = w.get("states", ["drift"])
        states = [states] if isinstance(states, str) else states
        when = ConceptWhen(r.strings({"states": states}, "states", path, choices=CONCEPT_STATES) or ("drift",))
        if states == []:
            r.problem(join(path, "states"), states, "a list drawn from: " + ", ".join(CONCEPT_STATES))
    elif kind == "fairness":
        when = FairnessWhen(r.strings(w, "measures", path, choices=FAIRNESS_MEASURES) or ())
    else:
        op = r.string(w, "op", path, "<", required=True, choices=OPERATORS)
        value = r.number(w, "value", path, None)
        if w.get("value") is None:
            r.problem(join(path, "value"), w.get("value", MISSING), "a number")
        min_n = r.integer(w, "min_n", path, 0, low=0)
        if kind == "data_quality":
            metric = r.string(w, "metric", path)
            prefix = r.string(w, "metric_prefix", path)
            if (metric is None) == (prefix is None):
                r.problem(path, dict(w), "exactly one of: metric, metric_prefix")
            when = QualityWhen(metric, prefix, op, value or 0.0, min_n)
        elif kind == "segment_performance":
            when = SegmentMetricWhen(r.string(w, "metric", path, "", required=True), op, value or 0.0,
                                     r.integer(w, "min_n", path, 30, low=0))
        else:
            when = MetricWhen(r.string(w, "metric", path, "", required=True), op, value or 0.0, min_n)
    return when if len(r.problems) == n_before else None

"""Alert rules: what turns a :class:`~driftline.detectors.results.WindowReport` into a finding.

A rule is parsed once from YAML (``alerts.rules``) into a frozen
:class:`AlertRule`. Its ``kind`` selects a condition class from
:data:`CONDITIONS`; the condition *observes* a report and says, per dedup key,
whether it matched (a :class:`Finding`), was clean (``None``) or had no data
(the key is not yielded at all). The :class:`~driftline.alerting.engine.AlertEngine`
turns those observations into firing/resolved alerts.

>>> rules = parse_rules([{"name": "acc", "kind": "performance", "severity": "critical",
...     "action": "deactivate", "when": {"metric": "accuracy", "op": "<", "value": 0.8},
...     "for_windows": 2, "cooldown": "1h"}])
>>> rules[0].for_windows, rules[0].cooldown_ms
(2, 3600000)
>>> parse_rules([{"name": "x", "kind": "latency", "severity": "major", "action": "notify",
...     "when": {"metric": "latency_p95_ms", "op": ">", "value": 500}}])
Traceback (most recent call last):
...
driftline.alerting.errors.RuleConfigError: alerts.rules[0].severity: got 'major', expected one of 'critical', 'warning'
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from driftline.detectors.results import DriftResult, WindowReport

from .errors import RuleConfigError
from .payload import FeatureEvidence

__all__ = [
    "ACTIONS",
    "CONCEPT_STATES",
    "OPERATORS",
    "PREDICTION_FEATURES",
    "ConceptDriftCondition",
    "DataQualityCondition",
    "DriftCondition",
    "MetricCondition",
    "dedup_key",
    "CONDITIONS",
    "DEFAULT_RULES",
    "KINDS",
    "SEVERITIES",
    "AlertRule",
    "Condition",
    "Finding",
    "Observation",
    "RuleConfigError",
    "parse_duration_ms",
    "parse_rules",
    "severity_rank",
]

SEVERITIES = ("warning", "critical")
ACTIONS = ("notify", "retrain", "deactivate")
KINDS = ("data_drift", "prediction_drift", "concept_drift", "performance", "data_quality", "latency")


PREDICTION_FEATURES = frozenset({"prediction", "score"})
CONCEPT_STATES = ("warning", "drift")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule matched: what the alert for this dedup key should say."""

    severity: str
    features: tuple[FeatureEvidence, ...]
    summary: str
    evidence: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Observation:
    """What one rule saw for one dedup key: a :class:`Finding`, or ``None`` when clean."""

    dedup_key: str
    kind: str
    feature: str | None
    finding: Finding | None


def dedup_key(model: str, version: str, kind: str, feature: str | None = None) -> str:
    """``model/version/kind`` or ``model/version/kind/feature``.

    >>> dedup_key("fraud", "v3", "data_quality", "age")
    'fraud/v3/data_quality/age'
    """
    base = f"{model}/{version}/{kind}"
    return base if feature is None else f"{base}/{feature}"


def _describe(r: FeatureEvidence) -> str:
    if r.p_value is not None:
        return f"{r.name} {r.test} p={r.p_value:.3g} < {r.threshold:g}"
    return f"{r.name} {r.test}={r.statistic:.3g} > {r.threshold:g}"


def _evidence_of(r: DriftResult) -> FeatureEvidence:
    return FeatureEvidence(r.feature, r.test, float(r.statistic), float(r.threshold), r.p_value)


def _no_keys(kind: str, when: Mapping, allowed: set[str], path: str) -> None:
    unknown = sorted(set(when) - allowed)
    if unknown:
        expected = ", ".join(sorted(allowed)) or "no keys"
        raise ValueError(f"{path}.{unknown[0]}: unknown key for kind {kind!r}, expected {expected}")


@dataclass(frozen=True, slots=True)
class DriftCondition:
    """``data_drift`` / ``prediction_drift``: any drifted :class:`DriftResult`.

    Prediction drift looks at results named ``prediction``/``score``; data drift
    at every other feature. Grouped (default): one key per model/version listing
    every drifted feature worst first; ``per_feature: true`` gives one key each.
    """

    kind: str
    min_features: int = 1

    @classmethod
    def from_config(cls, kind: str, when: Mapping, path: str) -> DriftCondition:
        _no_keys(kind, when, {"min_features"}, path)
        n = when.get("min_features", 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{path}.min_features: got {n!r}, expected an integer >= 1")
        return cls(kind, n)

    def observe(self, report: WindowReport, rule: AlertRule) -> Iterator[Observation]:
        want_prediction = self.kind == "prediction_drift"
        tested = [
            r for r in report.drift
            if (r.feature in PREDICTION_FEATURES) == want_prediction
            and (not rule.features or r.feature in rule.features)
        ]
        if not tested:
            return  # no data for this kind in this window
        ids = {id(r) for r in tested}
        drifted = [_evidence_of(r) for r in report.drifted_features if id(r) in ids]
        label = "Prediction drift" if want_prediction else "Data drift"
        where = f"{report.model}/{report.version}"
        if rule.per_feature:
            hit = {f.name: f for f in drifted}
            for r in tested:
                ev = hit.get(r.feature)
                finding = None if ev is None else Finding(
                    rule.severity, (ev,), f"{label} on {where}: {_describe(ev)}",
                    {"features_tested": 1, "features_drifted": [ev.name]},
                )
                yield Observation(dedup_key(report.model, report.version, self.kind, r.feature),
                                  self.kind, r.feature, finding)
            return
        finding = None
        if len(drifted) >= self.min_features:
            top = "; ".join(_describe(f) for f in drifted[:3])
            more = f" (+{len(drifted) - 3} more)" if len(drifted) > 3 else ""
            finding = Finding(
                rule.severity, tuple(drifted),
                f"{label} on {where}: {len(drifted)} of {len(tested)} drifted: {top}{more}",
                {"features_tested": len(tested), "features_drifted": [f.name for f in drifted]},
            )
        yield Observation(dedup_key(report.model, report.version, self.kind), self.kind, None, finding)


@dataclass(frozen=True, slots=True)
class ConceptDriftCondition:
    """``concept_drift``: a :class:`ConceptDriftEvent` whose state is in ``states``.

    Events are sparse, so a window without one counts as clean. A window with
    only ``warning`` events yields ``warning`` severity whatever the rule says.
    """

    states: tuple[str, ...] = ("drift",)

    @classmethod
    def from_config(cls, kind: str, when: Mapping, path: str) -> ConceptDriftCondition:
        _no_keys(kind, when, {"states"}, path)
        states = when.get("states", ["drift"])
        if isinstance(states, str):
            states = [states]
        if not states or not all(s in CONCEPT_STATES for s in states):
            raise ValueError(f"{path}.states: got {states!r}, expected a list drawn from 'warning', 'drift'")
        return cls(tuple(states))

    def observe(self, report: WindowReport, rule: AlertRule) -> Iterator[Observation]:
        if not report.n_labels and not report.concept:
            return  # a prediction-side window: the error stream is not observed there
        events = [e for e in report.concept if e.state in self.states]
        finding = None
        if events:
            severity = rule.severity if any(e.state == "drift" for e in events) else "warning"
            worst = next((e for e in events if e.state == "drift"), events[0])
            finding = Finding(
                severity, (),
                f"Concept drift on {report.model}/{report.version}: {worst.detector} "
                f"signalled {worst.state} at error index {worst.index}",
                {"events": [{"detector": e.detector, "state": e.state, "ts_ms": e.ts_ms, "index": e.index}
                            for e in events]},
            )
        yield Observation(dedup_key(report.model, report.version, "concept_drift"), "concept_drift", None, finding)


def _threshold(when: Mapping, path: str) -> tuple[str, float, int]:
    op = when.get("op")
    if op not in OPERATORS:
        raise ValueError(f"{path}.op: got {op!r}, expected one of {', '.join(repr(o) for o in OPERATORS)}")
    value = when.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ValueError(f"{path}.value: got {value!r}, expected a number")
    min_n = when.get("min_n", 0)
    if isinstance(min_n, bool) or not isinstance(min_n, int) or min_n < 0:
        raise ValueError(f"{path}.min_n: got {min_n!r}, expected an integer >= 0")
    return op, float(value), min_n


_KIND_LABEL = {"performance": "Performance", "latency": "Latency", "data_quality": "Data quality"}


@dataclass(frozen=True, slots=True)
class MetricCondition:
    """``performance`` / ``latency``: ``{metric, op, value, min_n: 0}`` on a window metric.

    A window without the metric (or with fewer than ``min_n`` samples) is "no
    data": it neither advances nor resolves the alert (labels arrive late).
    """

    kind: str
    metric: str
    op: str
    value: float
    min_n: int = 0

    @classmethod
    def from_config(cls, kind: str, when: Mapping, path: str) -> MetricCondition:
        _no_keys(kind, when, {"metric", "op", "value", "min_n"}, path)
        metric = when.get("metric")
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"{path}.metric: got {metric!r}, expected a metric name such as 'accuracy'")
        return cls(kind, metric, *_threshold(when, path))

    def observe(self, report: WindowReport, rule: AlertRule) -> Iterator[Observation]:
        found = [m for m in report.metrics if m.name == self.metric]
        if not found or found[-1].n < self.min_n:
            return
        m = found[-1]
        finding = None
        if OPERATORS[self.op](m.value, self.value):
            finding = Finding(
                rule.severity, (),
                f"{_KIND_LABEL[self.kind]} on {report.model}/{report.version}: "
                f"{m.name}={m.value:.4g} {self.op} {self.value:g} (n={m.n})",
                {"metric": m.name, "value": m.value, "op": self.op, "threshold": self.value, "n": m.n},
            )
        yield Observation(dedup_key(report.model, report.version, self.kind), self.kind, None, finding)


@dataclass(frozen=True, slots=True)
class DataQualityCondition:
    """``data_quality``: ``{metric: "missing_rate:age", ...}`` or ``{metric_prefix: "missing_rate", ...}``.

    Metric names are ``<check>:<feature>``; each feature gets its own key.
    """

    metric: str | None
    prefix: str | None
    op: str
    value: float
    min_n: int = 0

    @classmethod
    def from_config(cls, kind: str, when: Mapping, path: str) -> DataQualityCondition:
        _no_keys(kind, when, {"metric", "metric_prefix", "op", "value", "min_n"}, path)
        metric, prefix = when.get("metric"), when.get("metric_prefix")
        if (metric is None) == (prefix is None):
            raise ValueError(f"{path}: got metric={metric!r}, metric_prefix={prefix!r}, expected exactly one of them")
        for key, v in (("metric", metric), ("metric_prefix", prefix)):
            if v is not None and (not isinstance(v, str) or not v):
                raise ValueError(f"{path}.{key}: got {v!r}, expected a non-empty string")
        return cls(metric, prefix, *_threshold(when, path))

    def observe(self, report: WindowReport, rule: AlertRule) -> Iterator[Observation]:
        latest = {m.name: m for m in report.metrics}
        for m in latest.values():
            if self.metric is not None and m.name != self.metric:
                continue
            if self.prefix is not None and not m.name.startswith(self.prefix + ":"):
                continue
            check, _, feature = m.name.partition(":")
            if (rule.features and feature not in rule.features) or m.n < self.min_n:
                continue
            finding = None
            if OPERATORS[self.op](m.value, self.value):
                ev = FeatureEvidence(feature or check, check, float(m.value), self.value, None)
                finding = Finding(
                    rule.severity, (ev,),
                    f"Data quality on {report.model}/{report.version}: "
                    f"{m.name}={m.value:.4g} {self.op} {self.value:g} (n={m.n})",
                    {"metric": m.name, "value": m.value, "op": self.op, "threshold": self.value, "n": m.n},
                )
            yield Observation(dedup_key(report.model, report.version, "data_quality", feature or None),
                              "data_quality", feature or None, finding)



def severity_rank(severity: str) -> int:
    """0 for ``warning``, 1 for ``critical`` (higher is worse)."""
    return SEVERITIES.index(severity)


class Condition(Protocol):
    """The ``when:`` block of a rule, parsed; one class per ``kind``."""

    def observe(self, report: WindowReport, rule: AlertRule) -> Iterator[Observation]:
        """Yield one observation per dedup key this report says something about."""
        ...


# The registry: YAML ``kind:`` -> condition class. Each class has
# ``from_config(kind, when, path, *, per_feature, features)``.
CONDITIONS: dict[str, Any] = {
    "data_drift": DriftCondition,
    "prediction_drift": DriftCondition,
    "concept_drift": ConceptDriftCondition,
    "performance": MetricCondition,
    "latency": MetricCondition,
    "data_quality": DataQualityCondition,
}


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One validated alert rule. ``cooldown_ms=None`` means the engine default."""

    name: str
    kind: str
    severity: str
    action: str
    condition: Condition = field(repr=False)
    for_windows: int = 1
    resolve_after_windows: int = 1
    cooldown_ms: int | None = None
    features: tuple[str, ...] = ()
    per_feature: bool = False

    def observe(self, report: WindowReport) -> Iterator[Observation]:
        return self.condition.observe(report, self)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration_ms(value: object, path: str) -> int:
    """``"30m"``, ``"1h30m"``, ``"500ms"`` or a number of seconds -> milliseconds.

    >>> parse_duration_ms("1h30m", "x"), parse_duration_ms(90, "x")
    (5400000, 90000)
    """
    if isinstance(value, bool):
        raise RuleConfigError(f"{path}: got {value!r}, expected a duration like '30m' or seconds")
    if isinstance(value, int | float) and value >= 0:
        return int(value * 1000)
    text = str(value).strip()
    if text and _DURATION.sub("", text) == "":
        return int(sum(float(n) * _UNIT_MS[u] for n, u in _DURATION.findall(text)))
    raise RuleConfigError(f"{path}: got {value!r}, expected a duration like '30m', '1h30m' or seconds")


_RULE_KEYS = {
    "name", "kind", "severity", "action", "when", "for_windows",
    "resolve_after_windows", "cooldown", "features", "per_feature",
}


def _choice(raw: Mapping, key: str, options: Sequence[str], path: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if value not in options:
        expected = ", ".join(repr(o) for o in sorted(options))
        raise RuleConfigError(f"{path}.{key}: got {value!r}, expected one of {expected}")
    return value


def _positive_int(raw: Mapping, key: str, path: str) -> int:
    value = raw.get(key, 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RuleConfigError(f"{path}.{key}: got {value!r}, expected an integer >= 1")
    return value


def _parse_rule(raw: object, path: str) -> AlertRule:
    if not isinstance(raw, Mapping):
        raise RuleConfigError(f"{path}: got {raw!r}, expected a mapping")
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise RuleConfigError(f"{path}.{unknown[0]}: unknown key, expected one of {', '.join(sorted(_RULE_KEYS))}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise RuleConfigError(f"{path}.name: got {name!r}, expected a non-empty string")
    kind = _choice(raw, "kind", KINDS, path)
    severity = _choice(raw, "severity", SEVERITIES, path)
    action = _choice(raw, "action", ACTIONS, path, default="notify")
    features = raw.get("features", ())
    if isinstance(features, str) or not isinstance(features, Sequence) or not all(isinstance(f, str) for f in features):
        raise RuleConfigError(f"{path}.features: got {features!r}, expected a list of feature names")
    per_feature = raw.get("per_feature", False)
    if not isinstance(per_feature, bool):
        raise RuleConfigError(f"{path}.per_feature: got {per_feature!r}, expected true or false")
    when = raw.get("when", {})
    if not isinstance(when, Mapping):
        raise RuleConfigError(f"{path}.when: got {when!r}, expected a mapping")
    try:
        condition = CONDITIONS[kind].from_config(kind, when, f"{path}.when")
    except ValueError as exc:
        raise RuleConfigError(str(exc)) from exc
    cooldown = raw.get("cooldown")
    return AlertRule(
        name=name,
        kind=kind,
        severity=severity,
        action=action,
        condition=condition,
        for_windows=_positive_int(raw, "for_windows", path),
        resolve_after_windows=_positive_int(raw, "resolve_after_windows", path),
        cooldown_ms=None if cooldown is None else parse_duration_ms(cooldown, f"{path}.cooldown"),
        features=tuple(features),
        per_feature=per_feature,
    )


def parse_rules(raw: object, path: str = "alerts.rules") -> tuple[AlertRule, ...]:
    """Validate a list of rule mappings (as loaded by ``yaml.safe_load``)."""
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
        raise RuleConfigError(f"{path}: got {raw!r}, expected a list of rules")
    rules = tuple(_parse_rule(item, f"{path}[{i}]") for i, item in enumerate(raw))
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.name in seen:
            raise RuleConfigError(f"{path}[{i}].name: got {rule.name!r}, expected a name not used by an earlier rule")
        seen.add(rule.name)
    return rules


DEFAULT_RULES: tuple[AlertRule, ...] = parse_rules(
    [
        {"name": "data-drift", "kind": "data_drift", "severity": "warning", "action": "notify"},
        {"name": "prediction-drift", "kind": "prediction_drift", "severity": "warning", "action": "notify"},
        {"name": "concept-drift", "kind": "concept_drift", "severity": "critical", "action": "retrain",
         "when": {"states": ["drift"]}},
        {"name": "accuracy-low", "kind": "performance", "severity": "critical", "action": "deactivate",
         "when": {"metric": "accuracy", "op": "<", "value": 0.8}, "for_windows": 2},
    ],
    path="DEFAULT_RULES",
)

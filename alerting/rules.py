"""Alert rules: what turns a :class:`~driftline.detectors.results.WindowReport` into a finding.

A rule comes from the settings layer as a typed :class:`~driftline.settings.RuleSettings`;
:func:`build_rules` gives each its condition object, chosen by ``kind`` from
:data:`CONDITIONS`. The condition *observes* a report and says, per dedup key, whether it
matched (a :class:`Finding`), was clean (``None``) or had no data (the key is not yielded
at all). The :class:`~driftline.alerting.engine.AlertEngine` turns those observations into
firing/resolved alerts. :data:`DEFAULT_RULES` apply when the config has no ``alerts.rules``.

>>> from driftline.settings import MetricWhen, RuleSettings
>>> (rule,) = build_rules([RuleSettings("acc", "performance", "critical", "deactivate",
...                                     MetricWhen("accuracy", "<", 0.8), for_windows=2)])
>>> rule.for_windows, rule.condition
(2, MetricCondition(kind='performance', metric='accuracy', op='<', value=0.8, min_n=0))
>>> [r.name for r in build_rules(None)] == [r.name for r in DEFAULT_RULES]
True
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from driftline.detectors.results import DriftResult, WindowReport
from driftline.settings import (
    SEVERITIES,
    ConceptWhen,
    DriftWhen,
    MetricWhen,
    QualityWhen,
    RuleSettings,
)

from .payload import FeatureEvidence

__all__ = [
    "CONDITIONS",
    "DEFAULT_RULES",
    "OPERATORS",
    "PREDICTION_FEATURES",
    "AlertRule",
    "ConceptDriftCondition",
    "Condition",
    "DataQualityCondition",
    "DriftCondition",
    "Finding",
    "MetricCondition",
    "Observation",
    "build_rules",
    "dedup_key",
    "severity_rank",
]

PREDICTION_FEATURES = frozenset({"prediction", "score"})
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
    return FeatureEvidence(r.feature, r.stored_test, float(r.statistic), float(r.threshold), r.p_value)


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
    def from_settings(cls, kind: str, when: DriftWhen) -> DriftCondition:
        return cls(kind, when.min_features)

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
    def from_settings(cls, kind: str, when: ConceptWhen) -> ConceptDriftCondition:
        return cls(when.states)

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
    def from_settings(cls, kind: str, when: MetricWhen) -> MetricCondition:
        return cls(kind, when.metric, when.op, when.value, when.min_n)

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
    def from_settings(cls, kind: str, when: QualityWhen) -> DataQualityCondition:
        return cls(when.metric, when.prefix, when.op, when.value, when.min_n)

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


# The registry: rule ``kind`` -> condition class, each built by ``from_settings(kind, when)``.
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

    @classmethod
    def from_settings(cls, rule: RuleSettings) -> AlertRule:
        return cls(
            name=rule.name, kind=rule.kind, severity=rule.severity, action=rule.action,
            condition=CONDITIONS[rule.kind].from_settings(rule.kind, rule.when),
            for_windows=rule.for_windows, resolve_after_windows=rule.resolve_after_windows,
            cooldown_ms=rule.cooldown_ms, features=rule.features, per_feature=rule.per_feature,
        )


# The policy when a config has no ``alerts.rules``.
DEFAULT_RULE_SETTINGS: tuple[RuleSettings, ...] = (
    RuleSettings("data-drift", "data_drift", "warning", "notify"),
    RuleSettings("prediction-drift", "prediction_drift", "warning", "notify"),
    RuleSettings("concept-drift", "concept_drift", "critical", "retrain", ConceptWhen(("drift",))),
    RuleSettings("accuracy-low", "performance", "critical", "deactivate", MetricWhen("accuracy", "<", 0.8),
                 for_windows=2),
)


def build_rules(rules: Iterable[RuleSettings] | None) -> tuple[AlertRule, ...]:
    """The rules to run: one :class:`AlertRule` per setting, or :data:`DEFAULT_RULES` for ``None``
    (``alerts.rules`` absent; an empty list means no rules)."""
    if rules is None:
        return DEFAULT_RULES
    return tuple(AlertRule.from_settings(rule) for rule in rules)


DEFAULT_RULES: tuple[AlertRule, ...] = tuple(AlertRule.from_settings(rule) for rule in DEFAULT_RULE_SETTINGS)

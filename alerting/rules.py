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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from driftline.detectors.results import DriftResult, WindowReport
from driftline.settings import (
    SEVERITIES,
    ConceptWhen,
    DriftWhen,
    FairnessWhen,
    MetricWhen,
    QualityWhen,
    RuleSettings,
    SegmentMetricWhen,
)

from .experiment_rules import (
    DEFAULT_LIFECYCLE_RULE_SETTINGS,
    LIFECYCLE_KINDS,
    ExperimentCondition,
    RollbackCondition,
)
from .findings import Finding, Observation, dedup_key
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
    "FairnessCondition",
    "Finding",
    "MetricCondition",
    "Observation",
    "SegmentPerformanceCondition",
    "build_rules",
    "dedup_key",
    "lifecycle_rules",
    "severity_rank",
]

PREDICTION_FEATURES = frozenset({"prediction", "score"})
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


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
    """``concept_drift`` / ``covariate_shift``: a :class:`ConceptDriftEvent` (an error-rate change)
    whose state is in ``states``, told apart by what the inputs did in the same windows.

    ``covariate_shift``: input features drifted in the label window's prediction window or the
    one before (``report.input_drift``): the inputs moved and the error rate followed; the
    summary names them ("error rate changed with drift in `amount`"). ``concept_drift``: no input
    drift: the relation between inputs and labels changed ("error rate changed with no input
    drift"). Each kind has its own dedup key, so rules can act differently (by default: notify
    on a covariate shift, retrain on concept drift). Events are sparse, so a window without one
    counts as clean. A window with only ``warning`` events yields ``warning`` severity whatever
    the rule says.
    """

    states: tuple[str, ...] = ("drift",)
    kind: str = "concept_drift"

    @classmethod
    def from_settings(cls, kind: str, when: ConceptWhen) -> ConceptDriftCondition:
        return cls(when.states, kind)

    def observe(self, report: WindowReport, rule: AlertRule) -> Iterator[Observation]:
        if not report.n_labels and not report.concept:
            return  # a prediction-side window: the error stream is not observed there
        inputs = report.input_drift
        events = [e for e in report.concept if e.state in self.states]
        finding = None
        if events and bool(inputs) == (self.kind == "covariate_shift"):
            severity = rule.severity if any(e.state == "drift" for e in events) else "warning"
            worst = next((e for e in events if e.state == "drift"), events[0])
            where = f"{report.model}/{report.version}"
            signal = f"{worst.detector} signalled {worst.state} at error index {worst.index}"
            if inputs:
                named = ", ".join(f"`{name}`" for name in inputs[:3]) + (f" (+{len(inputs) - 3} more)"
                                                                        if len(inputs) > 3 else "")
                summary = f"Covariate shift on {where}: error rate changed with drift in {named} ({signal})"
            else:
                summary = f"Concept drift on {where}: error rate changed with no input drift ({signal})"
            finding = Finding(
                severity, (), summary,
                {"events": [{"detector": e.detector, "state": e.state, "ts_ms": e.ts_ms, "index": e.index}
                            for e in events],
                 "cause": "covariate" if inputs else "concept", "input_drift": list(inputs)},
            )
        yield Observation(dedup_key(report.model, report.version, self.kind), self.kind, None, finding)


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
        # ``estimated_*`` metrics (CBPE) come before the labels, from prediction windows: their
        # alert has its own key, so realized metrics neither resolve nor extend it.
        estimate = m.name.startswith("estimated_")
        finding = None
        if OPERATORS[self.op](m.value, self.value):
            details = {"metric": m.name, "value": m.value, "op": self.op, "threshold": self.value, "n": m.n}
            note = ""
            if estimate:
                band = {b.name.rpartition("_")[2]: b.value for b in report.metrics
                        if b.name in (f"{m.name}_lower", f"{m.name}_upper")}
                details.update(estimate=True, method="cbpe", **band)
                note = " (estimated before labels, CBPE" + (
                    f", band {band['lower']:.4g}..{band['upper']:.4g})" if len(band) == 2 else ")")
            finding = Finding(
                rule.severity, (),
                f"{_KIND_LABEL[self.kind]} on {report.model}/{report.version}: "
                f"{m.name}={m.value:.4g} {self.op} {self.value:g} (n={m.n}){note}",
                details,
            )
        key = dedup_key(report.model, report.version, self.kind, "estimated" if estimate else None)
        yield Observation(key, self.kind, None, finding)


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


OTHER_GROUP = "__other__"  # values folded past a segment key's max_values: a mixture, not a segment


@dataclass(frozen=True, slots=True)
class SegmentPerformanceCondition:
    """``segment_performance``: ``{metric, op, value, min_n: 30}`` on a metric of each segment group.

    Each group is its own dedup key (``model/version/segment_performance/country=DE``); a group
    with fewer than ``min_n`` rows, ``__other__`` and a window without the metric are "no data".
    ``features`` in the rule lists the segment keys to watch (all when empty).
    """

    metric: str
    op: str
    value: float
    min_n: int = 30

    @classmethod
    def from_settings(cls, kind: str, when: SegmentMetricWhen) -> SegmentPerformanceCondition:
        return cls(when.metric, when.op, when.value, when.min_n)

    def observe(self, report: WindowReport, rule: AlertRule) -> Iterator[Observation]:
        overall = next((m.value for m in report.metrics if m.name == self.metric), None)
        for m in report.segments:
            if m.name != self.metric or m.group == OTHER_GROUP or m.n < self.min_n \
                    or (rule.features and m.key not in rule.features):
                continue
            where = f"{m.key}={m.group}"
            finding = None
            if OPERATORS[self.op](m.value, self.value):
                ev = FeatureEvidence(where, m.name, float(m.value), self.value, None)
                versus = "" if overall is None else f", {overall:.4g} overall"
                finding = Finding(
                    rule.severity, (ev,),
                    f"Segment performance on {report.model}/{report.version}: {where} "
                    f"{m.name}={m.value:.4g} {self.op} {self.value:g} (n={m.n}{versus})",
                    {"segment_key": m.key, "segment_group": m.group, "metric": m.name, "value": m.value,
                     "op": self.op, "threshold": self.value, "n": m.n, "overall": overall},
                )
            yield Observation(dedup_key(report.model, report.version, "segment_performance", where),
                              "segment_performance", where, finding)


# Fairness measures fall in two families: from the predictions alone, or from labelled outcomes.
# Each family of a sensitive key is one dedup key: prediction-side and label-side windows close apart.
SELECTION_MEASURES = frozenset({"demographic_parity_difference", "demographic_parity_ratio"})


@dataclass(frozen=True, slots=True)
class FairnessCondition:
    """``fairness``: a flagged fairness measure (past its threshold with confidence, groups large enough).

    One dedup key per sensitive key and family: ``model/version/fairness/sex/selection``
    (demographic parity) and ``.../sex/outcomes`` (TPR, FPR, precision or MAE gaps). The
    finding names the worst and the best group with their values and sizes, and the gap.
    ``measures`` narrows the measures watched; ``features`` in the rule, the sensitive keys.
    """

    measures: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, kind: str, when: FairnessWhen) -> FairnessCondition:
        return cls(when.measures)

    def observe(self, report: WindowReport, rule: AlertRule) -> Iterator[Observation]:
        families: dict[tuple[str, str], list] = {}
        for r in report.fairness:
            if (self.measures and r.measure not in self.measures) or (rule.features and r.key not in rule.features):
                continue
            family = "selection" if r.measure in SELECTION_MEASURES else "outcomes"
            families.setdefault((r.key, family), []).append(r)
        for (key, family), results in families.items():
            flagged = sorted((r for r in results if r.flagged), key=lambda r: r.p_value)
            finding = None
            if flagged:
                top = flagged[0]
                op = "<" if top.measure.endswith("ratio") and not top.measure.startswith("mae") else ">"
                finding = Finding(
                    rule.severity,
                    tuple(FeatureEvidence(f"{key}={r.worst}", r.measure, r.value, r.threshold, r.p_value)
                          for r in flagged),
                    f"Fairness on {report.model}/{report.version}, {key}: {top.measure}={top.value:.3g} "
                    f"{op} {top.threshold:g}: group {top.worst} {top.worst_value:.3g} (n={top.worst_n}) vs "
                    f"{top.best} {top.best_value:.3g} (n={top.best_n}), p={top.p_value:.2g}",
                    {"sensitive_key": key, "family": family, "measures": [_fairness_evidence(r) for r in results]},
                )
            yield Observation(dedup_key(report.model, report.version, "fairness", f"{key}/{family}"),
                              "fairness", key, finding)


def _fairness_evidence(r: Any) -> dict[str, Any]:
    return {"measure": r.measure, "value": r.value, "threshold": r.threshold, "flagged": r.flagged,
            "worst_group": r.worst, "best_group": r.best, "worst_value": r.worst_value, "best_value": r.best_value,
            "worst_n": r.worst_n, "best_n": r.best_n, "p_value": r.p_value,
            "groups": [{"group": g.group, "value": g.value, "n": g.n, "low": g.low, "high": g.high}
                       for g in r.groups]}


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
    "covariate_shift": ConceptDriftCondition,
    "performance": MetricCondition,
    "latency": MetricCondition,
    "data_quality": DataQualityCondition,
    "experiment": ExperimentCondition,
    "rollback_not_effective": RollbackCondition,
    "segment_performance": SegmentPerformanceCondition,
    "fairness": FairnessCondition,
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
    # The error rate changed with the inputs: the model may be right where the inputs went; say so.
    RuleSettings("covariate-shift", "covariate_shift", "warning", "notify", ConceptWhen(("drift",))),
    RuleSettings("accuracy-low", "performance", "critical", "deactivate", MetricWhen("accuracy", "<", 0.8),
                 for_windows=2),
    # Only models with ``fairness:`` have fairness results.
    RuleSettings("fairness", "fairness", "warning", "notify", FairnessWhen()),
    # Only models whose reference has scores and labels get estimates (CBPE).
    RuleSettings("estimated-accuracy-low", "performance", "warning", "notify",
                 MetricWhen("estimated_accuracy", "<", 0.8), for_windows=2),
)


def build_rules(rules: Iterable[RuleSettings] | None) -> tuple[AlertRule, ...]:
    """The rules to run: one :class:`AlertRule` per setting, or :data:`DEFAULT_RULES` for ``None``
    (``alerts.rules`` absent; an empty list means no rules)."""
    if rules is None:
        return DEFAULT_RULES
    return tuple(AlertRule.from_settings(rule) for rule in rules)


DEFAULT_RULES: tuple[AlertRule, ...] = tuple(AlertRule.from_settings(rule) for rule in DEFAULT_RULE_SETTINGS)


def lifecycle_rules(rules: Iterable[RuleSettings] | None) -> tuple[AlertRule, ...]:
    """The rules of the lifecycle engine (:mod:`~driftline.alerting.experiment_rules`): the configured
    ones of its kinds, and the default rule of each such kind the configuration has none of.

    >>> from driftline.settings import ExperimentWhen
    >>> [r.name for r in lifecycle_rules([RuleSettings("v", "experiment", "critical", "notify",
    ...                                                  ExperimentWhen(("rollback",)))])]
    ['v', 'rollback-not-effective']
    """
    configured = [r for r in rules or () if r.kind in LIFECYCLE_KINDS]
    kinds = {r.kind for r in configured}
    chosen = configured + [r for r in DEFAULT_LIFECYCLE_RULE_SETTINGS if r.kind not in kinds]
    return tuple(AlertRule.from_settings(r) for r in chosen)

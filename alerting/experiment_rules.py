"""Alerts about versions rather than windows: an experiment's verdict, a rollback that did not take.

Two rule kinds, observed by the worker's lifecycle engine (one per partition) on what the
experiments and the version lifecycle produce:

* ``experiment``: an :class:`~driftline.detectors.ExperimentResult` whose verdict *changed* (to one
  of ``when.verdicts``: rollback, promote, inconclusive). Only the change is observed, so an
  experiment raises one alert per decision, never a repeat or a resolve; its ``alert_id`` is a
  function of the decision (the verdict and the experiment's first window), not of the window that
  decided: a replay after a crash, whose late labels may land in other windows and decide one
  window earlier or later, yields the same id and the delivery log sends it once. The alert's ``action`` is the experiment's action for the verdict
  (``rollback``, ``promote``...), its severity the rule's for a rollback, ``warning`` otherwise.
  Dedup key: ``model/<challenger>/experiment/<experiment>``.
* ``rollback_not_effective``: a :class:`~driftline.detectors.VersionTraffic`: a rolled-back or
  deactivated version still got predictions (after a grace period). Fires while it does,
  resolves after windows without any. Dedup key: ``model/<version>/rollback_not_effective``.

Without a rule of a kind in ``alerts.rules``, :data:`DEFAULT_LIFECYCLE_RULE_SETTINGS` apply
(:func:`~driftline.alerting.rules.lifecycle_rules`): experiments and rollbacks are always watched.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from driftline.detectors import ExperimentResult, VersionTraffic
from driftline.settings import EXPERIMENT_VERDICTS, ExperimentWhen, LifecycleWhen, RuleSettings

from .findings import Finding, Observation, dedup_key

__all__ = ["DEFAULT_LIFECYCLE_RULE_SETTINGS", "LIFECYCLE_KINDS", "ExperimentCondition", "RollbackCondition"]

LIFECYCLE_KINDS = ("experiment", "rollback_not_effective")
DEFAULT_LIFECYCLE_RULE_SETTINGS: tuple[RuleSettings, ...] = (
    RuleSettings("experiment-verdict", "experiment", "critical", "notify", ExperimentWhen()),
    RuleSettings("rollback-not-effective", "rollback_not_effective", "critical", "notify", LifecycleWhen(),
                 resolve_after_windows=2),
)


def _finite(x: float) -> float | None:
    return x if x == x and abs(x) != float("inf") else None


class ExperimentCondition:
    """``experiment``: a verdict that changed to one of ``verdicts``."""

    __slots__ = ("verdicts",)

    def __init__(self, verdicts: tuple[str, ...] = EXPERIMENT_VERDICTS) -> None:
        self.verdicts = tuple(verdicts)

    def __repr__(self) -> str:
        return f"ExperimentCondition(verdicts={self.verdicts!r})"

    @classmethod
    def from_settings(cls, kind: str, when: ExperimentWhen) -> ExperimentCondition:
        return cls(when.verdicts)

    def observe(self, report: Any, rule: Any) -> Iterator[Observation]:
        if not isinstance(report, ExperimentResult) or not report.evaluation.changed:
            return
        e = report.evaluation
        finding = None
        if e.verdict in self.verdicts:
            p = e.primary
            finding = Finding(
                rule.severity if e.verdict == "rollback" else "warning", (),
                f"Experiment {report.experiment} on {report.model}: {e.verdict} {report.challenger} "
                f"(champion {report.champion}): {e.reason}",
                {"experiment": report.experiment, "verdict": e.verdict, "previous": e.previous,
                 "champion": report.champion, "challenger": report.challenger, "metric": p.metric,
                 "estimate": _finite(p.interval.estimate), "lower": _finite(p.interval.lower),
                 "upper": _finite(p.interval.upper), "n_champion": p.n_champion, "n_challenger": p.n_challenger,
                 "paired": e.paired, "alpha": e.alpha, "reason": e.reason,
                 "guardrails": [{"metric": g.metric, "estimate": _finite(g.interval.estimate),
                                 "lower": _finite(g.interval.lower), "upper": _finite(g.interval.upper),
                                 "limit": g.limit, "breached": g.breached} for g in e.guardrails]},
                action=report.action, decision=f"{e.verdict}@{e.started_ms}")
        yield Observation(dedup_key(report.model, report.challenger, "experiment", report.experiment),
                          "experiment", None, finding)


class RollbackCondition:
    """``rollback_not_effective``: predictions for a version that was rolled back or deactivated."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "RollbackCondition()"

    @classmethod
    def from_settings(cls, kind: str, when: LifecycleWhen) -> RollbackCondition:
        return cls()

    def observe(self, report: Any, rule: Any) -> Iterator[Observation]:
        if not isinstance(report, VersionTraffic):
            return
        finding = None
        if report.n_predictions:
            finding = Finding(
                rule.severity, (),
                f"Rollback not effective on {report.model}/{report.version}: {report.n_predictions:,} "
                f"predictions in a window after it was set {report.state} by {report.changed_by}",
                {"state": report.state, "changed_by": report.changed_by, "changed_at_ms": report.changed_at_ms,
                 "predictions": report.n_predictions})
        yield Observation(dedup_key(report.model, report.version, "rollback_not_effective"),
                          "rollback_not_effective", None, finding)


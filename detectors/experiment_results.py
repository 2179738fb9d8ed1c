"""What an evaluation of an experiment says: :class:`MetricComparison`, :class:`Evaluation`, :class:`ExperimentResult`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .results import MetricValue
from .sequential import Interval

__all__ = ["Evaluation", "ExperimentResult", "MetricComparison"]


@dataclass(frozen=True, slots=True)
class MetricComparison:
    """Challenger against champion on one metric: the always-valid interval of the difference
    (challenger minus champion) or of the ratio, each arm's value and sample size."""

    metric: str
    kind: str  # "difference" or "ratio"
    interval: Interval
    champion_value: float
    challenger_value: float
    n_champion: int
    n_challenger: int
    limit: float | None = None  # a guardrail's tolerated degradation
    breached: bool = False

    @property
    def evaluated(self) -> bool:
        return math.isfinite(self.interval.estimate)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The verdict after one closed window, with the evidence behind it."""

    window_start_ms: int
    window_end_ms: int
    verdict: str
    previous: str
    reason: str
    primary: MetricComparison
    guardrails: tuple[MetricComparison, ...]
    checks: tuple[MetricComparison, ...]  # live prediction and latency comparisons, shown, not decisive
    paired: bool
    alpha: float
    started_ms: int | None = None  # the experiment's first window: with the verdict, what names a decision

    @property
    def changed(self) -> bool:
        return self.verdict != self.previous


@dataclass(frozen=True, slots=True)
class ExperimentResult:
    """One evaluation of one challenger against its champion, named: what the worker stores and alerts
    on. ``champion``/``challenger`` are the arms' labels (a version, or ``variant:<name>``), ``action``
    the alert action of the verdict. It reads like a window report of the challenger (model, version,
    window, counts, metrics), which is what the alert engine needs."""

    experiment: str
    model: str
    champion: str
    challenger: str
    evaluation: Evaluation
    action: str = "notify"

    @property
    def version(self) -> str:
        return self.challenger

    @property
    def window_start_ms(self) -> int:
        return self.evaluation.window_start_ms

    @property
    def window_end_ms(self) -> int:
        return self.evaluation.window_end_ms

    @property
    def n_predictions(self) -> int:
        return next((c.n_challenger for c in self.evaluation.checks if c.metric == "prediction_mean"), 0)

    @property
    def n_labels(self) -> int:
        return self.evaluation.primary.n_challenger

    @property
    def metrics(self) -> tuple[MetricValue, ...]:
        p = self.evaluation.primary
        return (MetricValue(f"{p.metric}:champion", p.champion_value, p.n_champion),
                MetricValue(f"{p.metric}:challenger", p.challenger_value, p.n_challenger))

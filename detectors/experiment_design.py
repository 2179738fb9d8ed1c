"""What an experiment compares and how sure a verdict must be: :class:`ExperimentDesign`, :class:`Guardrail`.

Built by :mod:`driftline.settings` from ``experiments:``; the checks here (each naming the
parameter it rejects) are the config's checks.

>>> ExperimentDesign(metric="accuracy", guardrails=(Guardrail("latency_p95_ms", max_ratio=1.2),)).alpha_each
0.025
>>> Guardrail("missing_rate", max_ratio=1.5)
Traceback (most recent call last):
...
driftline.detectors.errors.DetectorConfigError: max_ratio: only latency quantiles take a ratio, not 'missing_rate'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ._checks import check_choice, check_float, check_int
from .arms import LABEL_METRICS, PREDICTION_METRICS
from .errors import DetectorConfigError

__all__ = ["LATENCY_METRICS", "MIN_WINDOWS", "PAIRINGS", "VERDICTS", "DATA_DRIFT_COUNT", "ExperimentDesign", "Guardrail",
           "metric_kind"]

VERDICTS = ("continue", "promote", "rollback", "inconclusive")
LATENCY_METRICS: Mapping[str, float] = {"latency_p50_ms": 0.5, "latency_p95_ms": 0.95, "latency_p99_ms": 0.99}
PAIRINGS = ("auto", "paired", "unpaired")
MIN_WINDOWS = 5  # window-level metrics: windows with both arms before a verdict
DATA_DRIFT_COUNT = "data_drift_count"  # a window-level metric: drifted features in the window


def metric_kind(metric: str) -> str:
    """``label``, ``prediction``, ``latency`` or ``window``: where the values of ``metric`` come from."""
    if metric in LABEL_METRICS:
        return "label"
    if metric in PREDICTION_METRICS:
        return "prediction"
    return "latency" if metric in LATENCY_METRICS else "window"


@dataclass(frozen=True)
class Guardrail:
    """A metric the challenger may not degrade by more than one of ``max_ratio`` (challenger over
    champion; latency quantiles only), ``max_increase`` or ``max_decrease`` (absolute)."""

    metric: str
    max_ratio: float | None = None
    max_increase: float | None = None
    max_decrease: float | None = None

    def __post_init__(self) -> None:
        given = [k for k in ("max_ratio", "max_increase", "max_decrease") if getattr(self, k) is not None]
        if len(given) != 1:
            raise DetectorConfigError(f"guardrail {self.metric!r}: exactly one of max_ratio, max_increase, "
                                      f"max_decrease is needed, got {given or 'none'}", key="max_ratio",
                                      value=given, expected="exactly one of: max_ratio, max_increase, max_decrease")
        if self.metric == "f1":
            raise DetectorConfigError("f1 cannot be a guardrail", key="metric", value="f1",
                                      expected="a metric other than f1")
        if self.max_ratio is not None:
            if self.metric not in LATENCY_METRICS:
                raise DetectorConfigError(f"max_ratio: only latency quantiles take a ratio, not {self.metric!r}",
                                          key="max_ratio", value=self.max_ratio,
                                          expected="max_increase or max_decrease for this metric")
            check_float("max_ratio", self.max_ratio, low=1.0)
        for key in ("max_increase", "max_decrease"):
            if getattr(self, key) is not None:
                check_float(key, getattr(self, key), low=0.0)

    @property
    def limit(self) -> float:
        return next(v for v in (self.max_ratio, self.max_increase, self.max_decrease) if v is not None)


@dataclass(frozen=True)
class ExperimentDesign:
    """What is compared and how sure a verdict must be. ``higher_is_better`` is needed only for a
    window-level primary metric (built-in metrics know their direction)."""

    metric: str = "accuracy"
    higher_is_better: bool | None = None
    guardrails: tuple[Guardrail, ...] = ()
    alpha: float = 0.05
    min_sample: int = 100
    max_duration_ms: int | None = 7 * 86_400_000
    tuned_for: int = 1000
    pairing: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise DetectorConfigError(f"metric: {self.metric!r} is not a metric name", key="metric",
                                      value=self.metric, expected="a metric name")
        if self.metric in PREDICTION_METRICS or self.metric in LATENCY_METRICS:
            raise DetectorConfigError(f"metric: {self.metric!r} is a guardrail, not a primary metric", key="metric",
                                      value=self.metric, expected="accuracy, error_rate, f1, log_loss, mae, rmse "
                                      "or a window metric")
        if metric_kind(self.metric) == "window" and self.higher_is_better is None:
            raise DetectorConfigError(f"direction: needed for the window metric {self.metric!r}", key="direction",
                                      value=None, expected="higher or lower")
        check_float("alpha", self.alpha, low=0.0, high=0.5, low_open=True)
        check_int("min_sample", self.min_sample, low=2)
        check_int("tuned_for", self.tuned_for, low=1)
        check_choice("pairing", self.pairing, PAIRINGS, "pairing")
        if self.max_duration_ms is not None:
            check_int("max_duration_ms", self.max_duration_ms, low=1)

    @property
    def better_is_higher(self) -> bool:
        return LABEL_METRICS[self.metric] if self.metric in LABEL_METRICS else bool(self.higher_is_better)

    @property
    def alpha_each(self) -> float:
        """The level of each test: the primary metric and every guardrail share ``alpha``."""
        return self.alpha / (1 + len(self.guardrails))

    def metrics(self, kind: str) -> tuple[str, ...]:
        names = [self.metric, *(g.metric for g in self.guardrails)]
        return tuple(dict.fromkeys(n for n in names if metric_kind(n) == kind))

    def check_task(self, task: str) -> None:
        """Raise :class:`DetectorConfigError` when a metric does not exist for ``task``."""
        needs = {"mae": "regression", "rmse": "regression", "f1": "binary_classification",
                 "log_loss": "binary_classification", "accuracy": "classification", "error_rate": "classification"}
        for name in self.metrics("label"):
            need = needs[name]
            ok = task == need or (need == "classification" and task != "regression")
            if not ok:
                raise DetectorConfigError(f"metric: {name!r} needs a {need.replace('_', ' ')} model, not {task}",
                                          key="metric", value=name, expected=f"a metric of a {task} model")

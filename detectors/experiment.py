"""Champion/challenger verdicts: a sequential comparison over closed windows (pure, time is an argument).

A :class:`ChampionChallenger` consumes one :class:`ExperimentWindow` at a time, in window order,
adds it to its running totals and reads the always-valid intervals of
:mod:`~driftline.detectors.sequential` off the totals. Verdicts:

* ``rollback``: the challenger is surely worse on the primary metric (its whole interval is on
  the worse side of zero), or a guardrail is surely breached (its whole interval is past the
  tolerated degradation: latency p95 above ``max_ratio`` times the champion's, a missing-value
  rate more than ``max_increase`` above it...);
* ``promote``: surely better on the primary metric, no guardrail breached;
* ``inconclusive``: ``max_duration`` of event time went by without either;
* ``continue``: none of these yet (also while either arm has fewer than ``min_sample`` events).

A decision is final: later windows keep narrowing the intervals, the verdict stays. ``alpha``
is shared by the primary metric and the guardrails (Bonferroni: each test gets ``alpha / (1 +
guardrails)``), so the chance that an experiment between identical versions ever ends in
``rollback`` or ``promote`` is at most ``alpha``, however often it is evaluated.

Mergeable: a window's state is counts, sums, sums of squares, confusion counts and latency
sketches (:class:`~driftline.detectors.arms.ArmStats`); the totals are their sum, so the
evaluation of a window is a pure function of the merged window states plus the earlier
evaluations (the verdict so far, whether the comparison is paired). Window-level metrics (any
metric of ``window_metrics``, ``data_drift_count``) are compared window by window: each window
where both arms report the metric is one paired observation of the difference.

>>> import numpy as np
>>> design = ExperimentDesign(metric="accuracy", min_sample=100, alpha=0.05)
>>> cc = ChampionChallenger(design)
>>> w = cc.new_window(0, 60_000)
>>> w.champion.add_labels({"accuracy": np.array([1.0] * 900 + [0.0] * 100)})
>>> w.challenger.add_labels({"accuracy": np.array([1.0] * 150 + [0.0] * 100)})
>>> e = cc.close(w)
>>> e.verdict, e.changed, round(e.primary.interval.estimate, 2)
('rollback', True, -0.3)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._checks import check_choice, check_float, check_int
from .arms import LABEL_METRICS, PREDICTION_METRICS, ArmStats
from .errors import DetectorConfigError
from .packing import decode_float, encode_float
from .sequential import (
    NOT_YET,
    Interval,
    Moments,
    difference_interval,
    f1_estimate,
    paired_interval,
    quantile_ratio_interval,
    tau_for,
)

__all__ = ["LATENCY_METRICS", "MIN_WINDOWS", "VERDICTS", "ChampionChallenger", "Evaluation", "ExperimentDesign",
           "ExperimentWindow", "Guardrail", "MetricComparison"]

VERDICTS = ("continue", "promote", "rollback", "inconclusive")
LATENCY_METRICS: Mapping[str, float] = {"latency_p50_ms": 0.5, "latency_p95_ms": 0.95, "latency_p99_ms": 0.99}
PAIRINGS = ("auto", "paired", "unpaired")
MIN_WINDOWS = 5  # window-level metrics: windows with both arms before a verdict
WINDOW_METRIC_DRIFT = "data_drift_count"


def _kind(metric: str) -> str:
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
        if _kind(self.metric) == "window" and self.higher_is_better is None:
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
        return tuple(dict.fromkeys(n for n in names if _kind(n) == kind))

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

    @property
    def changed(self) -> bool:
        return self.verdict != self.previous


@dataclass
class ExperimentWindow:
    """Both arms of one window, the paired differences of requests both scored, and the
    window-level metrics each arm reported (``{"champion": {...}, "challenger": {...}}``)."""

    start_ms: int
    end_ms: int
    champion: ArmStats
    challenger: ArmStats
    pairs: dict[str, Moments] = field(default_factory=dict)
    window_metrics: dict[str, dict[str, float]] = field(default_factory=lambda: {"champion": {}, "challenger": {}})

    def arm(self, name: str) -> ArmStats:
        return self.champion if name == "champion" else self.challenger

    def snapshot(self) -> dict[str, Any]:
        return {"start_ms": self.start_ms, "end_ms": self.end_ms, "champion": self.champion.snapshot(),
                "challenger": self.challenger.snapshot(), "pairs": {k: v.to_list() for k, v in self.pairs.items()},
                "window_metrics": {arm: {k: encode_float(v) for k, v in m.items()}
                                   for arm, m in self.window_metrics.items()}}

    @classmethod
    def restore(cls, s: Mapping[str, Any]) -> ExperimentWindow:
        return cls(int(s["start_ms"]), int(s["end_ms"]), ArmStats.restore(s["champion"]),
                   ArmStats.restore(s["challenger"]), {str(k): Moments.from_list(v) for k, v in s["pairs"].items()},
                   {arm: {str(k): decode_float(v) for k, v in m.items()} for arm, m in s["window_metrics"].items()})


class ChampionChallenger:
    """The sequential comparison of one challenger with its champion (see the module docstring)."""

    def __init__(self, design: ExperimentDesign) -> None:
        self.design = design
        self.tau = tau_for(design.tuned_for, design.alpha_each)
        self.champion = self._arm()
        self.challenger = self._arm()
        self.pairs: dict[str, Moments] = {m: Moments() for m in design.metrics("label") if m != "f1"}
        self.window_level: dict[str, list[Moments]] = {m: [Moments(), Moments(), Moments()]  # A, B, B - A
                                                       for m in design.metrics("window")}
        self.started_ms: int | None = None
        self.verdict = "continue"
        self.decided_ms: int | None = None
        self.paired: bool | None = None
        self.evaluations = 0

    def _arm(self) -> ArmStats:
        return ArmStats.new(self.design.metrics("label"), latency=True)

    def new_window(self, start_ms: int, end_ms: int) -> ExperimentWindow:
        return ExperimentWindow(start_ms, end_ms, self._arm(), self._arm(), {m: Moments() for m in self.pairs})

    # -- one closed window -----------------------------------------------------------------------
    def close(self, window: ExperimentWindow) -> Evaluation:
        """Add a closed window (windows come in order) and evaluate the experiment."""
        self.champion.merge(window.champion)
        self.challenger.merge(window.challenger)
        for name in self.pairs:
            self.pairs[name] = self.pairs[name] + window.pairs.get(name, Moments())
        for name, (a, b, d) in self.window_level.items():
            va, vb = window.window_metrics["champion"].get(name), window.window_metrics["challenger"].get(name)
            if va is not None and vb is not None and math.isfinite(va) and math.isfinite(vb):
                self.window_level[name] = [a + Moments.of([va]), b + Moments.of([vb]), d + Moments.of([vb - va])]
        if self.started_ms is None:
            self.started_ms = window.start_ms
        self.evaluations += 1
        return self._evaluate(window.start_ms, window.end_ms)

    def _evaluate(self, start_ms: int, end_ms: int) -> Evaluation:
        d = self.design
        if self.paired is None and d.metric in self.pairs and d.pairing != "unpaired":
            self.paired = self._choose_pairing()
        paired = bool(self.paired)
        primary = self._compare(d.metric, paired)
        guardrails = tuple(self._guard(g, paired) for g in d.guardrails)
        checks = tuple(self._compare(m, False) for m in ("prediction_mean", "latency_p95_ms"))
        previous = self.verdict
        verdict, reason = previous, ""
        if previous == "continue":
            verdict, reason = self._decide(primary, guardrails, end_ms)
            if verdict != "continue":
                self.verdict, self.decided_ms = verdict, end_ms
        else:
            reason = f"decided at the window ending {self.decided_ms} ms"
        return Evaluation(start_ms, end_ms, verdict, previous, reason, primary, guardrails, checks, paired,
                          d.alpha_each)

    def _choose_pairing(self) -> bool | None:
        """Paired once both arms have ``min_sample`` labelled events, if most of the challenger's are
        paired (a property of the deployment, not of the outcomes, so the choice keeps the error rate)."""
        d = self.design
        n_a, n_b = self.champion.labelled, self.challenger.labelled
        if d.pairing == "paired":
            return True
        if min(n_a, n_b) < d.min_sample:
            return None
        return self.pairs[d.metric].n >= 0.5 * min(n_a, n_b)

    def _decide(self, primary: MetricComparison, guardrails: tuple[MetricComparison, ...],
                end_ms: int) -> tuple[str, str]:
        d = self.design
        level = f"always-valid {1 - d.alpha_each:.1%} interval"
        breached = [g for g in guardrails if g.breached]
        if breached:
            return "rollback", "; ".join(f"guardrail {g.metric}: {_describe(g)} is past the tolerated "
                                         f"{_limit(g)} ({level})" for g in breached)
        if primary.evaluated:
            worse = primary.interval.below(0) if d.better_is_higher else primary.interval.above(0)
            better = primary.interval.above(0) if d.better_is_higher else primary.interval.below(0)
            if worse or better:
                return ("rollback" if worse else "promote",
                        f"{d.metric}: the challenger is {'worse' if worse else 'better'}: {_describe(primary)} "
                        f"({level}, n = {primary.n_champion:,} champion / {primary.n_challenger:,} challenger"
                        f"{', paired by request_id' if self.paired else ''})")
        if d.max_duration_ms is not None and self.started_ms is not None and end_ms - self.started_ms >= d.max_duration_ms:
            return "inconclusive", (f"no decision after the maximum duration ({d.max_duration_ms // 1000:,} s): "
                                    f"{d.metric} {_describe(primary)}")
        return "continue", ""

    def _guard(self, g: Guardrail, paired: bool) -> MetricComparison:
        c = self._compare(g.metric, paired, ratio=g.max_ratio is not None)
        if not c.evaluated:
            return MetricComparison(c.metric, c.kind, c.interval, c.champion_value, c.challenger_value,
                                    c.n_champion, c.n_challenger, g.limit, False)
        if g.max_ratio is not None:
            breached = c.interval.above(g.max_ratio)
        elif g.max_increase is not None:
            breached = c.interval.above(g.max_increase)
        else:
            breached = c.interval.below(-g.max_decrease)
        return MetricComparison(c.metric, c.kind, c.interval, c.champion_value, c.challenger_value, c.n_champion,
                                c.n_challenger, g.limit, breached)

    def _compare(self, metric: str, paired: bool, *, ratio: bool = False) -> MetricComparison:
        d, a, b = self.design, self.champion, self.challenger
        alpha, tau, kind = d.alpha_each, self.tau, _kind(metric)
        if kind == "latency":
            q = LATENCY_METRICS[metric]
            enough = a.latency.n >= d.min_sample and b.latency.n >= d.min_sample
            cs = quantile_ratio_interval(a.latency, b.latency, q, alpha=alpha, tau=tau) if enough else NOT_YET
            return MetricComparison(metric, "ratio", cs, _quantile(a, q), _quantile(b, q), a.latency.n, b.latency.n)
        if kind == "prediction":
            ma, mb = a.prediction_side[metric], b.prediction_side[metric]
            enough = min(ma.n, mb.n) >= d.min_sample
            cs = difference_interval(ma.estimate(), mb.estimate(), alpha=alpha, tau=tau) if enough else NOT_YET
            return MetricComparison(metric, "difference", cs, ma.mean, mb.mean, ma.n, mb.n)
        if kind == "window":
            wa, wb, diff = self.window_level[metric]
            cs = paired_interval(diff, alpha=alpha, tau=tau) if diff.n >= MIN_WINDOWS else NOT_YET
            return MetricComparison(metric, "difference", cs, wa.mean, wb.mean, wa.n, wb.n)
        if metric == "f1":
            ea, eb = f1_estimate(*a.confusion), f1_estimate(*b.confusion)
            enough = min(ea.n, eb.n) >= d.min_sample
            cs = difference_interval(ea, eb, alpha=alpha, tau=tau) if enough else NOT_YET
            return MetricComparison(metric, "difference", cs, ea.value, eb.value, ea.n, eb.n)
        ma, mb = a.labels[metric], b.labels[metric]
        value_a, value_b = _value(metric, ma), _value(metric, mb)
        if paired:
            pairs = self.pairs[metric]
            cs = paired_interval(pairs, alpha=alpha, tau=tau) if pairs.n >= d.min_sample else NOT_YET
            return MetricComparison(metric, "difference", cs, value_a, value_b, pairs.n, pairs.n)
        enough = min(ma.n, mb.n) >= d.min_sample
        cs = difference_interval(ma.estimate(), mb.estimate(), alpha=alpha, tau=tau) if enough else NOT_YET
        return MetricComparison(metric, "difference", cs, value_a, value_b, ma.n, mb.n)

    # -- checkpoints -------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state; the design is configuration, given back to :meth:`restore`."""
        return {"champion": self.champion.snapshot(), "challenger": self.challenger.snapshot(),
                "pairs": {k: v.to_list() for k, v in self.pairs.items()},
                "window_level": {k: [m.to_list() for m in v] for k, v in self.window_level.items()},
                "started_ms": self.started_ms, "verdict": self.verdict, "decided_ms": self.decided_ms,
                "paired": self.paired, "evaluations": self.evaluations}

    @classmethod
    def restore(cls, design: ExperimentDesign, s: Mapping[str, Any]) -> ChampionChallenger:
        """The comparison a :meth:`snapshot` describes, under ``design``; statistics of metrics the
        design no longer compares are dropped, new ones start from zero."""
        cc = cls(design)
        champion, challenger = ArmStats.restore(s["champion"]), ArmStats.restore(s["challenger"])
        cc.champion.merge(champion)
        cc.challenger.merge(challenger)
        for name in cc.pairs:
            if name in s["pairs"]:
                cc.pairs[name] = Moments.from_list(s["pairs"][name])
        for name in cc.window_level:
            if name in s["window_level"]:
                cc.window_level[name] = [Moments.from_list(m) for m in s["window_level"][name]]
        cc.started_ms = None if s["started_ms"] is None else int(s["started_ms"])
        cc.verdict = check_choice("verdict", s["verdict"], VERDICTS, "verdict")
        cc.decided_ms = None if s["decided_ms"] is None else int(s["decided_ms"])
        cc.paired = None if s["paired"] is None else bool(s["paired"])
        cc.evaluations = int(s["evaluations"])
        return cc


def _value(metric: str, m: Moments) -> float:
    """An arm's value of a label metric: the mean, or for ``rmse`` the root of the mean squared error."""
    return math.sqrt(m.mean) if metric == "rmse" and m.n else m.mean


def _quantile(arm: ArmStats, q: float) -> float:
    return arm.latency.quantile(q) if arm.latency is not None and arm.latency.n else math.nan


def _describe(c: MetricComparison) -> str:
    i = c.interval
    if c.kind == "ratio":
        return f"challenger/champion = {i.estimate:.3g} [{i.lower:.3g}, {i.upper:.3g}]"
    scale = " (on squared errors)" if c.metric == "rmse" else ""
    return f"challenger - champion = {i.estimate:+.4g} [{i.lower:+.4g}, {i.upper:+.4g}]{scale}"


def _limit(c: MetricComparison) -> str:
    return f"{c.limit:g}x" if c.kind == "ratio" else f"{c.limit:g}"


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

from ._checks import check_choice
from .arms import ArmStats
from .experiment_design import (
    LATENCY_METRICS,
    MIN_WINDOWS,
    VERDICTS,
    ExperimentDesign,
    Guardrail,
    metric_kind,
)
from .experiment_results import Evaluation, MetricComparison
from .packing import decode_float, encode_float
from .sequential import (
    NOT_YET,
    Moments,
    difference_interval,
    f1_estimate,
    paired_interval,
    quantile_ratio_interval,
    tau_for,
)

__all__ = ["ChampionChallenger", "ExperimentWindow"]



@dataclass
class ExperimentWindow:
    """Both arms of one window, the paired differences of requests both scored, and the
    window-level metrics completed in it: ``{metric: [[champion value, challenger value], ...]}``,
    one pair per report window where both arms reported the metric."""

    start_ms: int
    end_ms: int
    champion: ArmStats
    challenger: ArmStats
    pairs: dict[str, Moments] = field(default_factory=dict)
    window_metrics: dict[str, list[list[float]]] = field(default_factory=dict)

    def merge(self, other: ExperimentWindow) -> None:
        """Add ``other``, the same window's statistics from other events: arms and paired moments add
        exactly; window-level pairs (from closed report windows) are kept sorted."""
        if (other.start_ms, other.end_ms) != (self.start_ms, self.end_ms):
            raise ValueError("other: another window; experiment windows are not mergeable")
        self.champion.merge(other.champion)
        self.challenger.merge(other.challenger)
        for name, moments in other.pairs.items():
            self.pairs[name] = self.pairs.get(name, Moments()) + moments
        for name, pairs in other.window_metrics.items():
            self.window_metrics[name] = sorted(self.window_metrics.get(name, []) + pairs)

    def snapshot(self) -> dict[str, Any]:
        return {"start_ms": self.start_ms, "end_ms": self.end_ms, "champion": self.champion.snapshot(),
                "challenger": self.challenger.snapshot(), "pairs": {k: v.to_list() for k, v in self.pairs.items()},
                "window_metrics": {k: [[encode_float(a), encode_float(b)] for a, b in v]
                                   for k, v in self.window_metrics.items()}}

    @classmethod
    def restore(cls, s: Mapping[str, Any]) -> ExperimentWindow:
        return cls(int(s["start_ms"]), int(s["end_ms"]), ArmStats.restore(s["champion"]),
                   ArmStats.restore(s["challenger"]), {str(k): Moments.from_list(v) for k, v in s["pairs"].items()},
                   {str(k): [[decode_float(a), decode_float(b)] for a, b in v] for k, v in s["window_metrics"].items()})


class ChampionChallenger:
    """The sequential comparison of one challenger with its champion (see the module docstring)."""

    def __init__(self, design: ExperimentDesign) -> None:
        self.design = design
        self.tau = tau_for(design.tuned_for, design.alpha_each)
        self.champion = self.new_arm()
        self.challenger = self.new_arm()
        self.pairs: dict[str, Moments] = {m: Moments() for m in design.metrics("label") if m != "f1"}
        self.window_level: dict[str, list[Moments]] = {m: [Moments(), Moments(), Moments()]  # A, B, B - A
                                                       for m in design.metrics("window")}
        self.started_ms: int | None = None
        self.verdict = "continue"
        self.decided_ms: int | None = None
        self.paired: bool | None = None
        self.evaluations = 0

    def new_arm(self) -> ArmStats:
        """Empty statistics of one arm, with the metrics this comparison needs."""
        return ArmStats.new(self.design.metrics("label"), latency=True)

    def new_window(self, start_ms: int, end_ms: int) -> ExperimentWindow:
        return ExperimentWindow(start_ms, end_ms, self.new_arm(), self.new_arm(), {m: Moments() for m in self.pairs})

    # -- one closed window -----------------------------------------------------------------------
    def close(self, window: ExperimentWindow) -> Evaluation:
        """Add a closed window (windows come in order) and evaluate the experiment."""
        self.champion.merge(window.champion)
        self.challenger.merge(window.challenger)
        for name in self.pairs:
            self.pairs[name] = self.pairs[name] + window.pairs.get(name, Moments())
        for name in self.window_level:
            for va, vb in window.window_metrics.get(name, ()):
                if math.isfinite(va) and math.isfinite(vb):
                    a, b, d = self.window_level[name]
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
                          d.alpha_each, self.started_ms)

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
        alpha, tau, kind = d.alpha_each, self.tau, metric_kind(metric)
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


"""Rows of ``experiment_verdicts``: one per evaluation of a challenger against its champion.

Non-finite numbers (an interval still open on one side, a value not computed yet) are stored
as NULL in the columns and as ``null`` in the JSON of the guardrails and live checks.

>>> from driftline.detectors import ChampionChallenger, ExperimentDesign, ExperimentResult
>>> cc = ChampionChallenger(ExperimentDesign(min_sample=2))
>>> window = cc.new_window(60_000, 120_000)
>>> result = ExperimentResult("canary", "credit", "v1", "v2", cc.close(window), "notify")
>>> cols = VerdictRows([(3, result)], now_s=500).columns()
>>> cols["verdict"], cols["estimate"], cols["window_start"], cols["kafka_partition"], cols["checks"][0][:30]
(['continue'], [None], [60], [3], '[{"metric":"prediction_mean","')
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

from driftline.detectors import ExperimentResult, MetricComparison

__all__ = ["VerdictRows", "comparison_dict"]


def _num(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def comparison_dict(c: MetricComparison) -> dict:
    """A comparison as JSON-ready values (the guardrails and checks columns hold lists of these)."""
    i = c.interval
    return {"metric": c.metric, "kind": c.kind, "estimate": _num(i.estimate), "lower": _num(i.lower),
            "upper": _num(i.upper), "champion": _num(c.champion_value), "challenger": _num(c.challenger_value),
            "n_champion": c.n_champion, "n_challenger": c.n_challenger, "limit": c.limit, "breached": c.breached}


def _json(comparisons) -> str:
    return json.dumps([comparison_dict(c) for c in comparisons], separators=(",", ":"), allow_nan=False)


class VerdictRows:
    """``experiment_verdicts`` rows of ``(kafka partition, result)`` pairs, computed at ``now_s``."""

    table = "experiment_verdicts"

    def __init__(self, results: Iterable[tuple[int, ExperimentResult]], *, now_s: int) -> None:
        self.results = list(results)
        self.now_s = now_s

    def __len__(self) -> int:
        return len(self.results)

    def columns(self) -> dict[str, list]:
        cols: dict[str, list] = {name: [] for name in (
            "experiment", "model", "champion", "challenger", "window_start", "window_end", "verdict", "previous",
            "reason", "metric", "paired", "estimate", "lower", "upper", "champion_value", "challenger_value",
            "n_champion", "n_challenger", "alpha", "action", "guardrails", "checks", "kafka_partition",
            "computed_at")}
        for partition, r in self.results:
            e, p = r.evaluation, r.evaluation.primary
            for name, value in (
                    ("experiment", r.experiment), ("model", r.model), ("champion", r.champion),
                    ("challenger", r.challenger), ("window_start", e.window_start_ms // 1000),
                    ("window_end", e.window_end_ms // 1000), ("verdict", e.verdict), ("previous", e.previous),
                    ("reason", e.reason[:2000]), ("metric", p.metric), ("paired", int(e.paired)),
                    ("estimate", _num(p.interval.estimate)), ("lower", _num(p.interval.lower)),
                    ("upper", _num(p.interval.upper)), ("champion_value", _num(p.champion_value)),
                    ("challenger_value", _num(p.challenger_value)), ("n_champion", p.n_champion),
                    ("n_challenger", p.n_challenger), ("alpha", e.alpha), ("action", r.action),
                    ("guardrails", _json(e.guardrails)), ("checks", _json(e.checks)),
                    ("kafka_partition", partition), ("computed_at", self.now_s)):
                cols[name].append(value)
        return cols

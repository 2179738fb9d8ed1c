"""Sections 3 to 5 of a dossier: performance over time, drift history, data quality.

A window is *below threshold* when its value breaks the condition of a ``performance`` (or
``latency``) alert rule in force on that metric, e.g. ``accuracy < 0.8``: the thresholds are the
config's, so the report and the alerts agree. Consecutive such windows of a version form a period.
"""

from __future__ import annotations

import math
import operator
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from driftline.settings import MetricWhen, Settings

from .canonical import iso, num
from .collect import SPECIAL_FEATURES, Evidence, performance_metric_names
from .identity import rules_of

__all__ = ["Threshold", "drift_section", "performance_section", "quality_section", "ranked_features", "thresholds"]

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
MAX_LISTED = 500  # windows listed below threshold; all are counted
QUALITY_CHECKS = (("missing_rate", "max_missing_rate"), ("type_error_rate", "max_type_error_rate"),
                  ("out_of_range_rate", "max_out_of_range_rate"), ("unseen_rate", "max_unseen_rate"))

Threshold = tuple[str, str, float]  # (rule name, operator, value)


def thresholds(settings: Settings) -> dict[str, list[Threshold]]:
    """Metric -> the (rule, op, value) of every performance or latency rule on it."""
    out: dict[str, list[Threshold]] = defaultdict(list)
    for rule in rules_of(settings)[0]:
        if rule.kind in ("performance", "latency") and isinstance(rule.when, MetricWhen):
            out[rule.when.metric].append((rule.name, rule.when.op, rule.when.value))
    return out


def _series(points: Iterable) -> list[list[Any]]:
    return [[iso(p.window_start_s), num(p.value), p.n] for p in points]


def performance_section(ev: Evidence, settings: Settings) -> dict[str, Any]:
    limits = thresholds(settings)
    by_key: dict[tuple[str, str], list] = defaultdict(list)
    for p in ev.performance:
        by_key[(p.version, p.metric)].append(p)
    names = performance_metric_names(ev.totals)
    totals = {(t.version, t.metric): t for t in ev.totals}
    versions = sorted({v for v, _ in totals})
    below: list[dict[str, Any]] = []
    periods: list[dict[str, Any]] = []
    for (version, metric), points in sorted(by_key.items()):
        for rule, op, value in limits.get(metric, ()):
            run: list = []
            for p in [*points, None]:
                if p is not None and OPS[op](p.value, value):
                    run.append(p)
                    below.append({"version": version, "metric": metric, "window_start": iso(p.window_start_s),
                                  "value": num(p.value), "rule": rule, "condition": f"{metric} {op} {num(value)}"})
                    continue
                if run:
                    periods.append({"version": version, "metric": metric, "rule": rule, "from": iso(run[0].window_start_s),
                                    "to": iso(run[-1].window_start_s), "windows": len(run)})
                    run = []
    metrics = []
    for version in versions:
        for metric in names:
            t = totals.get((version, metric))
            if t is None:
                continue
            metrics.append({"version": version, "metric": metric, "windows": t.windows, "mean": num(t.mean),
                            "min": num(t.min_value), "max": num(t.max_value),
                            "thresholds": [f"{metric} {op} {num(v)} ({rule})" for rule, op, v in limits.get(metric, ())],
                            "series": _series(by_key.get((version, metric), ()))})
    est_points: dict[tuple[str, str], list] = defaultdict(list)
    for p in ev.estimated:
        est_points[(p.version, p.metric)].append(p)
    estimated = []  # estimated_<metric> with its _lower/_upper band (CBPE, DLE) when recorded
    for (version, metric), pts in sorted(est_points.items()):
        if metric.endswith(("_lower", "_upper")):
            continue
        estimated.append({"version": version, "metric": metric, "series": _series(pts),
                          "lower": _series(est_points.get((version, metric + "_lower"), ())),
                          "upper": _series(est_points.get((version, metric + "_upper"), ())),
                          "thresholds": [f"{metric} {op} {num(v)} ({rule})" for rule, op, v in limits.get(metric, ())]})
    coverage = {v: totals[(v, "label_coverage")] for v in versions if (v, "label_coverage") in totals}
    latency = {v: {m: num(totals[(v, m)].mean) for m in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")
                   if (v, m) in totals} for v in versions}
    volume = {v: {name: int(round(totals[(v, name)].value_sum)) if (v, name) in totals else 0
                  for name in ("predictions", "labels")} for v in versions}
    status = "ok" if metrics else "empty"
    return {
        "key": "performance", "title": "Validation and performance over time", "status": status,
        "note": "" if metrics else "No realized metric in the period: performance needs labels on the feedback topic "
                                   "(events with the prediction's event_id and a label).",
        "versions": versions, "volume": volume, "metrics": metrics,
        "below_threshold": {"windows": len(below), "listed": below[:MAX_LISTED], "periods": periods},
        "estimated": {"note": "" if estimated else "estimated metrics: none recorded", "metrics": estimated},
        # Over the period: labels received / predictions made (the windows' coverage is in the series).
        "label_coverage": {v: {"mean": num(min(1.0, volume[v]["labels"] / volume[v]["predictions"])
                                           if volume[v]["predictions"] else t.mean), "min": num(t.min_value),
                               "windows": t.windows,
                               "series": _series(by_key.get((v, "label_coverage"), ()))} for v, t in coverage.items()},
        "latency_ms": latency,
        "latency_p95_series": {v: _series(by_key.get((v, "latency_p95_ms"), ())) for v in versions
                               if by_key.get((v, "latency_p95_ms"))},
    }


def ranked_features(ev: Evidence) -> list[dict[str, Any]]:
    """Input features ranked by how often they drifted, then by drift share x exceedance (x importance when
    the config gives importances); one entry per version and feature (its most drifted test). The
    exceedance is the largest statistic over its threshold, or for a p-value test (ks, chi2) how many
    times smaller the smallest p-value is than its alpha in orders of magnitude (log p / log alpha)."""
    importances = ev.model.drift.importances
    best: dict[tuple[str, str], Any] = {}
    for s in ev.standings:
        if s.feature in SPECIAL_FEATURES or s.test.endswith("_stream"):
            continue
        key = (s.version, s.feature)
        if key not in best or (s.drifted_windows, s.max_statistic) > (best[key].drifted_windows, best[key].max_statistic):
            best[key] = s
    rows = []
    for (version, feature), s in best.items():
        share = s.drifted_windows / s.windows if s.windows else 0.0
        if s.min_p_value is not None and 0 < s.threshold < 1:  # a p-value test: how far below its alpha
            excess = math.log(max(s.min_p_value, 1e-300)) / math.log(s.threshold)
        else:
            excess = s.max_statistic / s.threshold if s.threshold > 0 else 0.0
        weight = importances.get(feature, 0.0) if importances else 1.0
        rows.append({"version": version, "feature": feature, "test": s.test, "windows": s.windows,
                     "drifted_windows": s.drifted_windows, "drift_share": num(share),
                     "max_statistic": num(s.max_statistic), "mean_statistic": num(s.mean_statistic),
                     "min_p_value": num(s.min_p_value),
                     "threshold": num(s.threshold), "max_exceedance": num(excess),
                     "importance": num(weight) if importances else None, "score": num(share * excess * weight),
                     "first_drifted": iso(s.first_drifted_s), "last_drifted": iso(s.last_drifted_s)})
    rows.sort(key=lambda r: (-r["drifted_windows"], -(r["score"] or 0), -(r["max_exceedance"] or 0),
                             r["feature"], r["version"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def drift_section(ev: Evidence) -> dict[str, Any]:
    ranking = ranked_features(ev)
    special = [s for s in ev.standings if s.feature in ("prediction", "score", "multivariate")]

    def events(items: Iterable) -> list[dict[str, Any]]:
        return [{"version": e.version, "window_start": iso(e.window_start_s), "feature": e.feature, "test": e.test,
                 "statistic": num(e.statistic), "threshold": num(e.threshold)} for e in items]

    drifted = [r for r in ranking if r["drifted_windows"]]
    return {
        "key": "drift", "title": "Drift history", "status": "ok" if ranking else "empty",
        "note": "" if ranking else "No drift test ran in the period: tests start once the reference is ready "
                                   "(reference.warmup_events or reference.profile).",
        "drifted_features": len({r["feature"] for r in drifted}),
        "ranking": ranking,
        "prediction_and_multivariate": [
            {"version": s.version, "feature": s.feature, "test": s.test, "windows": s.windows,
             "drifted_windows": s.drifted_windows, "max_statistic": num(s.max_statistic), "threshold": num(s.threshold)}
            for s in special],
        "prediction_drift_events": events(e for e in ev.special_drift if e.feature in ("prediction", "score")),
        "multivariate_events": events(e for e in ev.special_drift if e.feature == "multivariate"),
        "concept_drift_events": events(e for e in ev.special_drift if e.feature == "error_stream"),
        "change_points": events(ev.change_points),
    }


def quality_section(ev: Evidence) -> dict[str, Any]:
    q = ev.model.quality
    totals = {(t.version, t.metric): t for t in ev.totals}
    rows = []
    for version in sorted({v for v, _ in totals}):
        for feature in ev.model.features:
            row: dict[str, Any] = {"version": version, "feature": feature}
            for check, limit_name in QUALITY_CHECKS:
                t = totals.get((version, f"{check}:{feature}"))
                limit = getattr(q, limit_name)
                row[check] = None if t is None else {
                    "mean": num(t.mean), "max": num(t.max_value), "threshold": num(limit),
                    "exceeded": bool(limit is not None and t.max_value > limit)}
            errors = totals.get((version, f"type_errors:{feature}"))
            row["type_errors"] = int(round(errors.value_sum)) if errors else 0
            rows.append(row)
    dead = [{"topic": d.topic, "reason": d.reason, "count": d.dead_letters, "bytes": d.payload_bytes}
            for d in ev.dead_letters]
    return {
        "key": "quality", "title": "Data quality", "status": "ok" if rows else "empty",
        "note": "" if rows else "No window closed in the period.",
        "thresholds": {check: num(getattr(q, name)) for check, name in QUALITY_CHECKS},
        "features": rows, "dead_letters": dead, "dead_letters_total": sum(d["count"] for d in dead),
    }

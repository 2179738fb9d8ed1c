"""The status page's JSON bodies: the store's rows shaped into plain dicts (JSON-ready).

The reads themselves are :mod:`driftline.sinks.queries.status`; this module only
merges them with the configured models, scores drift and lays series out per window.
Blocking; :mod:`driftline.status.pages` runs it in a thread executor.

Every body covers a time range ending now: ``range_s`` seconds (default
:data:`DEFAULT_RANGE_S`, 24 h; at most :data:`MAX_RANGE_S`, 31 days), and every
read has a row limit, so no request scans a table's whole history.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from driftline.settings import Settings
from driftline.sinks.lifecycle import version_summaries
from driftline.sinks.queries import experiments as experiment_reads
from driftline.sinks.queries import status as reads
from driftline.sinks.store import Store

from .segments import segment_view

__all__ = ["DEFAULT_RANGE_S", "MAX_RANGE_S", "PERFORMANCE_METRICS", "StatusApi", "drift_score"]

PERFORMANCE_METRICS = {
    "binary_classification": ("accuracy", "f1", "roc_auc"),
    "multiclass_classification": ("accuracy", "macro_f1"),
    "regression": ("mae", "rmse"),
}
# The first metric's estimate before labels (CBPE, DLE), drawn beside it while labels are missing.
ESTIMATED_METRICS = {"binary_classification": "estimated_accuracy", "multiclass_classification": "estimated_accuracy",
                     "regression": "estimated_mae"}
LATENCY_METRICS = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")
MAX_WINDOWS = 500
DEFAULT_RANGE_S = 24 * 3600
MAX_RANGE_S = 31 * 24 * 3600
MAX_VERSIONS = 1000  # versions listed per request
MAX_ROWS = 200_000  # rows one read returns: drift cells, metric points


def drift_score(statistic: float, p_value: float | None, threshold: float) -> float | None:
    """How far past its threshold a test is: 1.0 is the threshold, above 1 drifted.

    Distance tests: statistic / threshold. p-value tests: log(p) / log(threshold).

    >>> drift_score(0.4, None, 0.2), round(drift_score(0.0, 1e-6, 0.001), 2)
    (2.0, 2.0)
    """
    if p_value is not None:
        if not 0 < threshold < 1 or math.isnan(p_value):
            return None
        return math.log(max(p_value, 1e-300)) / math.log(threshold)
    if not threshold or math.isnan(statistic):
        return None
    return statistic / threshold


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _json_list(text: str) -> list:
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return value if isinstance(value, list) else []


class StatusApi:
    """The body of each ``/api`` route, read from ``store`` for the models in ``settings``."""

    def __init__(self, store: Store, settings: Settings, *, clock: Callable[[], float] = time.time,
                 references: Callable[[], list] = list) -> None:
        """``references()``: the references this worker's versions use
        (:class:`~driftline.stream.reference_watch.ReferenceInUse`), shown with each version."""
        self.store = store
        self.settings = settings
        self.clock = clock
        self.references = references

    def since_s(self, range_s: float = DEFAULT_RANGE_S) -> int:
        """Start of the range: ``range_s`` (capped to [1 s, :data:`MAX_RANGE_S`]) before now."""
        return int(self.clock() - max(1.0, min(float(range_s), MAX_RANGE_S)))

    def models(self, range_s: float = DEFAULT_RANGE_S) -> list[dict[str, Any]]:
        """Every configured model with the versions active in the range and their state: ok, drifting or
        alerting; ``predictions`` and ``labels`` count the range. ``reference`` is the configured one;
        a version's ``references`` are those it uses on this worker's partitions (the config wins over
        a checkpoint's: ``replaced`` names one replaced at a restore)."""
        since = self.since_s(range_s)
        versions: dict[str, dict[str, dict]] = defaultdict(dict)
        for v in reads.version_activity(self.store, since, MAX_VERSIONS):
            versions[v.model][v.version] = {
                "version": v.version, "state": "ok", "last_window_end": v.last_window_end_s * 1000,
                "predictions": v.predictions, "labels": v.labels, "drifted_features": [], "firing": []}
        for model, version, feature in reads.latest_drifted_features(self.store, since, MAX_ROWS):
            entry = versions[model].get(version)
            if entry is not None:
                entry["drifted_features"].append(feature)
                entry["state"] = "drifting"
        for a in reads.latest_alert_states(self.store, since, MAX_ROWS):
            entry = versions[a.model].get(a.version)
            if entry is not None and a.status == "firing":
                entry["firing"].append({"dedup_key": a.dedup_key, "kind": a.kind, "severity": a.severity,
                                        "summary": a.summary})
                entry["state"] = "alerting"
        for r in self.references():
            entry = versions[r.model].get(r.version)
            if entry is not None:
                entry.setdefault("references", []).append(
                    {"partition": r.partition, "source": r.source, "digest": r.digest, "replaced": r.replaced})
        out = []
        rank = {"ok": 0, "drifting": 1, "alerting": 2}
        for m in self.settings.models:
            vs = sorted(versions.get(m.name, {}).values(), key=lambda v: v["version"])
            reference = ({"source": "profile", "file": m.reference_profile} if m.reference_profile else
                         {"source": "path", "file": m.reference_path} if m.reference_path else
                         {"source": "warmup", "warmup_events": m.warmup_events})
            out.append({
                "name": m.name, "task": m.task, "window_ms": m.window_ms, "features": dict(m.features),
                "reference": reference,
                "state": max((v["state"] for v in vs), key=rank.__getitem__, default="ok"),
                "versions": vs,
            })
        return out

    def drift(self, model: str, version: str | None, windows: int, range_s: float = DEFAULT_RANGE_S) -> dict[str, Any]:
        """Drift score per feature per window (heatmap cells), most recent ``windows`` windows in the range."""
        since = self.since_s(range_s)
        version = version or reads.busiest_version(self.store, model, since) or "v1"
        windows = max(1, min(windows, MAX_WINDOWS))
        starts = reads.drift_window_starts(self.store, model, version, since, windows)
        spec = self.settings.model(model)
        features = list(spec.features) if spec else []
        cells: dict[str, dict[int, dict]] = defaultdict(dict)
        if starts:
            for c in reads.drift_cells_since(self.store, model, version, starts[0], MAX_ROWS):
                score = drift_score(c.statistic, c.p_value, c.threshold)
                cell = {"test": c.test, "statistic": _finite(c.statistic), "p_value": _finite(c.p_value),
                        "threshold": c.threshold, "drifted": c.drifted, "score": _finite(score)}
                best = cells[c.feature].get(c.window_start_s)
                if best is None or (cell["score"] or 0) > (best["score"] or 0) or cell["drifted"]:
                    cells[c.feature][c.window_start_s] = cell
                if c.feature not in features:
                    features.append(c.feature)
        return {
            "model": model, "version": version, "versions": reads.model_versions(self.store, model, since, MAX_VERSIONS),
            "windows": [s * 1000 for s in starts],
            "features": [{"name": f, "kind": (spec.features.get(f) if spec else None) or "numeric",
                          "cells": [cells[f].get(s) for s in starts]} for f in features],
        }

    def performance(self, model: str, windows: int, range_s: float = DEFAULT_RANGE_S) -> dict[str, Any]:
        spec = self.settings.model(model)
        task = spec.task if spec else ""
        estimated = (ESTIMATED_METRICS[task],) if task in ESTIMATED_METRICS else ()
        metrics = PERFORMANCE_METRICS.get(task, ()) + ("label_coverage",) + estimated
        return {"model": model, "task": spec.task if spec else None, "metrics": list(metrics),
                **self._series(model, metrics, windows, range_s)}

    def latency(self, model: str, windows: int, range_s: float = DEFAULT_RANGE_S) -> dict[str, Any]:
        return {"model": model, "metrics": list(LATENCY_METRICS),
                **self._series(model, LATENCY_METRICS, windows, range_s)}

    def segments(self, model: str, windows: int, range_s: float = DEFAULT_RANGE_S) -> dict[str, Any]:
        """Segment groups worst first with a small multiple per metric, and the latest fairness results."""
        return {"model": model, **segment_view(self.store, self.settings.model(model), max(1, min(windows, MAX_WINDOWS)),
                                               self.since_s(range_s))}

    def alerts(self, limit: int, model: str | None = None, range_s: float = DEFAULT_RANGE_S) -> list[dict[str, Any]]:
        out = []
        for a in reads.alert_history(self.store, max(1, min(limit, 1000)), model, self.since_s(range_s)):
            try:
                body = json.loads(a.payload)
            except ValueError:
                body = {}
            out.append({
                "alert_id": a.alert_id, "ts_ms": a.ts_s * 1000, "status": a.status, "kind": a.kind,
                "severity": a.severity, "action": a.action, "model": a.model, "version": a.version,
                "summary": a.summary, "window_start_ms": a.window_start_s * 1000,
                "window_end_ms": a.window_end_s * 1000,
                "features": body.get("features", []), "evidence": body.get("evidence", {}),
                "reason": body.get("reason"), "rule": body.get("rule"),
            })
        return out

    def experiments(self, model: str, windows: int, range_s: float = DEFAULT_RANGE_S) -> dict[str, Any]:
        """The model's experiments, champion and challenger side by side: per comparison the latest
        verdict, its reason and evidence, and the interval per window (narrowing as data comes in);
        and the lifecycle of the model's versions."""
        windows = max(1, min(windows, MAX_WINDOWS))
        records = experiment_reads.experiment_verdicts(self.store, model, self.since_s(range_s), MAX_ROWS)
        comparisons: dict[tuple[str, str], list] = defaultdict(list)
        for r in records:
            comparisons[(r.experiment, r.challenger)].append(r)
        out = []
        for (experiment, challenger), rows in sorted(comparisons.items()):
            last = rows[-1]
            decided = next((r for r in rows if r.verdict != "continue"), None)
            out.append({
                "experiment": experiment, "champion": last.champion, "challenger": challenger, "metric": last.metric,
                "verdict": last.verdict, "reason": (decided or last).reason, "action": last.action,
                "decided_window_start_ms": None if decided is None else decided.window_start_s * 1000,
                "paired": last.paired, "alpha": last.alpha,
                "champion_value": _finite(last.champion_value), "challenger_value": _finite(last.challenger_value),
                "n_champion": last.n_champion, "n_challenger": last.n_challenger,
                "estimate": _finite(last.estimate), "lower": _finite(last.lower), "upper": _finite(last.upper),
                "guardrails": _json_list(last.guardrails), "checks": _json_list(last.checks),
                "windows": [r.window_start_s * 1000 for r in rows[-windows:]],
                "series": {"estimate": [_finite(r.estimate) for r in rows[-windows:]],
                           "lower": [_finite(r.lower) for r in rows[-windows:]],
                           "upper": [_finite(r.upper) for r in rows[-windows:]],
                           "verdict": [r.verdict for r in rows[-windows:]]},
            })
        versions = [{"version": v.version, "state": v.state, "reason": v.reason, "changed_by": v.changed_by,
                     "changed_at_ms": v.changed_at_s * 1000, "first_seen_ms": v.first_seen_s * 1000,
                     "last_seen_ms": v.last_seen_s * 1000} for v in version_summaries(self.store, [model], MAX_VERSIONS)]
        return {"model": model, "experiments": out, "versions": versions}

    def _series(self, model: str, metrics, windows: int, range_s: float) -> dict[str, Any]:
        windows = max(1, min(windows, MAX_WINDOWS))
        spec = self.settings.model(model)
        window_s = (spec.window_ms if spec else 60_000) // 1000 or 1
        first, last = reads.metric_window_range(self.store, model, metrics, self.since_s(range_s))
        if last <= 0:
            return {"windows": [], "series": {}}
        since = max(first, last - (windows - 1) * window_s)
        starts = list(range(since, last + 1, window_s))
        index = {s: i for i, s in enumerate(starts)}
        series: dict[str, dict[str, list]] = {}
        for p in reads.metric_points_since(self.store, model, metrics, since, MAX_ROWS):
            i = index.get(p.window_start_s)
            if i is None:
                continue
            per = series.setdefault(p.version, {m: [None] * len(starts) for m in metrics})
            per[p.metric][i] = _finite(p.value)
        return {"windows": [s * 1000 for s in starts], "series": series}

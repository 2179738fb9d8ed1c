"""The status page's reads: plain SQL on a :class:`~driftline.sinks.store.Store`, plain dicts out (JSON-ready).

Blocking; :mod:`driftline.status.pages` runs them in a thread executor. The SQL is the
same for chdb and a ClickHouse server (18.16 and later): every table is read
with ``FINAL`` and times come back as ``toUnixTimestamp`` seconds.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Any

from driftline.settings import Settings

__all__ = ["PERFORMANCE_METRICS", "StatusQueries", "drift_score"]

PERFORMANCE_METRICS = {
    "binary_classification": ("accuracy", "f1", "roc_auc"),
    "multiclass_classification": ("accuracy", "macro_f1"),
    "regression": ("mae", "rmse"),
}
LATENCY_METRICS = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")
MAX_WINDOWS = 500


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


class StatusQueries:
    def __init__(self, store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def models(self) -> list[dict[str, Any]]:
        """Every configured model with its versions and their state: ok, drifting or alerting."""
        versions: dict[str, dict[str, dict]] = defaultdict(dict)
        for model, version, last_end, predictions, labels in self.store.execute(
                "SELECT model, version, toUnixTimestamp(max(window_end)), sumIf(value, metric = 'predictions'),"
                " sumIf(value, metric = 'labels') FROM window_metrics FINAL GROUP BY model, version"):
            versions[model][version] = {
                "version": version, "state": "ok", "last_window_end": int(last_end) * 1000,
                "predictions": int(predictions), "labels": int(labels), "drifted_features": [], "firing": []}
        for model, version, feature in self.store.execute(
                # Feature tests of the latest window that ran them (concept drift on the error stream
                # is filed in label windows and shows as alerts instead).
                "SELECT model, version, feature FROM drift_results FINAL WHERE drifted = 1"
                " AND feature != 'error_stream' AND (model, version, window_start) IN"
                " (SELECT model, version, max(window_start) FROM drift_results FINAL"
                " WHERE feature != 'error_stream' GROUP BY model, version) GROUP BY model, version, feature"
                " ORDER BY feature"):
            entry = versions[model].get(version)
            if entry is not None:
                entry["drifted_features"].append(feature)
                entry["state"] = "drifting"
        for model, version, key, status, kind, severity, summary in self.store.execute(
                "SELECT model, version, dedup_key, argMax(status, window_end), argMax(kind, window_end),"
                " argMax(severity, window_end), argMax(summary, window_end) FROM alerts FINAL"
                " GROUP BY model, version, dedup_key ORDER BY dedup_key"):
            entry = versions[model].get(version)
            if entry is not None and status == "firing":
                entry["firing"].append({"dedup_key": key, "kind": kind, "severity": severity, "summary": summary})
                entry["state"] = "alerting"
        out = []
        rank = {"ok": 0, "drifting": 1, "alerting": 2}
        for m in self.settings.models:
            vs = sorted(versions.get(m.name, {}).values(), key=lambda v: v["version"])
            out.append({
                "name": m.name, "task": m.task, "window_ms": m.window_ms, "features": dict(m.features),
                "state": max((v["state"] for v in vs), key=rank.__getitem__, default="ok"),
                "versions": vs,
            })
        return out

    def primary_version(self, model: str) -> str | None:
        rows = self.store.execute(
            "SELECT version FROM window_metrics FINAL WHERE model = %(m)s AND metric = 'predictions'"
            " GROUP BY version ORDER BY sum(value) DESC, version LIMIT 1", {"m": model})
        return rows[0][0] if rows else None

    def drift(self, model: str, version: str | None, windows: int) -> dict[str, Any]:
        """Drift score per feature per window (heatmap cells), most recent ``windows`` windows."""
        version = version or self.primary_version(model) or "v1"
        windows = max(1, min(windows, MAX_WINDOWS))
        starts = [int(r[0]) for r in self.store.execute(
            "SELECT toUnixTimestamp(window_start) AS w FROM drift_results FINAL"
            " WHERE model = %(m)s AND version = %(v)s GROUP BY w ORDER BY w DESC LIMIT %(n)s",
            {"m": model, "v": version, "n": windows})][::-1]
        spec = self.settings.model(model)
        features = list(spec.features) if spec else []
        cells: dict[str, dict[int, dict]] = defaultdict(dict)
        if starts:
            for w, feature, test, statistic, p_value, threshold, drifted in self.store.execute(
                    "SELECT toUnixTimestamp(window_start) AS w, feature, test, statistic, p_value, threshold, drifted"
                    " FROM drift_results FINAL WHERE model = %(m)s AND version = %(v)s"
                    " AND toUnixTimestamp(window_start) >= %(since)s ORDER BY w, feature, test",
                    {"m": model, "v": version, "since": starts[0]}):
                score = drift_score(statistic, p_value, threshold)
                cell = {"test": test, "statistic": _finite(statistic), "p_value": _finite(p_value),
                        "threshold": threshold, "drifted": bool(drifted), "score": _finite(score)}
                best = cells[feature].get(int(w))
                if best is None or (cell["score"] or 0) > (best["score"] or 0) or cell["drifted"]:
                    cells[feature][int(w)] = cell
                if feature not in features:
                    features.append(feature)
        return {
            "model": model, "version": version, "versions": self._versions(model),
            "windows": [s * 1000 for s in starts],
            "features": [{"name": f, "kind": (spec.features.get(f) if spec else None) or "numeric",
                          "cells": [cells[f].get(s) for s in starts]} for f in features],
        }

    def performance(self, model: str, windows: int) -> dict[str, Any]:
        spec = self.settings.model(model)
        metrics = PERFORMANCE_METRICS.get(spec.task if spec else "", ()) + ("label_coverage",)
        return {"model": model, "task": spec.task if spec else None, "metrics": list(metrics),
                **self._series(model, metrics, windows)}

    def latency(self, model: str, windows: int) -> dict[str, Any]:
        return {"model": model, "metrics": list(LATENCY_METRICS), **self._series(model, LATENCY_METRICS, windows)}

    def alerts(self, limit: int, model: str | None = None) -> list[dict[str, Any]]:
        where = "WHERE model = %(m)s " if model else ""
        rows = self.store.execute(
            "SELECT alert_id, toUnixTimestamp(ts), status, kind, severity, action, model, version, summary,"
            " toUnixTimestamp(window_start), toUnixTimestamp(window_end), payload FROM alerts FINAL "
            + where + "ORDER BY ts DESC, window_end DESC, alert_id LIMIT %(n)s",
            {"m": model or "", "n": max(1, min(limit, 1000))})
        out = []
        for alert_id, ts, status, kind, severity, action, model_, version, summary, ws, we, payload in rows:
            try:
                body = json.loads(payload)
            except ValueError:
                body = {}
            out.append({
                "alert_id": alert_id, "ts_ms": int(ts) * 1000, "status": status, "kind": kind,
                "severity": severity, "action": action, "model": model_, "version": version,
                "summary": summary, "window_start_ms": int(ws) * 1000, "window_end_ms": int(we) * 1000,
                "features": body.get("features", []), "evidence": body.get("evidence", {}),
                "reason": body.get("reason"), "rule": body.get("rule"),
            })
        return out

    def _versions(self, model: str) -> list[str]:
        return [r[0] for r in self.store.execute(
            "SELECT version FROM window_metrics FINAL WHERE model = %(m)s GROUP BY version ORDER BY version",
            {"m": model})]

    def _series(self, model: str, metrics, windows: int) -> dict[str, Any]:
        windows = max(1, min(windows, MAX_WINDOWS))
        spec = self.settings.model(model)
        window_s = (spec.window_ms if spec else 60_000) // 1000 or 1
        (first, last), = self.store.execute(
            "SELECT toUnixTimestamp(min(window_start)), toUnixTimestamp(max(window_start)) FROM window_metrics FINAL"
            " WHERE model = %(m)s AND metric IN %(metrics)s", {"m": model, "metrics": tuple(metrics)})
        first, last = int(first or 0), int(last or 0)
        if last <= 0:
            return {"windows": [], "series": {}}
        since = max(first, last - (windows - 1) * window_s)
        starts = list(range(since, last + 1, window_s))
        index = {s: i for i, s in enumerate(starts)}
        series: dict[str, dict[str, list]] = {}
        for version, w, metric, value in self.store.execute(
                "SELECT version, toUnixTimestamp(window_start) AS w, metric, value FROM window_metrics FINAL"
                " WHERE model = %(m)s AND metric IN %(metrics)s AND toUnixTimestamp(window_start) >= %(since)s"
                " ORDER BY version, w", {"m": model, "metrics": tuple(metrics), "since": since}):
            i = index.get(int(w))
            if i is None:
                continue
            per = series.setdefault(version, {m: [None] * len(starts) for m in metrics})
            per[metric][i] = _finite(value)
        return {"windows": [s * 1000 for s in starts], "series": series}

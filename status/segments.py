"""The status page's segment view: per segment key, its groups worst first, a small multiple per metric.

A group's place comes from the model task's main metric over the range (accuracy lowest first,
MAE highest first), weighted by each window's rows; groups without that metric yet follow, by
volume. At most :data:`MAX_GROUPS` groups per key are shown. The latest fairness result of each
sensitive key and measure comes with them. Reads: :mod:`driftline.sinks.queries.segments`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from driftline.settings import ModelSettings
from driftline.sinks.queries import segments as reads
from driftline.sinks.store import Store

__all__ = ["MAX_GROUPS", "SEGMENT_METRICS", "segment_view"]

SEGMENT_METRICS = {
    "binary_classification": ("accuracy", "selection_rate", "label_coverage", "predictions"),
    "multiclass_classification": ("accuracy", "label_coverage", "predictions"),
    "regression": ("mae", "label_coverage", "predictions"),
}
LOWER_IS_WORSE = {"accuracy": True, "mae": False}
MAX_GROUPS = 20
MAX_ROWS = 200_000


def segment_view(store: Store, spec: ModelSettings | None, windows: int, since_s: int) -> dict[str, Any]:
    if spec is None or spec.segments is None:
        return {"metrics": [], "keys": [], "fairness": []}
    metrics = SEGMENT_METRICS[spec.task]
    window_s = spec.window_ms // 1000 or 1
    points = reads.segment_points_since(store, spec.name, metrics, since_s, MAX_ROWS)
    if points:
        last = max(p.window_start_s for p in points)
        since_s = max(since_s, last - (windows - 1) * window_s)
    cells: dict[str, dict[str, dict[str, dict[int, tuple[float, int]]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(dict)))
    starts: set[int] = set()
    for p in points:
        if p.window_start_s >= since_s:
            cells[p.key][p.group][p.metric][p.window_start_s] = (p.value, p.n)
            if p.metric == "predictions":
                starts.add(p.window_start_s)
    order = sorted(starts)
    main = metrics[0]
    keys = []
    for key in spec.segments.names():
        groups = []
        for group, by_metric in cells.get(key, {}).items():
            score = _weighted(by_metric.get(main, {}))
            volume = sum(n for _, n in by_metric.get("predictions", {}).values())
            groups.append({"group": group, "score": score, "predictions": volume,
                           "series": {m: [_finite(by_metric.get(m, {}).get(s, (None, 0))[0]) for s in order]
                                      for m in metrics}})
        worse_low = LOWER_IS_WORSE.get(main, True)
        groups.sort(key=lambda g: (g["score"] is None, (g["score"] or 0) * (1 if worse_low else -1),
                                   -g["predictions"], g["group"]))
        keys.append({"key": key, "groups": groups[:MAX_GROUPS], "more": max(0, len(groups) - MAX_GROUPS)})
    fairness = [{"key": r.key, "measure": r.measure, "value": _finite(r.value), "threshold": _finite(r.threshold),
                 "flagged": r.flagged, "worst": r.worst_group, "best": r.best_group,
                 "worst_value": _finite(r.worst_value), "best_value": _finite(r.best_value),
                 "worst_n": r.worst_n, "best_n": r.best_n, "window_start_ms": r.window_start_s * 1000}
                for r in _latest(reads.fairness_history(store, spec.name, since_s, 2**31 - 1, MAX_ROWS))]
    return {"metrics": list(metrics), "windows": [s * 1000 for s in order], "keys": keys, "fairness": fairness}


def _weighted(series: dict[int, tuple[float, int]]) -> float | None:
    total = sum(n for v, n in series.values() if math.isfinite(v))
    return sum(v * n for v, n in series.values() if math.isfinite(v)) / total if total else None


def _latest(records: list) -> list:
    latest: dict[tuple[str, str], Any] = {}
    for r in records:
        current = latest.get((r.key, r.measure))
        if current is None or (r.window_start_s, r.version) >= (current.window_start_s, current.version):
            latest[(r.key, r.measure)] = r
    return sorted(latest.values(), key=lambda r: (not r.flagged, r.key, r.measure))


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)

"""Rows of ``segment_metrics`` and ``fairness_results`` from a closed window's report.

The segment key and group value are columns (``segment_key``, ``segment_value``), never part of
a metric name; a fairness result's compared groups are one JSON text (``groups``), the one
column 18.16 can hold them in without Map or JSON types (see ``schema/0005_segments.sql``).

>>> from collections import defaultdict
>>> from driftline.detectors import SegmentMetric, WindowReport
>>> buffers = {}
>>> report = WindowReport("credit", "v1", 60_000, 120_000, 10, 0,
...                       segments=(SegmentMetric("country", "DE", "predictions", 6.0, 6),))
>>> add_segment_rows(buffers, report, partition=3, now_s=100)
>>> dict(buffers["segment_metrics"])["segment_value"], dict(buffers["segment_metrics"])["window_start"]
(['DE'], [60])
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Any

from driftline.detectors import WindowReport

__all__ = ["add_segment_rows"]


def add_segment_rows(buffers: dict[str, Any], report: WindowReport, *, partition: int, now_s: int) -> None:
    """Append the report's segment metrics and fairness results to the writer's column buffers."""
    start, end = report.window_start_ms // 1000, report.window_end_ms // 1000
    rows = buffers.setdefault("segment_metrics", defaultdict(list))
    for m in report.segments:
        for name, value in (("model", report.model), ("version", report.version), ("window_start", start),
                            ("window_end", end), ("segment_key", m.key), ("segment_value", m.group),
                            ("metric", m.name), ("value", float(m.value)), ("n", int(m.n)),
                            ("kafka_partition", partition), ("computed_at", now_s)):
            rows[name].append(value)
    rows = buffers.setdefault("fairness_results", defaultdict(list))
    for r in report.fairness:
        groups = json.dumps([{"group": g.group, "value": _finite(g.value), "n": g.n, "low": _finite(g.low),
                              "high": _finite(g.high)} for g in r.groups], allow_nan=False)
        for name, value in (("model", report.model), ("version", report.version), ("window_start", start),
                            ("window_end", end), ("sensitive_key", r.key), ("measure", r.measure),
                            ("value", float(r.value)), ("threshold", float(r.threshold)),
                            ("flagged", int(r.flagged)), ("worst_group", r.worst), ("best_group", r.best),
                            ("worst_value", float(r.worst_value)), ("best_value", float(r.best_value)),
                            ("worst_n", int(r.worst_n)), ("best_n", int(r.best_n)), ("p_value", float(r.p_value)),
                            ("groups", groups), ("kafka_partition", partition), ("computed_at", now_s)):
            rows[name].append(value)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None

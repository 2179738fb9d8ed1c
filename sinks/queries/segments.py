"""Segment metrics and fairness results: what the status page's segment view and the governance
report read.

Plain functions of a :class:`~driftline.sinks.store.Store`, bounded like every status read
(a time range on the partitioning column and a ``LIMIT``), through ``FINAL`` since a replayed
window replaces its rows. The SQL runs on chdb and on ClickHouse 18.16 and later.

:func:`fairness_history` and :func:`fairness_summary` are the governance view: fairness results
per model version over time (the governance report calls them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..store import Store

__all__ = ["FairnessRecord", "FairnessSummary", "SegmentPoint", "fairness_history", "fairness_summary",
           "segment_points_since"]


@dataclass(frozen=True)
class SegmentPoint:
    """One metric of one segment group in one window."""

    version: str
    key: str
    group: str
    window_start_s: int
    metric: str
    value: float
    n: int


@dataclass(frozen=True)
class FairnessRecord:
    """One fairness measure of one sensitive key in one window of a model version."""

    model: str
    version: str
    window_start_s: int
    window_end_s: int
    key: str
    measure: str
    value: float
    threshold: float
    flagged: bool
    worst_group: str
    best_group: str
    worst_value: float
    best_value: float
    worst_n: int
    best_n: int
    p_value: float
    groups: tuple[dict[str, Any], ...]  # every compared group: group, value, n, low, high


@dataclass(frozen=True)
class FairnessSummary:
    """A measure of a sensitive key over a range, per model version: how often it was flagged, its extremes."""

    version: str
    key: str
    measure: str
    windows: int
    flagged_windows: int
    min_value: float
    max_value: float
    first_window_s: int
    last_window_s: int


def segment_points_since(store: Store, model: str, metrics: Sequence[str], since_s: int,
                         limit: int) -> list[SegmentPoint]:
    """Values of ``metrics`` per segment group in windows starting at or after ``since_s``; the latest
    windows first when there are more than ``limit``, returned by version, key, group and window."""
    rows = store.execute(
        "SELECT version, segment_key, segment_value, toUnixTimestamp(window_start) AS w, metric, value, n"
        " FROM segment_metrics FINAL WHERE model = %(m)s AND metric IN %(metrics)s"
        " AND window_start >= toDateTime(%(since)s) ORDER BY w DESC LIMIT %(n)s",
        {"m": model, "metrics": tuple(metrics), "since": since_s, "n": limit})
    return sorted((SegmentPoint(version, key, group, int(w), metric, float(value), int(n))
                   for version, key, group, w, metric, value, n in rows),
                  key=lambda p: (p.version, p.key, p.group, p.window_start_s, p.metric))


def fairness_history(store: Store, model: str, since_s: int, until_s: int, limit: int,
                     version: str | None = None) -> list[FairnessRecord]:
    """Every fairness result of ``model`` (one ``version`` or all) in windows starting in
    [``since_s``, ``until_s``), by version, window, key and measure; at most ``limit`` rows."""
    where = " AND version = %(v)s" if version is not None else ""
    rows = store.execute(
        "SELECT model, version, toUnixTimestamp(window_start) AS w, toUnixTimestamp(window_end), sensitive_key,"
        " measure, value, threshold, flagged, worst_group, best_group, worst_value, best_value, worst_n, best_n,"
        " p_value, groups FROM fairness_results FINAL"
        " WHERE model = %(m)s AND window_start >= toDateTime(%(since)s) AND window_start < toDateTime(%(until)s)"
        + where + " ORDER BY version, w, sensitive_key, measure LIMIT %(n)s",
        {"m": model, "v": version or "", "since": since_s, "until": until_s, "n": limit})
    return [FairnessRecord(m, v, int(w), int(we), key, measure, float(value), float(threshold), bool(flagged),
                           worst, best, float(wv), float(bv), int(wn), int(bn), float(p), _groups(groups))
            for m, v, w, we, key, measure, value, threshold, flagged, worst, best, wv, bv, wn, bn, p, groups in rows]


def fairness_summary(store: Store, model: str, since_s: int, until_s: int, limit: int) -> list[FairnessSummary]:
    """Per version, sensitive key and measure over windows starting in [``since_s``, ``until_s``)."""
    rows = store.execute(
        "SELECT version, sensitive_key, measure, count(), sum(flagged), min(value), max(value),"
        " toUnixTimestamp(min(window_start)), toUnixTimestamp(max(window_start))"
        " FROM fairness_results FINAL"
        " WHERE model = %(m)s AND window_start >= toDateTime(%(since)s) AND window_start < toDateTime(%(until)s)"
        " GROUP BY version, sensitive_key, measure ORDER BY version, sensitive_key, measure LIMIT %(n)s",
        {"m": model, "since": since_s, "until": until_s, "n": limit})
    return [FairnessSummary(v, key, measure, int(n), int(flagged), float(lo), float(hi), int(first), int(last))
            for v, key, measure, n, flagged, lo, hi, first, last in rows]


def _groups(text: str) -> tuple[dict[str, Any], ...]:
    try:
        groups = json.loads(text)
    except ValueError:
        return ()
    return tuple(g for g in groups if isinstance(g, dict)) if isinstance(groups, list) else ()

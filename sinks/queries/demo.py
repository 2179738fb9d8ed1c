"""What ``driftline demo`` reads to tell which scheduled change was caught, by what, and when.

Plain functions of a :class:`~driftline.sinks.store.Store`, polled once a second
by the demo's terminal view; the same SQL runs on chdb and a ClickHouse server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..store import Store

__all__ = [
    "FirstAlert", "FirstDrift", "FirstVerdict", "RecentAlert", "drifted_result_count", "first_alert_after",
    "first_drift_after", "first_verdict_after", "firing_alert_count", "recent_alerts",
]


@dataclass(frozen=True)
class FirstDrift:
    """The first drifted result of a feature after some time."""

    window_end_s: int
    version: str
    test: str
    statistic: float
    p_value: float | None


@dataclass(frozen=True)
class FirstAlert:
    """The first firing alert of a model version after some time."""

    window_end_s: int
    kind: str
    severity: str


@dataclass(frozen=True)
class FirstVerdict:
    """The first decided verdict (not ``continue``) of an experiment's challenger after some time."""

    window_end_s: int
    experiment: str
    verdict: str
    action: str


@dataclass(frozen=True)
class RecentAlert:
    """An alert state change as the demo lists it (``ts`` as the store returns a DateTime)."""

    ts: datetime
    status: str
    severity: str
    kind: str
    model: str
    version: str
    summary: str


def _count(store: Store, sql: str) -> int:
    rows = store.execute(sql)
    return (rows[0][0] if rows else None) or 0


def drifted_result_count(store: Store) -> int:
    """Drifted (window, feature, test) results stored so far."""
    return _count(store, "SELECT count() FROM drift_results FINAL WHERE drifted = 1")


def firing_alert_count(store: Store) -> int:
    """Alert state changes to ``firing`` stored so far."""
    return _count(store, "SELECT count() FROM alerts FINAL WHERE status = 'firing'")


def first_drift_after(store: Store, model: str, feature: str, after_s: int) -> FirstDrift | None:
    """The earliest drifted result of ``model``'s ``feature`` in a window ending after ``after_s``."""
    rows = store.execute(
        "SELECT toUnixTimestamp(window_end) AS we, version, test, statistic, p_value FROM drift_results FINAL"
        " WHERE model = %(m)s AND feature = %(f)s AND drifted = 1 AND toUnixTimestamp(window_end) > %(at)s"
        " ORDER BY we LIMIT 1", {"m": model, "f": feature, "at": after_s})
    if not rows:
        return None
    end, version, test, statistic, p_value = rows[0]
    return FirstDrift(int(end), version, test, statistic, p_value)


def first_alert_after(store: Store, model: str, version: str, kinds: Sequence[str],
                      after_s: int) -> FirstAlert | None:
    """The earliest alert of one of ``kinds`` firing for a window ending after ``after_s``."""
    rows = store.execute(
        "SELECT toUnixTimestamp(window_end) AS we, kind, severity FROM alerts FINAL"
        " WHERE model = %(m)s AND version = %(v)s AND status = 'firing' AND kind IN %(kinds)s"
        " AND toUnixTimestamp(window_end) > %(at)s ORDER BY we LIMIT 1",
        {"m": model, "v": version, "kinds": tuple(kinds), "at": after_s})
    if not rows:
        return None
    end, kind, severity = rows[0]
    return FirstAlert(int(end), kind, severity)


def first_verdict_after(store: Store, model: str, challenger: str, after_s: int) -> FirstVerdict | None:
    """The earliest decided evaluation of ``challenger`` of ``model`` in a window ending after ``after_s``."""
    rows = store.execute(
        "SELECT toUnixTimestamp(window_end) AS we, experiment, verdict, action FROM experiment_verdicts FINAL"
        " WHERE model = %(m)s AND challenger = %(c)s AND verdict != 'continue' AND toUnixTimestamp(window_end) > %(at)s"
        " ORDER BY we LIMIT 1", {"m": model, "c": challenger, "at": after_s})
    if not rows:
        return None
    end, experiment, verdict, action = rows[0]
    return FirstVerdict(int(end), experiment, verdict, action)


def recent_alerts(store: Store, limit: int) -> list[RecentAlert]:
    """The latest ``limit`` alert state changes, newest first."""
    return [RecentAlert(*row) for row in store.execute(
        "SELECT ts, status, severity, kind, model, version, summary FROM alerts FINAL"
        " ORDER BY ts DESC, window_end DESC LIMIT %(n)s", {"n": limit})]

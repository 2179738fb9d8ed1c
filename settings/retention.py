"""``retention:``: how many days each table keeps its rows (``driftline.sinks.retention`` enforces it).

Raw events (predictions, feedback, dead letters, delivery log) are large and kept briefly;
window results, alerts and rollups are small and kept a year. Values are durations in
whole days, ``30d`` (the one duration grammar); a bare number here counts days, as this
section always has. ``0`` keeps a table forever.

>>> p = parse_retention({"raw_events": "14d", "tables": {"alerts": 730}})
>>> p.days("predictions"), p.days("drift_results"), p.days("alerts")
(14, 365, 730)
>>> parse_retention({"raw_events": "36h"})
Traceback (most recent call last):
...
driftline.settings.errors.ConfigError: retention.raw_events: '36h' is invalid, expected a whole number of days such as 30d (or 30)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .durations import UNITS_MS, parse_duration_ms
from .reader import Reader, join

__all__ = ["RAW_TABLES", "RETENTION_TABLES", "RetentionPolicy", "parse_retention", "read_retention"]

RAW_TABLES = frozenset({"predictions", "feedback", "dead_letters", "alert_deliveries"})
# Every table a policy may name: the raw tables, then windows, alerts and rollups.
RETENTION_TABLES = (
    "predictions", "feedback", "dead_letters", "alert_deliveries", "window_metrics", "drift_results", "alerts",
    "experiment_verdicts", "segment_metrics", "fairness_results", "predictions_hourly", "feedback_hourly", "window_metrics_hourly", "drift_daily", "dead_letters_daily",
)
_DAYS = "a whole number of days such as 30d (or 30)"


@dataclass(frozen=True)
class RetentionPolicy:
    """Days to keep per table; ``0`` keeps a table forever."""

    raw_events_days: int = 30
    aggregates_days: int = 365
    tables: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, days in (("raw_events", self.raw_events_days), ("aggregates", self.aggregates_days),
                           *((f"tables.{t}", d) for t, d in self.tables.items())):
            if not isinstance(days, int) or isinstance(days, bool) or days < 0:
                raise ValueError(f"retention.{name}: {days!r} is invalid, expected {_DAYS}")
        for table in self.tables:
            if table not in RETENTION_TABLES:
                raise ValueError(f"retention.tables.{table}: {table!r} is invalid, expected one of: "
                                 + ", ".join(RETENTION_TABLES))

    def days(self, table: str) -> int:
        if table in self.tables:
            return self.tables[table]
        return self.raw_events_days if table in RAW_TABLES else self.aggregates_days


def parse_retention(raw: Any, path: str = "retention") -> RetentionPolicy:
    """Read a ``retention:`` section; raises :class:`~driftline.settings.ConfigError` listing every problem."""
    r = Reader()
    policy = read_retention(r, raw, path)
    r.raise_if_problems()
    return policy


def read_retention(r: Reader, raw: Any, path: str) -> RetentionPolicy:
    m = r.mapping(raw, path, keys=("raw_events", "aggregates", "tables"))
    tables = {}
    where = join(path, "tables")
    for table, value in r.section(m, "tables", path, keys=RETENTION_TABLES).items():
        if table in RETENTION_TABLES:
            tables[table] = _days(r, value, join(where, table), 0)
    return RetentionPolicy(
        raw_events_days=_days(r, m.get("raw_events"), join(path, "raw_events"), RetentionPolicy.raw_events_days),
        aggregates_days=_days(r, m.get("aggregates"), join(path, "aggregates"), RetentionPolicy.aggregates_days),
        tables=tables,
    )


def _days(r: Reader, value: Any, path: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    try:
        ms = parse_duration_ms(value) if isinstance(value, str) else -1
    except ValueError:
        ms = -1
    if ms < 0 or ms % UNITS_MS["d"]:
        r.problem(path, value, _DAYS)
        return default
    return ms // UNITS_MS["d"]

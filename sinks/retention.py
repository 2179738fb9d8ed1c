"""How long each table keeps its rows, and how that is enforced on a store.

Raw events (predictions, feedback, dead letters, delivery log) are large and
kept briefly; window results, alerts and rollups are small and kept a year,
so 30-day and 365-day dashboard panels never need the raw events.

:func:`apply_retention` enforces a :class:`RetentionPolicy` in one of two ways:

* servers with table TTL (ClickHouse >= 19.6, chdb): ``ALTER TABLE ... MODIFY
  TTL`` once per table; the server then deletes expired rows during merges.
  A table whose TTL already matches is left alone, because every MODIFY TTL
  rewrites the table's parts.
* older servers (18.16): every table is partitioned by month, so a month whose
  last second is older than the cutoff is dropped with
  ``ALTER TABLE ... DROP PARTITION ID``. Run it daily (cron, a Kubernetes
  CronJob, ``driftline retention``); a partition is kept until its whole month
  expired, so rows live up to one month longer than the policy says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .store import Store

__all__ = ["RAW_TABLES", "RetentionAction", "RetentionPolicy", "TABLE_TIME_COLUMNS", "apply_retention"]

TTL_SINCE = (19, 6)

# Table -> the column its partition key (toYYYYMM) and its TTL are computed from.
TABLE_TIME_COLUMNS: Mapping[str, str] = {
    "predictions": "ts",
    "feedback": "ts",
    "dead_letters": "ts",
    "alert_deliveries": "ts",
    "window_metrics": "window_start",
    "drift_results": "window_start",
    "alerts": "window_start",
    "predictions_hourly": "hour",
    "feedback_hourly": "hour",
    "window_metrics_hourly": "hour",
    "drift_daily": "day",
    "dead_letters_daily": "day",
}
RAW_TABLES = frozenset({"predictions", "feedback", "dead_letters", "alert_deliveries"})
_DAYS = re.compile(r"^\s*(\d+)\s*d?\s*$")


@dataclass(frozen=True)
class RetentionPolicy:
    """Days to keep per table; ``0`` keeps a table forever.

    >>> p = RetentionPolicy.from_mapping({"raw_events": "14d", "tables": {"alerts": 730}})
    >>> p.days("predictions"), p.days("drift_results"), p.days("alerts")
    (14, 365, 730)
    """

    raw_events_days: int = 30
    aggregates_days: int = 365
    tables: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, days in (("raw_events", self.raw_events_days), ("aggregates", self.aggregates_days),
                           *((f"tables.{t}", d) for t, d in self.tables.items())):
            if not isinstance(days, int) or isinstance(days, bool) or days < 0:
                raise ValueError(f"retention.{name}: expected a whole number of days >= 0, got {days!r}")
        unknown = sorted(set(self.tables) - set(TABLE_TIME_COLUMNS))
        if unknown:
            raise ValueError(f"retention.tables: unknown table(s) {unknown}; "
                             f"valid: {', '.join(sorted(TABLE_TIME_COLUMNS))}")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None, *, path: str = "retention") -> RetentionPolicy:
        """Build from the config's ``retention:`` section. Durations are days: ``30`` or ``"30d"``.

        ``{raw_events: 30d, aggregates: 365d, tables: {predictions: 14d}}``
        """
        raw = raw or {}
        if not isinstance(raw, Mapping):
            raise ValueError(f"{path}: expected a mapping, got {raw!r}")
        unknown = sorted(set(raw) - {"raw_events", "aggregates", "tables"})
        if unknown:
            raise ValueError(f"{path}: unknown key(s) {unknown}; expected raw_events, aggregates, tables")
        tables = raw.get("tables") or {}
        if not isinstance(tables, Mapping):
            raise ValueError(f"{path}.tables: expected a mapping of table -> days, got {tables!r}")
        try:
            return cls(
                raw_events_days=_days(raw.get("raw_events", cls.raw_events_days), f"{path}.raw_events"),
                aggregates_days=_days(raw.get("aggregates", cls.aggregates_days), f"{path}.aggregates"),
                tables={str(t): _days(d, f"{path}.tables.{t}") for t, d in tables.items()},
            )
        except ValueError as exc:
            raise ValueError(str(exc).replace("retention.", f"{path}.", 1)) from exc

    def days(self, table: str) -> int:
        if table in self.tables:
            return self.tables[table]
        return self.raw_events_days if table in RAW_TABLES else self.aggregates_days


@dataclass(frozen=True)
class RetentionAction:
    """One statement :func:`apply_retention` ran (or would run with ``dry_run``)."""

    table: str
    kind: str  # "ttl" or "drop_partition"
    sql: str


def apply_retention(store: Store, policy: RetentionPolicy, now: datetime, *,
                    dry_run: bool = False) -> list[RetentionAction]:
    """Enforce ``policy`` on the store's database; returns the statements issued.

    ``now`` is an aware or naive-UTC datetime; it only matters for partition drops.
    """
    database = store.database
    existing = {row[0]: row[1] for row in store.execute(
        "SELECT name, engine_full FROM system.tables WHERE database = %(db)s", {"db": database})}
    use_ttl = tuple(store.server_version()[:2]) >= TTL_SINCE
    actions: list[RetentionAction] = []
    for table, column in TABLE_TIME_COLUMNS.items():
        if table not in existing:
            continue
        days = policy.days(table)
        if use_ttl:
            actions.extend(_ttl_actions(database, table, column, days, existing[table]))
        elif days:
            actions.extend(_partition_actions(store, database, table, _cutoff(now, days)))
    if not dry_run:
        for action in actions:
            store.execute(action.sql)
    return actions


def _ttl_actions(database: str, table: str, column: str, days: int, engine_full: str) -> list[RetentionAction]:
    current = re.search(r"\bTTL (.+?)(?: SETTINGS |$)", engine_full)
    if days == 0:
        if current is None:
            return []
        return [RetentionAction(table, "ttl", f"ALTER TABLE {database}.{table} REMOVE TTL")]
    expression = f"{column} + toIntervalDay({days})"
    if current is not None and current.group(1).strip() == expression:
        return []
    return [RetentionAction(table, "ttl", f"ALTER TABLE {database}.{table} MODIFY TTL {expression}")]


def _partition_actions(store: Store, database: str, table: str, cutoff: datetime) -> list[RetentionAction]:
    rows = store.execute(
        "SELECT DISTINCT partition_id FROM system.parts WHERE database = %(db)s AND table = %(t)s AND active",
        {"db": database, "t": table},
    )
    limit = cutoff.year * 100 + cutoff.month
    # Partition YYYYMM ends when month YYYYMM+1 starts: drop only months strictly before the cutoff's month.
    expired = sorted(p for (p,) in rows if p.isdigit() and len(p) == 6 and int(p) < limit)
    return [RetentionAction(table, "drop_partition", f"ALTER TABLE {database}.{table} DROP PARTITION ID '{p}'")
            for p in expired]


def _cutoff(now: datetime, days: int) -> datetime:
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    return now - timedelta(days=days)


def _days(value: Any, path: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{path}: expected days such as 30 or '30d', got {value!r}")
    if isinstance(value, int):
        return value
    match = _DAYS.match(str(value)) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{path}: expected days such as 30 or '30d', got {value!r}")
    return int(match.group(1))

"""How the retention policy is enforced on a store.

The policy (days per table, ``retention:`` in the config) is a typed setting,
:class:`driftline.settings.RetentionPolicy`: raw events (predictions, feedback, dead
letters, delivery log) are large and kept briefly; window results, alerts and rollups
are small and kept a year, so 30-day and 365-day dashboard panels never need the raw events.

:func:`apply_retention` enforces it in one of two ways:

* servers with table TTL (ClickHouse >= 19.6, chdb): ``ALTER TABLE ... MODIFY
  TTL`` once per table; the server then deletes expired rows during merges.
  A table whose TTL already matches is left alone, because every MODIFY TTL
  rewrites the table's parts.
* older servers (18.16): every table is partitioned by month, so a month whose
  last second is older than the cutoff is dropped with
  ``ALTER TABLE ... DROP PARTITION ID``. Run it daily (cron, a Kubernetes
  CronJob, ``driftline retention``); a partition is kept until its whole month
  expired, so rows live up to one month longer than the policy says.

On a cluster (``store.cluster``) the statements act on the replicated local tables
(``<table>_local``), on one replica of each shard (replication does the others); the
partitions are listed from ``system.parts`` of every server of the cluster.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from driftline.settings import RetentionPolicy

from .cluster import local_table
from .store import Store

__all__ = ["RetentionAction", "TABLE_TIME_COLUMNS", "apply_retention"]

TTL_SINCE = (19, 6)

# Table -> the column its partition key (toYYYYMM) and its TTL are computed from.
TABLE_TIME_COLUMNS: Mapping[str, str] = {
    "predictions": "ts",
    "feedback": "ts",
    "dead_letters": "ts",
    "alert_deliveries": "ts",
    "window_metrics": "window_start",
    "drift_results": "window_start",
    "segment_metrics": "window_start",
    "fairness_results": "window_start",
    "alerts": "window_start",
    "experiment_verdicts": "window_start",
    "predictions_hourly": "hour",
    "feedback_hourly": "hour",
    "window_metrics_hourly": "hour",
    "drift_daily": "day",
    "dead_letters_daily": "day",
}


@dataclass(frozen=True)
class RetentionAction:
    """One statement :func:`apply_retention` ran (or would run with ``dry_run``)."""

    table: str
    kind: str  # "ttl" or "drop_partition"
    sql: str
    scope: str = "server"  # "shard": run on one replica of every shard of the store's cluster


def apply_retention(store: Store, policy: RetentionPolicy, now: datetime, *,
                    dry_run: bool = False) -> list[RetentionAction]:
    """Enforce ``policy`` on the store's database; returns the statements issued.

    ``now`` is an aware or naive-UTC datetime; it only matters for partition drops.
    """
    database = store.database
    cluster = getattr(store, "cluster", None)
    existing = {row[0]: row[1] for row in store.execute(
        "SELECT name, engine_full FROM system.tables WHERE database = %(db)s", {"db": database})}
    use_ttl = tuple(store.server_version()[:2]) >= TTL_SINCE
    actions: list[RetentionAction] = []
    for table, column in TABLE_TIME_COLUMNS.items():
        target = local_table(table) if cluster else table
        if target not in existing:
            continue
        days = policy.days(table)
        if use_ttl:
            found = _ttl_actions(database, target, column, days, existing[target])
        elif days:
            found = _partition_actions(store, database, target, _cutoff(now, days), _parts_source(store))
        else:
            found = []
        actions.extend(RetentionAction(table, a.kind, a.sql, "shard" if cluster else "server") for a in found)
    if not dry_run:
        for action in actions:
            if action.scope == "shard":
                store.on_each_shard(action.sql)
            else:
                store.execute(action.sql)
    return actions


def _parts_source(store: Store) -> str:
    """``system.parts`` of the store's server, or of every server of its cluster."""
    cluster = getattr(store, "cluster", None)
    if not cluster:
        return "system.parts"
    hosts = store.execute("SELECT host_name, port FROM system.clusters WHERE cluster = %(c)s",
                          {"c": cluster})
    addresses = ",".join(f"{host}:{port}" for host, port in hosts)
    return f"remote('{addresses}', system.parts)"


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


def _partition_actions(store: Store, database: str, table: str, cutoff: datetime,
                       parts: str = "system.parts") -> list[RetentionAction]:
    rows = store.execute(
        f"SELECT DISTINCT partition_id FROM {parts} WHERE database = %(db)s AND table = %(t)s AND active",
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

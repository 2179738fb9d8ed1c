"""The schema on a ClickHouse cluster: the same migrations, rewritten for ``clickhouse.cluster``.

With a cluster, every table of a migration becomes two tables of the same columns:

* ``<name>_local`` on every server, created ``ON CLUSTER`` with the ``Replicated`` form of its
  engine (``ReplacingMergeTree`` -> ``ReplicatedReplacingMergeTree``, and so on), replicated
  within its shard through ZooKeeper at ``/clickhouse/tables/{shard}/<database>/<name>_local``;
* ``<name>``, a ``Distributed`` table over the locals, under the name the rest of the code
  reads and inserts: nothing outside :mod:`driftline.sinks` knows it runs on a cluster.

Rows are sharded by ``cityHash64`` of the table's sorting key, so the rows a
``ReplacingMergeTree`` must collapse (same key) always land on the same shard and ``FINAL``
through the Distributed table sees one row per key. A materialized view (the rollups) reads
the local table and writes the local rollup on the replica that took the insert; the rollup is
replicated too, so its replicas agree.

ALTERs are run on one replica of each shard (``scope == "shard"``,
:meth:`~driftline.sinks.store.ClickHouseStore.on_each_shard`), not ``ON CLUSTER``: a replicated
ALTER reaches the shard's other replicas through ZooKeeper, and ClickHouse 18.16 refuses
``MODIFY ORDER BY`` and ALTERs of Distributed tables ``ON CLUSTER``. After an ALTER the
Distributed table is dropped and created again over the altered local table with its sharding
key (``scope == "redistribute"``; it holds no data: the store inserts synchronously).

>>> for s in cluster_statements("CREATE TABLE IF NOT EXISTS t (k String, v UInt64) "
...                             "ENGINE = ReplacingMergeTree(v) ORDER BY (k)", cluster="c", database="db"):
...     print(s.scope, s.sql)
cluster CREATE TABLE IF NOT EXISTS db.t_local ON CLUSTER c (k String, v UInt64) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/t_local', '{replica}', v) ORDER BY (k)
cluster CREATE TABLE IF NOT EXISTS db.t ON CLUSTER c AS db.t_local ENGINE = Distributed(c, db, t_local, cityHash64(k))
>>> [s.scope + ": " + s.sql for s in cluster_statements("ALTER TABLE t ADD COLUMN p UInt32", cluster="c", database="db")][:2]
['shard: ALTER TABLE db.t_local ADD COLUMN p UInt32', 'redistribute: t']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import SchemaError

__all__ = ["LOCAL_SUFFIX", "ClusterStatement", "cluster_statements", "distributed_key", "distributed_table",
           "local_table"]

LOCAL_SUFFIX = "_local"

_CREATE_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+)\s*\((.*)\)\s*ENGINE\s*=\s*(\w*MergeTree)\((.*?)\)(.*)$",
                           re.S | re.I)
_CREATE_VIEW = re.compile(r"^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS (SELECT .*)$", re.S | re.I)
_ALTER = re.compile(r"^ALTER TABLE (\w+)\s+(.*)$", re.S | re.I)
_ORDER_BY = re.compile(r"\bORDER BY\s+(\([^)]*\)|[\w(),\s]+?)(?:\s+SETTINGS\b|\s*$)", re.S | re.I)
_FROM = re.compile(r"\bFROM\s+(\w+)\b", re.I)


@dataclass(frozen=True)
class ClusterStatement:
    """One statement of a migration on a cluster. ``scope``: ``cluster`` (run once: it says
    ``ON CLUSTER``), ``shard`` (run on one replica of every shard) or ``redistribute`` (``sql``
    names a Distributed table to create again, with its sharding key, after its local table changed)."""

    sql: str
    scope: str


def local_table(name: str) -> str:
    """The replicated table under the Distributed table ``name``."""
    return name + LOCAL_SUFFIX


def cluster_statements(statement: str, *, cluster: str, database: str) -> list[ClusterStatement]:
    """``statement`` of a migration (written for one server) as the statements that do it on ``cluster``."""
    text = " ".join(statement.split())
    if match := _CREATE_TABLE.match(text):
        return _create_table(match, cluster, database)
    if match := _CREATE_VIEW.match(text):
        name, target, select = match.groups()
        select = _FROM.sub(lambda m: f"FROM {database}.{local_table(m.group(1))}", select)
        return [ClusterStatement(f"CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.{name} ON CLUSTER {cluster} "
                                 f"TO {database}.{local_table(target)} AS {select}", "cluster")]
    if match := _ALTER.match(text):
        name, actions = match.groups()
        return [ClusterStatement(f"ALTER TABLE {database}.{local_table(name)} {actions}", "shard"),
                ClusterStatement(name, "redistribute")]
    raise SchemaError(f"cannot run this migration statement on a cluster (only CREATE TABLE, CREATE "
                      f"MATERIALIZED VIEW ... TO and ALTER TABLE are rewritten): {text[:200]}")


def _create_table(match: re.Match, cluster: str, database: str) -> list[ClusterStatement]:
    name, columns, engine, args, rest = match.groups()
    local = local_table(name)
    path = f"'/clickhouse/tables/{{shard}}/{database}/{local}', '{{replica}}'"
    engine_args = path + (f", {args.strip()}" if args.strip() else "")
    return [ClusterStatement(f"CREATE TABLE IF NOT EXISTS {database}.{local} ON CLUSTER {cluster} ({columns.strip()}) "
                             f"ENGINE = Replicated{engine}({engine_args}){rest}", "cluster"),
            distributed_table(name, cluster=cluster, database=database, key=_sharding_key(rest, name))]


def _sharding_key(rest: str, name: str) -> str:
    match = _ORDER_BY.search(rest)
    if match is None:
        raise SchemaError(f"table {name}: no ORDER BY to shard by")
    return f"cityHash64({match.group(1).strip().strip('()')})"


def distributed_table(name: str, *, cluster: str, database: str, key: str) -> ClusterStatement:
    """The Distributed table ``name`` over ``<name>_local``, its rows sharded by ``key``."""
    local = local_table(name)
    return ClusterStatement(f"CREATE TABLE IF NOT EXISTS {database}.{name} ON CLUSTER {cluster} AS {database}.{local} "
                            f"ENGINE = Distributed({cluster}, {database}, {local}, {key})", "cluster")


def distributed_key(engine_full: str) -> str:
    """The sharding key of a Distributed table's ``system.tables.engine_full``.

    >>> distributed_key("Distributed(c, db, t_local, cityHash64(model, event_id))")
    'cityHash64(model, event_id)'
    """
    match = re.match(r"^\s*Distributed\(([^,]+),([^,]+),([^,]+),(.*)\)\s*$", engine_full, re.S)
    if match is None:
        raise SchemaError(f"not a sharded Distributed table: {engine_full[:200]}")
    return match.group(4).strip()

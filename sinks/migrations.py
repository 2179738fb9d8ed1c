"""Versioned schema migrations: ``sinks/schema/NNNN_name.sql``, recorded in ``schema_migrations``.

On a store with a ``cluster`` every statement is rewritten for it (replicated local tables under
Distributed tables of the same names): :mod:`driftline.sinks.cluster`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from .cluster import cluster_statements, distributed_key, distributed_table
from .errors import SchemaError
from .store import Store

__all__ = ["Migration", "known_migrations", "migrate", "pending_migrations"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def known_migrations() -> tuple[Migration, ...]:
    found = []
    for entry in resources.files("driftline.sinks").joinpath("schema").iterdir():
        match = _NAME.match(entry.name)
        if match:
            text = "\n".join(line for line in entry.read_text().splitlines() if not line.strip().startswith("--"))
            statements = tuple(s.strip() for s in text.split(";") if s.strip())
            found.append(Migration(int(match.group(1)), match.group(2), statements))
    return tuple(sorted(found, key=lambda m: m.version))


_MIGRATIONS_TABLE = ("CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, "
                     "applied_at DateTime DEFAULT now()) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version")


def _prepare(store: Store) -> set[int]:
    cluster = getattr(store, "cluster", None)
    store.execute(f"CREATE DATABASE IF NOT EXISTS {store.database}" + (f" ON CLUSTER {cluster}" if cluster else ""))
    store.use_database()
    _run(store, _MIGRATIONS_TABLE)
    return {row[0] for row in store.execute("SELECT version FROM schema_migrations FINAL")}


def pending_migrations(store: Store) -> list[Migration]:
    applied = _prepare(store)
    known = known_migrations()
    newest = max((m.version for m in known), default=0)
    if applied and max(applied) > newest:
        raise SchemaError(
            f"the store's schema is at version {max(applied)} but this driftline knows up to {newest}: "
            "upgrade driftline before running it against this database"
        )
    return [m for m in known if m.version not in applied]


def migrate(store: Store) -> list[Migration]:
    """Apply pending migrations in order; returns what was applied."""
    applied = []
    for migration in pending_migrations(store):
        for statement in migration.statements:
            _run(store, statement)
        store.insert("schema_migrations", {"version": [migration.version], "name": [migration.name]})
        applied.append(migration)
    return applied


def _run(store: Store, statement: str) -> None:
    """One statement of a migration, on the store's server or, rewritten, on its cluster."""
    cluster = getattr(store, "cluster", None)
    if not cluster:
        store.execute(statement)
        return
    for step in cluster_statements(statement, cluster=cluster, database=store.database):
        if step.scope == "shard":
            store.on_each_shard(step.sql)
        elif step.scope == "redistribute":
            rows = store.execute("SELECT engine_full FROM system.tables WHERE database = %(db)s AND name = %(t)s",
                                 {"db": store.database, "t": step.sql})
            if not rows:
                raise SchemaError(f"{store.database}.{step.sql}: no Distributed table to create again")
            store.execute(f"DROP TABLE IF EXISTS {store.database}.{step.sql} ON CLUSTER {cluster}")
            store.execute(distributed_table(step.sql, cluster=cluster, database=store.database,
                                            key=distributed_key(rows[0][0])).sql)
        else:
            store.execute(step.sql)

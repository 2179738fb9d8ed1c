"""Versioned schema migrations: ``sinks/schema/NNNN_name.sql``, recorded in ``schema_migrations``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

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


def _prepare(store: Store) -> set[int]:
    store.execute(f"CREATE DATABASE IF NOT EXISTS {store.database}")
    store.use_database()
    store.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime DEFAULT now())"
        " ENGINE = ReplacingMergeTree(applied_at) ORDER BY version"
    )
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
            store.execute(statement)
        store.insert("schema_migrations", {"version": [migration.version], "name": [migration.name]})
        applied.append(migration)
    return applied

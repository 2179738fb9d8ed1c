"""Retention on both kinds of server: partition drops on ClickHouse 18.16, TTL on current ClickHouse (chdb)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from driftline.settings import RetentionPolicy, parse_retention
from driftline.sinks.migrations import migrate
from driftline.sinks.retention import TABLE_TIME_COLUMNS, apply_retention
from driftline.stream.wiring import build_store

from tests.integration.samples import insert_samples

pytestmark = pytest.mark.integration

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def server_store(clickhouse):
    name = f"retention_{uuid.uuid4().hex[:10]}"
    store = build_store(clickhouse.url.rsplit("/", 1)[0] + f"/{name}")
    migrate(store)
    yield store
    store.execute(f"DROP DATABASE IF EXISTS {name}")
    store.close()


def months(store, table: str) -> list[str]:
    return [p for (p,) in store.execute(
        f"SELECT DISTINCT partition_id FROM system.parts WHERE database = '{store.database}' "
        f"AND table = '{table}' AND active ORDER BY partition_id")]


def test_old_server_drops_whole_expired_months(server_store):
    assert server_store.server_version()[:2] < (19, 6)
    for when in (NOW - timedelta(days=400), NOW - timedelta(days=60), NOW - timedelta(days=31), NOW):
        insert_samples(server_store, when)
    tables = ("predictions", "feedback", "drift_results", "alerts", "predictions_hourly", "drift_daily")
    for table in tables:
        assert months(server_store, table) == ["202305", "202404", "202405", "202406"], table

    actions = apply_retention(server_store, RetentionPolicy(), NOW)

    assert {a.kind for a in actions} == {"drop_partition"}
    # Raw events: cutoff 2024-05-16; May 2024 still holds young rows, so only April and older go.
    for table in ("predictions", "feedback"):
        assert months(server_store, table) == ["202405", "202406"], table
    # Results and rollups: cutoff 2023-06-16; May 2023 goes.
    for table in ("drift_results", "alerts", "predictions_hourly", "drift_daily"):
        assert months(server_store, table) == ["202404", "202405", "202406"], table
    assert apply_retention(server_store, RetentionPolicy(), NOW) == []  # idempotent


def test_old_server_keeps_tables_with_zero_days(server_store):
    insert_samples(server_store, NOW - timedelta(days=400))
    actions = apply_retention(server_store, RetentionPolicy(aggregates_days=0, raw_events_days=0), NOW)
    assert actions == []


def test_current_server_sets_ttl_once(tmp_path):
    store = build_store(f"chdb://{tmp_path}/store")
    try:
        migrate(store)
        policy = parse_retention({"raw_events": "14d", "tables": {"alerts": "730d"}})
        actions = apply_retention(store, policy, NOW, dry_run=True)
        assert {a.table for a in actions} == set(TABLE_TIME_COLUMNS)
        assert {a.kind for a in actions} == {"ttl"}
        assert "MODIFY TTL ts + toIntervalDay(14)" in next(a.sql for a in actions if a.table == "predictions")
        assert apply_retention(store, policy, NOW) == actions
        (engine,), = store.execute("SELECT engine_full FROM system.tables WHERE database = 'driftline' "
                                   "AND name = 'alerts'")
        assert "TTL window_start + toIntervalDay(730)" in engine
        assert apply_retention(store, policy, NOW) == []  # already set: no rewrite of the parts
        changed = apply_retention(store, RetentionPolicy(raw_events_days=7), NOW)
        assert {a.table for a in changed} == {"predictions", "feedback", "dead_letters", "alert_deliveries", "alerts"}
        removed = apply_retention(store, RetentionPolicy(raw_events_days=0, aggregates_days=0), NOW)
        assert all(a.sql.endswith("REMOVE TTL") for a in removed) and len(removed) == len(TABLE_TIME_COLUMNS)
    finally:
        store.close()


def test_retention_command_dry_run(tmp_path):
    from click.testing import CliRunner
    from driftline.cli.ops import retention_command

    config = tmp_path / "driftline.yaml"
    config.write_text(f"""
clickhouse: {{url: "chdb://{tmp_path}/store"}}
models:
  - {{name: credit, task: binary_classification, features: {{income: numeric}}}}
""")
    store = build_store(f"chdb://{tmp_path}/store")
    migrate(store)
    store.close()
    result = CliRunner().invoke(retention_command, ["--config", str(config), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would run: ALTER TABLE driftline.predictions MODIFY TTL ts + toIntervalDay(30)" in result.output
    assert result.output.strip().endswith("raw events 30d, aggregates 365d")

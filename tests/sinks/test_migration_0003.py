"""Migration 0003 on a store at version 2 with rows in it, on chdb and on the ClickHouse 18.16 server:
results keyed by partition (never replaced by another partition's), the dead-letter marks, the
checkpoints' models; the rollup views still fed."""

from __future__ import annotations

import uuid

import pytest
from driftline.detectors import DriftResult, MetricValue, WindowReport
from driftline.sinks.migrations import known_migrations, migrate
from driftline.sinks.writer import EventWriter
from driftline.stream.wiring import build_store

WINDOW = 1_700_000_000  # 2023-11-14 22:13:20


def at_version_2(store) -> None:
    """The schema as the previous release left it."""
    store.execute(f"CREATE DATABASE IF NOT EXISTS {store.database}")
    store.use_database()
    migrate_to = [m for m in known_migrations() if m.version <= 2]
    store.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime "
                  "DEFAULT now()) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version")
    for migration in migrate_to:
        for statement in migration.statements:
            store.execute(statement)
        store.insert("schema_migrations", {"version": [migration.version], "name": [migration.name]})


def report(accuracy: float) -> WindowReport:
    return WindowReport(
        model="credit", version="v1", window_start_ms=WINDOW * 1000, window_end_ms=(WINDOW + 60) * 1000,
        n_predictions=100, n_labels=100, metrics=(MetricValue("accuracy", accuracy, 100),),
        drift=(DriftResult(feature="income", test="psi", statistic=accuracy, p_value=None, threshold=0.2,
                           drifted=accuracy > 0.2),))


def upgrade(store) -> None:
    at_version_2(store)
    store.insert("window_metrics", {"model": ["credit"], "version": ["v1"], "window_start": [WINDOW],
                                    "window_end": [WINDOW + 60], "metric": ["accuracy"], "value": [0.5], "n": [10],
                                    "computed_at": [WINDOW + 60]})
    store.insert("dead_letters", {"topic": ["p"], "kafka_partition": [0], "kafka_offset": [1], "reason": ["schema"],
                                  "detail": ["x"], "payload": ["{"], "payload_bytes": [1], "ts": [WINDOW]})
    assert [m.version for m in migrate(store)][:1] == [3]  # later migrations may follow

    # Rows from before read partition 0 and no marks.
    assert store.execute("SELECT kafka_partition, value FROM window_metrics FINAL") == [(0, 0.5)]
    assert store.execute("SELECT truncated, store_table FROM dead_letters") == [(0, "")]

    # Two partitions computing the same window (a model keyed inconsistently): both kept.
    writer = EventWriter(store, clock=lambda: float(WINDOW + 100))
    writer.add_report(report(0.9), partition=1)
    writer.add_report(report(0.7), partition=2)
    writer.add_report(report(0.8), partition=0)  # the same partition again: replaces the old row
    writer.flush()
    assert sorted(store.execute("SELECT kafka_partition, value FROM window_metrics FINAL")) == [
        (0, 0.8), (1, 0.9), (2, 0.7)]
    assert sorted(store.execute("SELECT kafka_partition, statistic FROM drift_results FINAL")) == [
        (0, 0.8), (1, 0.9), (2, 0.7)]
    # The rollup view is still fed (it sees inserted blocks: the pre-migration row and three new ones).
    (windows,) = store.execute("SELECT sum(windows) FROM window_metrics_hourly WHERE metric = 'accuracy'")[0]
    assert windows == 4

    store.insert("dead_letters", {"topic": [""], "kafka_partition": [3], "kafka_offset": [0],
                                  "reason": ["store_rejected"], "detail": ["window_metrics row refused"],
                                  "payload": ["{}"], "payload_bytes": [2], "ts": [WINDOW], "truncated": [1],
                                  "store_table": ["window_metrics"]})
    assert store.execute("SELECT truncated, store_table FROM dead_letters WHERE reason = 'store_rejected'") == [
        (1, "window_metrics")]
    store.insert("checkpoints", {"group_id": ["g"], "kafka_partition": [0], "seq": [1], "offsets": ["{}"],
                                 "state": ["{}"]})
    assert store.execute("SELECT models FROM checkpoints") == [("[]",)]


def test_the_upgrade_on_the_embedded_store(tmp_path):
    store = build_store(f"chdb://{tmp_path}/store")
    try:
        upgrade(store)
    finally:
        store.close()


@pytest.mark.integration
def test_the_upgrade_on_a_clickhouse_server(clickhouse):
    store = build_store(clickhouse.url.rsplit("/", 1)[0] + f"/upgrade_{uuid.uuid4().hex[:8]}")
    try:
        upgrade(store)
    finally:
        store.close()

"""The schema, rows, checkpoints, label-join rebuild and retention on a real ClickHouse cluster:
2 shards x 2 replicas of ClickHouse 18.16 and ZooKeeper (``clickhouse.cluster``)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

import pytest
from driftline.settings import RetentionPolicy
from driftline.sinks import migrations
from driftline.sinks.migrations import known_migrations, migrate
from driftline.sinks.retention import apply_retention
from driftline.stream.wiring import build_store

from tests.integration.samples import insert_samples
from tests.integration.test_join_state import check_pending_entries
from tests.integration.test_queries import QUERIES
from tests.sinks.test_checkpoint_store import round_trip
from tests.stream.test_checkpoint_ownership import round_trip as ownership_round_trip

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)


def cluster_store(cluster, name: str, *, node=(1, 1)):
    return build_store(cluster.node(*node).url.rsplit("/", 1)[0] + f"/{name}", cluster=cluster.cluster)


def local_rows(cluster, database: str, table: str) -> dict[tuple[int, int], int]:
    """Rows of ``<table>_local`` on every server, once each replica has fetched what its shard holds."""
    counts = {}
    for key, node in cluster.nodes.items():
        client = node.client(database=database)
        client.execute(f"SYSTEM SYNC REPLICA {table}_local")
        counts[key] = client.execute(f"SELECT count() FROM {table}_local")[0][0]
    return counts


@pytest.fixture(scope="module")
def samples(clickhouse_cluster, clickhouse):
    """The sample rows on the cluster and on the single server, for comparing what reads return."""
    name = f"cl_{uuid.uuid4().hex[:8]}"
    on_cluster = cluster_store(clickhouse_cluster, name, node=(2, 2))
    single = build_store(clickhouse.url.rsplit("/", 1)[0] + f"/{name}")
    for store in (on_cluster, single):
        migrate(store)
        insert_samples(store, NOW)
    yield name, on_cluster, single
    on_cluster.close()
    single.close()


def test_every_server_has_replicated_tables_under_distributed_ones(clickhouse_cluster, samples):
    name, store, _ = samples
    assert migrate(store) == []  # applied once, recorded once
    assert [v for (v,) in store.execute("SELECT version FROM schema_migrations FINAL ORDER BY version")] == \
        [m.version for m in known_migrations()]
    for node in clickhouse_cluster.nodes.values():
        engines = dict(node.client(database=name).execute(
            "SELECT name, engine FROM system.tables WHERE database = %(db)s", {"db": name}))
        assert engines["predictions"] == "Distributed"
        assert engines["predictions_local"] == "ReplicatedReplacingMergeTree"
        assert engines["predictions_hourly_local"] == "ReplicatedSummingMergeTree"
        assert engines["predictions_hourly_mv"] == "MaterializedView"
        assert engines["checkpoints_local"] == "ReplicatedReplacingMergeTree"


def test_rows_are_sharded_and_every_replica_holds_its_shard(clickhouse_cluster, samples):
    name, store, _ = samples
    counts = local_rows(clickhouse_cluster, name, "predictions")
    assert counts[(1, 1)] == counts[(1, 2)] > 0
    assert counts[(2, 1)] == counts[(2, 2)] > 0
    total = store.execute("SELECT count() FROM predictions FINAL")[0][0]
    assert counts[(1, 1)] + counts[(2, 1)] == total
    # The rollup is fed on the replica that took the insert, and replicated from there.
    rollup = local_rows(clickhouse_cluster, name, "predictions_hourly")
    assert rollup[(1, 1)] == rollup[(1, 2)] and rollup[(2, 1)] == rollup[(2, 2)]
    assert store.execute("SELECT sum(predictions) FROM predictions_hourly")[0][0] == total


def _normal(rows: list[tuple]) -> list[tuple]:
    def value(v):
        if isinstance(v, float):
            return "nan" if math.isnan(v) else round(v, 6)
        return v
    return sorted((tuple(value(v) for v in row) for row in rows), key=repr)


def _same_rows(got: list[tuple], want: list[tuple]) -> bool:
    """Equal rows, floats within 1e-4: a query that rounds to 4 decimals sums the shards' partial sums
    in another order than one server does, so a value on a rounding boundary may round either way."""
    def key(row):
        return repr(tuple(None if isinstance(v, float) else v for v in row))
    got, want = sorted(_normal(got), key=key), sorted(_normal(want), key=key)
    return len(got) == len(want) and all(
        len(a) == len(b) and all(
            (isinstance(x, float) and isinstance(y, float) and abs(x - y) <= 1.01e-4) or x == y
            for x, y in zip(a, b, strict=True))
        for a, b in zip(got, want, strict=True))


@pytest.mark.parametrize(("heading", "sql"), QUERIES, ids=[str(i) for i in range(len(QUERIES))])
def test_documented_queries_give_the_single_server_rows(samples, heading, sql):
    _, on_cluster, single = samples
    rows = on_cluster.execute(sql)
    assert rows, heading
    expected = single.execute(sql)
    assert _same_rows(rows, expected), (heading, _normal(rows), _normal(expected))


def test_checkpoints_round_trip(clickhouse_cluster):
    store = cluster_store(clickhouse_cluster, f"ck_{uuid.uuid4().hex[:8]}")
    try:
        round_trip(store)
    finally:
        store.close()


def test_checkpoint_ownership_orders_owners(clickhouse_cluster):
    store = cluster_store(clickhouse_cluster, f"own_{uuid.uuid4().hex[:8]}", node=(2, 1))
    try:
        ownership_round_trip(store)
    finally:
        store.close()


def test_label_join_rebuild(clickhouse_cluster):
    store = cluster_store(clickhouse_cluster, f"join_{uuid.uuid4().hex[:8]}")
    try:
        check_pending_entries(store)
    finally:
        store.close()


def test_migrations_upgrade_a_cluster_from_version_2(clickhouse_cluster, monkeypatch):
    """0003 alters tables (a column, a longer sorting key): on one replica per shard, replicated."""
    name = f"up_{uuid.uuid4().hex[:8]}"
    store = cluster_store(clickhouse_cluster, name)
    every = known_migrations()
    monkeypatch.setattr(migrations, "known_migrations", lambda: tuple(m for m in every if m.version <= 2))
    assert [m.version for m in migrate(store)] == [1, 2]
    store.insert("window_metrics", {"model": ["m"], "version": ["v"], "window_start": [1_700_000_000],
                                    "window_end": [1_700_000_010], "metric": ["count"], "value": [1.0], "n": [1]})
    monkeypatch.setattr(migrations, "known_migrations", lambda: every)
    assert 3 in [m.version for m in migrate(store)]
    for node in clickhouse_cluster.nodes.values():
        (key,), = node.client(database=name).execute(
            "SELECT sorting_key FROM system.tables WHERE database = %(db)s AND name = 'window_metrics_local'",
            {"db": name})
        assert key.endswith("kafka_partition")
    store.insert("window_metrics", {"model": ["m"], "version": ["v"], "window_start": [1_700_000_000],
                                    "window_end": [1_700_000_010], "metric": ["count"], "value": [2.0], "n": [2],
                                    "kafka_partition": [3]})
    assert sorted(store.execute("SELECT kafka_partition, value FROM window_metrics FINAL")) == [(0, 1.0), (3, 2.0)]
    store.close()


def test_retention_drops_expired_months_on_every_replica(clickhouse_cluster):
    name = f"ret_{uuid.uuid4().hex[:8]}"
    store = cluster_store(clickhouse_cluster, name)
    migrate(store)
    old, recent = 1_000_000_000, int(NOW.timestamp()) - 3600  # 2001 and an hour ago
    n = 40
    store.insert("feedback", {"event_id": [f"e{i}" for i in range(n)], "model": ["m"] * n,
                              "ts": [old if i % 2 else recent for i in range(n)], "ts_ms": [0] * n,
                              "label": ["1"] * n, "label_num": [1.0] * n, "kafka_partition": [0] * n,
                              "kafka_offset": list(range(n))})
    assert set(local_rows(clickhouse_cluster, name, "feedback").values()) - {0}  # both shards hold rows
    actions = apply_retention(store, RetentionPolicy(), NOW)
    assert {(a.table, a.scope) for a in actions} >= {("feedback", "shard"), ("feedback_hourly", "shard")}
    assert all("_local" in a.sql for a in actions)
    counts = local_rows(clickhouse_cluster, name, "feedback")
    assert sum(counts[(s, 1)] for s in (1, 2)) == n // 2
    assert counts[(1, 1)] == counts[(1, 2)] and counts[(2, 1)] == counts[(2, 2)]
    assert store.execute("SELECT min(ts) FROM feedback")[0][0] > datetime(2020, 1, 1)
    store.close()

"""Migration 0004 on a store at version 3 with rows in it, on chdb and on the ClickHouse 18.16 server:
``predictions.request_id`` (older rows read ''), ``experiment_verdicts`` keyed on the evaluation (a
replay replaces its row), ``model_versions`` (a change made elsewhere is never overwritten by a
worker's row of the state it knew) and the reads the CLI and the status page make."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
from driftline.detectors import ChampionChallenger, ExperimentDesign, ExperimentResult
from driftline.sinks.experiment_rows import VerdictRows
from driftline.sinks.lifecycle import (
    VersionRecord,
    VersionRows,
    set_version_state,
    version_summaries,
)
from driftline.sinks.migrations import known_migrations, migrate
from driftline.sinks.queries import experiment_verdicts
from driftline.stream.wiring import build_store

T = 1_700_000_000  # 2023-11-14 22:13:20


def at_version_3(store) -> None:
    store.execute(f"CREATE DATABASE IF NOT EXISTS {store.database}")
    store.use_database()
    store.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime "
                  "DEFAULT now()) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version")
    for migration in [m for m in known_migrations() if m.version <= 3]:
        for statement in migration.statements:
            store.execute(statement)
        store.insert("schema_migrations", {"version": [migration.version], "name": [migration.name]})


def result(accuracy_b: float) -> ExperimentResult:
    cc = ChampionChallenger(ExperimentDesign(min_sample=50))
    window = cc.new_window(T * 1000, (T + 60) * 1000)
    window.champion.add_labels({"accuracy": np.array([1.0] * 450 + [0.0] * 50)})
    window.challenger.add_labels({"accuracy": (np.arange(200) < 200 * accuracy_b).astype(float)})
    window.champion.add_predictions(np.zeros(500), np.ones(500), np.full(500, 20.0))
    window.challenger.add_predictions(np.zeros(200), np.ones(200), np.full(200, 20.0))
    return ExperimentResult("canary", "credit", "v1", "v2", cc.close(window), "rollback")


def upgrade(store) -> None:
    at_version_3(store)
    store.insert("predictions", {"event_id": ["old"], "model": ["credit"], "version": ["v1"], "ts": [T], "ts_ms": [T * 1000],
                                 "features": ["{}"], "prediction": ["1"], "prediction_num": [float("nan")],
                                 "score": [None], "latency_ms": [None], "variant": [""], "segment": ["{}"],
                                 "kafka_partition": [0], "kafka_offset": [0]})
    assert [m.version for m in migrate(store)][:1] == [4]  # later migrations may follow
    assert store.execute("SELECT event_id, request_id FROM predictions") == [("old", "")]

    # One row per evaluation; the same evaluation computed again (a replay) replaces it.
    store.insert("experiment_verdicts", VerdictRows([(0, result(0.9))], now_s=T + 100).columns())
    store.insert("experiment_verdicts", VerdictRows([(0, result(0.5))], now_s=T + 200).columns())
    (record,) = experiment_verdicts(store, "credit", since_s=T - 60, limit=10)
    assert (record.verdict, record.challenger, record.paired, record.action) == ("rollback", "v2", False, "rollback")
    assert record.upper < 0 and record.n_champion == 500 and record.n_challenger == 200
    checks = json.loads(record.checks)
    assert [c["metric"] for c in checks] == ["prediction_mean", "latency_p95_ms"]
    assert checks[1]["estimate"] == pytest.approx(1.0, rel=0.02) and checks[0]["upper"] is not None
    assert experiment_verdicts(store, "credit", since_s=T + 3600, limit=10) == []  # the range bounds the read

    # The worker's rows of the state it knows; a change made elsewhere; the worker's later row (of the
    # state it knew before reading that change) does not overwrite it.
    worker = [VersionRecord("credit", "v2", "canary", "first seen", "driftline", T * 1000, T * 1000, (T + 30) * 1000)]
    store.insert("model_versions", VersionRows(worker, now_s=T + 40).columns())
    set_version_state(store, "credit", "v2", "rolled_back", reason="router updated", changed_by="cli:ops", now_s=T + 50)
    later = [VersionRecord("credit", "v2", "canary", "first seen", "driftline", T * 1000, T * 1000, (T + 90) * 1000)]
    store.insert("model_versions", VersionRows(later, now_s=T + 95).columns())
    (v2,) = version_summaries(store, ["credit"])
    assert (v2.state, v2.changed_by, v2.reason, v2.changed_at_s) == ("rolled_back", "cli:ops", "router updated", T + 50)
    assert (v2.first_seen_s, v2.last_seen_s) == (T, T + 90)
    assert version_summaries(store, ["other"]) == [] and version_summaries(store, []) == []


def test_the_upgrade_on_the_embedded_store(tmp_path):
    store = build_store(f"chdb://{tmp_path}/store")
    try:
        upgrade(store)
    finally:
        store.close()


@pytest.mark.integration
def test_the_upgrade_on_a_clickhouse_server(clickhouse):
    store = build_store(clickhouse.url.rsplit("/", 1)[0] + f"/upgrade4_{uuid.uuid4().hex[:8]}")
    try:
        upgrade(store)
    finally:
        store.close()

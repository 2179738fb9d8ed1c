"""EmbeddedStore (chdb) against the real schema and migrations.

chdb runs one engine per process bound to one directory, so every test closes
its stores before the next test opens another directory.
"""

from __future__ import annotations

import json
import math
import threading
import time
from datetime import datetime

import numpy as np
import pytest
from driftline.sinks.embedded import embedded_path
from driftline.sinks.errors import StoreError
from driftline.sinks.migrations import known_migrations, migrate
from driftline.stream.wiring import build_store

TS = 1_700_000_000  # 2023-11-14 22:13:20 UTC


@pytest.fixture
def url(tmp_path):
    return f"chdb://{tmp_path}/store"


@pytest.fixture
def store(url):
    s = build_store(url)
    migrate(s)
    yield s
    s.close()


def predictions(n: int, *, start: int = 0) -> dict[str, list]:
    return {
        "event_id": [f"ev-{i}" for i in range(start, start + n)],
        "model": ["churn"] * n,
        "version": ["v1"] * n,
        "ts": [TS + i for i in range(n)],
        "ts_ms": [(TS + i) * 1000 + 7 for i in range(n)],
        "features": [json.dumps({"x": i * 0.5, "city": "Zürich"}) for i in range(n)],
        "prediction": ["yes" if i % 2 else "no" for i in range(n)],
        "prediction_num": [float(i % 2) for i in range(n)],
        "score": [None if i % 10 == 0 else i / n for i in range(n)],
        "latency_ms": [3.5] * n,
        "variant": ["a"] * n,
        "segment": ["eu"] * n,
        "kafka_partition": [i % 3 for i in range(n)],
        "kafka_offset": [2**40 + i for i in range(n)],
    }


def test_migrations_apply_once(url):
    s = build_store(url)
    try:
        assert [m.version for m in migrate(s)] == [m.version for m in known_migrations()]
        assert migrate(s) == []
        tables = {row[0] for row in s.execute("SHOW TABLES")}
        assert {"predictions", "feedback", "alerts", "checkpoints", "schema_migrations"} <= tables
        assert s.execute("SELECT currentDatabase()") == [("driftline",)]
    finally:
        s.close()


def test_round_trip_of_every_schema_type(store):
    store.insert("predictions", predictions(3))
    rows = store.execute(
        "SELECT event_id, ts, ts_ms, features, prediction_num, score, kafka_partition, kafka_offset"
        " FROM predictions FINAL ORDER BY event_id"
    )
    assert rows[0] == ("ev-0", datetime(2023, 11, 14, 22, 13, 20), TS * 1000 + 7,
                       json.dumps({"x": 0.0, "city": "Zürich"}), 0.0, None, 0, 2**40)
    assert rows[2][5] == pytest.approx(2 / 3)
    assert all(type(v) is t for v, t in zip(rows[1], (str, datetime, int, str, float, float, int, int), strict=True))

    store.insert("drift_results", {
        "model": ["churn"] * 2, "version": ["v1"] * 2, "window_start": [TS] * 2, "window_end": [TS + 60] * 2,
        "feature": ["x", "y"], "test": ["ks", "psi"], "statistic": [float("nan"), 0.25],
        "p_value": [None, float("nan")], "threshold": [0.05, 0.2], "drifted": [0, 1], "raw_drifted": [1, 1],
        "corrected": ["bh", ""], "computed_at": [TS + 61] * 2,
    })
    (nan_row, other), = [store.execute(
        "SELECT statistic, p_value, drifted, window_end, computed_at FROM drift_results FINAL ORDER BY feature")]
    assert math.isnan(nan_row[0]) and nan_row[1] is None and nan_row[2] == 0
    assert other[0] == 0.25 and math.isnan(other[1]) and other[2] == 1
    assert other[3:] == (datetime(2023, 11, 14, 22, 14, 20), datetime(2023, 11, 14, 22, 14, 21))

    store.insert("alert_deliveries", {"alert_id": ["a"], "dedup_key": ["k"], "channel": ["slack"],
                                      "status": ["failed"], "attempts": [2**32 - 1],
                                      "last_status_code": [-1], "error": ["boom"], "ts": [TS]})
    assert store.execute("SELECT attempts, last_status_code FROM alert_deliveries") == [(2**32 - 1, -1)]


def test_numpy_columns_and_defaults(store):
    n = 4
    store.insert("window_metrics", {
        "model": np.array(["m"] * n), "version": ["v1"] * n,
        "window_start": np.arange(TS, TS + n, dtype=np.int64), "window_end": np.arange(TS, TS + n) + 60,
        "metric": ["auc", "acc", "f1", "brier"], "value": np.array([0.5, np.nan, 1.0, 0.0]),
        "n": np.array([10, 20, 30, 2**63], dtype=np.uint64),
    })
    rows = store.execute("SELECT metric, value, n, computed_at > toDateTime(0) FROM window_metrics ORDER BY window_start")
    assert [r[0] for r in rows] == ["auc", "acc", "f1", "brier"]
    assert math.isnan(rows[1][1]) and rows[3][2] == 2**63 and all(r[3] == 1 for r in rows)


def test_final_dedups_a_redelivered_batch(store):
    batch = predictions(500)
    store.insert("predictions", batch)
    store.insert("predictions", batch)
    assert store.execute("SELECT count() FROM predictions") == [(1000,)]
    assert store.execute("SELECT count() FROM predictions FINAL") == [(500,)]


def test_params_are_escaped(store):
    nasty = "it's a \\ back'slash\nnew line\t%s %(x)s \0 end"
    store.insert("checkpoints", {"group_id": [nasty], "kafka_partition": [1], "seq": [1],
                                 "offsets": ["{}"], "state": ["s"]})
    assert store.execute("SELECT group_id FROM checkpoints WHERE group_id = %(g)s", {"g": nasty}) == [(nasty,)]
    assert store.execute("SELECT %(s)s, %(n)s, %(i)s, %(f)s, %(l)s, toDateTime(%(d)s)",
                         {"s": nasty, "n": None, "i": -3, "f": 0.5, "l": ["a'b", "c"],
                          "d": datetime(2024, 1, 2, 3, 4, 5)}) == [
        (nasty, None, -3, 0.5, ["a'b", "c"], datetime(2024, 1, 2, 3, 4, 5))]

    injection = "x' OR 1=1 --"
    assert store.execute("SELECT count() FROM checkpoints WHERE group_id = %(g)s", {"g": injection}) == [(0,)]
    drop = "'); DROP TABLE checkpoints; --"
    assert store.execute("SELECT %(g)s", {"g": drop}) == [(drop,)]
    assert store.execute("SELECT count() FROM checkpoints") == [(1,)]


def test_data_survives_close_and_reopen(url):
    first = build_store(url)
    migrate(first)
    first.insert("predictions", predictions(10))
    first.close()
    with pytest.raises(StoreError, match="closed"):
        first.execute("SELECT 1")

    again = build_store(url)
    try:
        assert migrate(again) == []
        assert again.execute("SELECT count() FROM predictions FINAL") == [(10,)]
    finally:
        again.close()


def test_errors_are_store_errors_with_the_cause_chained(store):
    with pytest.raises(StoreError) as caught:
        store.execute("SELECT * FROM no_such_table")
    assert caught.value.__cause__ is not None and "no_such_table" in str(caught.value)
    with pytest.raises(StoreError):
        store.insert("predictions", {"event_id": ["a"], "kafka_offset": [-1]})  # UInt64
    with pytest.raises(StoreError):
        store.insert("predictions", {"event_id": ["a", "b"], "model": ["m"]})  # ragged
    assert store.execute("SELECT count() FROM predictions") == [(0,)]  # session still usable


def test_url_forms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert embedded_path("chdb://./.driftline/store") == (str(tmp_path / ".driftline/store"), "driftline")
    assert embedded_path("chdb:///abs/dir?database=demo") == ("/abs/dir", "demo")
    with pytest.raises(ValueError, match="database"):
        embedded_path("chdb:///abs/dir?database=x;DROP")
    s = build_store("chdb://./.driftline/store?database=demo")
    try:
        migrate(s)
        assert (tmp_path / ".driftline/store").is_dir()
        assert s.execute("SELECT currentDatabase()") == [("demo",)]
        assert s.server_version()[0] >= 23
    finally:
        s.close()


def test_one_directory_per_process(url, tmp_path):
    first = build_store(url)
    second = build_store(url.replace("/store", "/./store"))  # same dir, shares the engine
    try:
        migrate(first)
        second.use_database()
        first.insert("predictions", predictions(2))
        assert second.execute("SELECT count() FROM predictions") == [(2,)]
        with pytest.raises(StoreError, match="one data directory per process"):
            build_store(f"chdb://{tmp_path}/elsewhere")
    finally:
        first.close()
        second.close()


def test_worker_and_status_page_threads(store):
    errors: list[Exception] = []

    def read():
        try:
            for _ in range(50):
                store.execute("SELECT count() FROM predictions FINAL")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    for k in range(10):
        store.insert("predictions", predictions(100, start=k * 100))
    reader.join()
    assert errors == []
    assert store.execute("SELECT count() FROM predictions FINAL") == [(1000,)]


def test_insert_speed_of_50k_predictions(store, capsys):
    batch = predictions(50_000)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        store.insert("predictions", batch)
        timings.append(time.perf_counter() - started)
    assert store.execute("SELECT count() FROM predictions FINAL") == [(50_000,)]
    with capsys.disabled():
        print(f"\nEmbeddedStore.insert 50k predictions: best {min(timings) * 1000:.0f} ms, "
              f"{50_000 / min(timings):,.0f} rows/s (runs: {', '.join(f'{t * 1000:.0f}' for t in timings)} ms)")

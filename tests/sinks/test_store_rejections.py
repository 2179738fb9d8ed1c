"""Rows a store refuses never stall the writer and are never lost silently.

Classification (which errors are the data's fault), the isolation search with a fake store
at the edge, then both real stores: the embedded engine (chdb), whose streaming insert used
to report 150 months as written while it stored nothing, and the ClickHouse 18.16 server,
which refuses a DateTime before 1970 or after 2106.
"""

from __future__ import annotations

import struct
import uuid

import pytest
from driftline.sinks.errors import StoreError, StoreRejected
from driftline.sinks.isolation import insert_isolating, partition_month, rejected_letter
from driftline.sinks.migrations import migrate
from driftline.sinks.store_errors import REJECTED_CODES, insert_error
from driftline.sinks.writer import EventWriter
from driftline.stream.wiring import build_store

BASE = 1_500_000_000  # 2017-07-14
MONTH = 31 * 86_400


class ServerException(Exception):
    """clickhouse-driver's ServerException, as far as classification reads it."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


@pytest.mark.parametrize("code", sorted(REJECTED_CODES))
def test_a_code_that_refuses_the_data_is_not_retriable(code):
    error = insert_error(ServerException(f"Code: {code}.\nDB::Exception: bad value. Stack trace:\n0. x", code),
                         table="predictions", store="ClickHouse")
    assert isinstance(error, StoreRejected) and not error.retriable and error.code == code
    assert "Stack trace" not in str(error) and "bad value" in str(error)


@pytest.mark.parametrize("exc", [
    ConnectionResetError("Connection reset by peer"), EOFError("Unexpected EOF while reading bytes"),
    TimeoutError("timed out"), ServerException("Code: 241. Memory limit (total) exceeded", 241),
    ServerException("Code: 252. Too many parts (300). Merges are processing significantly slower than inserts", 252),
    ServerException("Code: 209. Timeout exceeded while reading from socket", 209),
    RuntimeError("Code: 60. DB::Exception: Table driftline.predictions doesn't exist"),
])
def test_an_error_that_passes_is_retriable(exc):
    error = insert_error(exc, table="predictions", store="chdb")
    assert type(error) is StoreError and error.retriable


@pytest.mark.parametrize("exc", [ValueError("year 0 is out of range"), OverflowError("int too big to convert"),
                                 struct.error("'I' format requires 0 <= number <= 4294967295"),
                                 TypeError("an integer is required")])
def test_a_value_the_client_cannot_encode_is_refused(exc):
    error = insert_error(exc, table="feedback", store="ClickHouse")
    assert isinstance(error, StoreRejected) and error.code is None and not error.too_many_partitions


def test_too_many_partitions_is_the_batchs_fault():
    error = insert_error(RuntimeError("Code: 252. DB::Exception: Too many partitions for single INSERT block "
                                      "(more than 100)."), table="predictions", store="chdb")
    assert isinstance(error, StoreRejected) and error.too_many_partitions and error.code == 252


class PickyStore:
    """Refuses a batch holding a negative ``ts``, or more than ``max_months`` months; counts inserts."""

    def __init__(self, max_months: int = 100, fail_first: int = 0):
        self.max_months, self.fail_first = max_months, fail_first
        self.stored: list[int] = []
        self.inserts = 0

    def insert(self, table, columns):
        self.inserts += 1
        if self.fail_first:
            self.fail_first -= 1
            raise StoreError("server went away")
        if len({partition_month(t) for t in columns["ts"]}) > self.max_months:
            raise StoreRejected("Code: 252. Too many partitions for single INSERT block", code=252,
                                too_many_partitions=True)
        if any(t < 0 for t in columns["ts"]):
            raise StoreRejected("Code: 321. Value out of range", code=321)
        self.stored += columns["ts"]


def test_bisection_finds_exactly_the_refused_rows():
    ts = [BASE + i for i in range(1000)]
    bad = {17, 500, 999}
    for i in bad:
        ts[i] = -i
    store = PickyStore()
    rejected = insert_isolating(store.insert, "predictions", {"ts": ts, "n": list(range(1000))})
    assert sorted(r.row["n"] for r in rejected) == sorted(bad)
    assert sorted(store.stored) == sorted(t for i, t in enumerate(ts) if i not in bad)
    assert all(r.code == 321 and r.table == "predictions" for r in rejected)
    assert store.inserts < 3 * 2 * 10 + 1  # ~2k·log2(n/k)


def test_a_batch_spanning_150_months_is_split_by_month_and_stored_whole():
    ts = [BASE + i * MONTH for i in range(150)] * 2
    store = PickyStore(max_months=100)
    assert insert_isolating(store.insert, "predictions", {"ts": ts}) == []
    assert sorted(store.stored) == sorted(ts) and store.inserts == 3  # refused once, then two halves of 75 months


def test_the_work_is_bounded():
    ts = [-1 - i if i % 2 else BASE + i for i in range(4000)]  # every other row is refused
    store = PickyStore()
    rejected = insert_isolating(store.insert, "feedback", {"ts": ts}, max_inserts=50)
    assert store.inserts <= 2 * 50
    assert {r.row["ts"] for r in rejected} >= {t for t in ts if t < 0}  # every bad row, some good ones with them
    assert len(rejected) + len(store.stored) == len(ts)


def test_a_retriable_error_stops_the_search_and_propagates():
    with pytest.raises(StoreError) as info:
        insert_isolating(PickyStore(fail_first=1).insert, "predictions", {"ts": [BASE]})
    assert info.value.retriable


def test_a_refused_result_row_becomes_a_dead_letter_naming_its_table_and_key():
    store = PickyStore()
    row = {"model": "credit", "version": "v1", "metric": "accuracy", "window_start": -5, "ts": -5,
           "kafka_partition": 3, "value": float("nan")}
    (rejected,) = insert_isolating(store.insert, "window_metrics", {k: [v] for k, v in row.items()})
    letter = rejected_letter(rejected, topics={"predictions": "p", "feedback": "f"})
    assert (letter.topic, letter.partition, letter.offset, letter.reason, letter.table) == (
        "", 3, 0, "store_rejected", "window_metrics")
    assert letter.detail.startswith("window_metrics row model='credit' version='v1' metric='accuracy' "
                                    "window_start=-5 kafka_partition=3 refused: Code: 321")
    assert b'"value": "nan"' in letter.payload  # strict JSON


def predictions(ts: list[int], start: int = 0) -> dict[str, list]:
    n = len(ts)
    return {
        "event_id": [f"ev-{start + i}" for i in range(n)], "model": ["m"] * n, "version": ["v1"] * n, "ts": ts,
        "ts_ms": [t * 1000 for t in ts], "features": ["{}"] * n, "prediction": ["1"] * n,
        "prediction_num": [1.0] * n, "score": [None] * n, "latency_ms": [None] * n, "variant": [""] * n,
        "segment": ["{}"] * n, "kafka_partition": [0] * n, "kafka_offset": list(range(start, start + n)),
    }


def stored(store) -> int:
    return store.execute("SELECT count() FROM predictions FINAL")[0][0]


def test_the_embedded_store_reports_a_batch_it_refuses(tmp_path):
    """chdb's streaming insert said 150 rows were written and stored none: now the insert raises, and the
    writer stores all 150 in smaller inserts."""
    store = build_store(f"chdb://{tmp_path}/store")
    try:
        migrate(store)
        months = [BASE + i * MONTH for i in range(150)]
        with pytest.raises(StoreRejected) as info:
            store.insert("predictions", predictions(months))
        assert info.value.too_many_partitions and stored(store) == 0  # refused, and said so

        writer = EventWriter(store, clock=lambda: 0.0)
        writer.add_columns("predictions", predictions(months))
        assert writer.flush() == 150 and writer.take_rejected() == []
        assert stored(store) == 150
        assert store.execute("SELECT uniqExact(toYYYYMM(ts)) FROM predictions")[0][0] == 150

        # A value the engine's column cannot hold (UInt64 offset of -1): refused alone, the rest stored.
        bad = predictions([BASE, BASE + 1, BASE + 2], start=1000)
        bad["kafka_offset"][1] = -1
        writer.add_columns("predictions", bad)
        assert writer.flush() == 2
        (rejected,) = writer.take_rejected()
        assert rejected.row["event_id"] == "ev-1001" and "chdb cannot take the rows for predictions" in rejected.message
        assert stored(store) == 152
    finally:
        store.close()


@pytest.mark.integration
def test_the_clickhouse_server_reports_rows_it_refuses(clickhouse):
    store = build_store(clickhouse.url.rsplit("/", 1)[0] + f"/rejections_{uuid.uuid4().hex[:8]}")
    try:
        migrate(store)
        # 0001-01-01 and 9999-12-31: valid RFC 3339 event times a DateTime cannot hold.
        ts = [BASE, -62_135_596_800, BASE + 1, 253_402_300_799, BASE + 2]
        with pytest.raises(StoreRejected) as info:
            store.insert("predictions", predictions(ts))
        assert info.value.code == 53 and not info.value.retriable and stored(store) == 0

        writer = EventWriter(store, clock=lambda: 0.0)
        writer.add_columns("predictions", predictions(ts))
        assert writer.flush() == 3
        rejected = writer.take_rejected()
        assert sorted(r.row["ts"] for r in rejected) == [-62_135_596_800, 253_402_300_799]
        assert all("Code: 53" in r.message for r in rejected)
        assert stored(store) == 3

        # 18.16 has no per-insert partition limit: 150 months in one insert are simply stored.
        store.insert("predictions", predictions([BASE + i * MONTH for i in range(150)], start=100))
        assert stored(store) == 153
    finally:
        store.close()

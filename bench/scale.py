"""Two worker processes in one consumer group vs one worker: same results, combined throughput.

Both children (``bench.child``) are started together on the data set the
throughput section produced, with one group id and one ClickHouse database;
range assignment gives each two of the four partitions (the first to join may
briefly own all four and hand two over at the rebalance, checkpointing them).
Done is when the database holds every prediction and feedback row and every
expected drift result; the clock starts at the first batch either child read.
The ``drift_results`` and ``window_metrics`` tables (``FINAL``, without
``computed_at``) are then compared row by row with the single worker's database.
CPU seconds of both workers, the broker and ClickHouse over the run show what
bounds the combined rate on this machine.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from .child import ChildWorker
from .settings import bench_raw

_TABLES = {
    "drift_results": "model, version, window_start, window_end, feature, test, statistic, p_value, threshold, drifted",
    "window_metrics": "model, version, window_start, window_end, metric, value, n",
}


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    import psutil  # a bench extra: tests/test_bench.py imports this module's neighbours without it

    out = {}
    for name, pid in pids.items():
        try:
            t = psutil.Process(pid).cpu_times()  # the process itself: its children are other rows
            out[name] = t.user + t.system
        except psutil.Error:
            out[name] = float("nan")
    return out


def table_rows(client, database: str, table: str) -> list[tuple]:
    cols = _TABLES[table]
    return client.execute(f"SELECT {cols} FROM {database}.{table} FINAL ORDER BY {cols}")


def compare_tables(client, single_db: str, scaled_db: str) -> dict:
    """Row-by-row, then keyed on everything but the value columns with a 1e-9 relative tolerance
    (a sum over labels joined in different batch groupings can differ in the last bit)."""
    out = {}
    for table in _TABLES:
        a, b = table_rows(client, single_db, table), table_rows(client, scaled_db, table)
        n_key = 5 if table == "window_metrics" else 6  # (model, version, window, metric) / (..., feature, test)
        ka, kb = _keyed(a, n_key), _keyed(b, n_key)
        missing, extra = sorted(set(ka) - set(kb)), sorted(set(kb) - set(ka))
        unequal = [k for k in set(ka) & set(kb) if not _close(ka[k], kb[k])]
        out[table] = {"single_rows": len(a), "two_worker_rows": len(b), "identical": a == b,
                      "bitwise_differing_rows": len(set(a) ^ set(b)),
                      "missing_keys": len(missing), "extra_keys": len(extra), "unequal_within_1e-9": len(unequal),
                      "differing_names": sorted({str(k[4]) for k in [*missing, *extra, *unequal]}),
                      "examples": [list(map(str, k + tuple(kb.get(k, ka.get(k, ()))))) for k in (extra + missing + unequal)[:6]]}
    return out


def _keyed(rows: list[tuple], n_key: int) -> dict[tuple, tuple]:
    return {tuple(r[:n_key]): tuple(r[n_key:]) for r in rows}


def _close(x: tuple, y: tuple) -> bool:
    for a, b in zip(x, y, strict=True):
        if isinstance(a, float) and isinstance(b, float):
            if not (a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b)) or (a != a and b != b)):
                return False
        elif a != b:
            return False
    return True


def measure(broker, clickhouse, names_run: str, single_db: str, service_pids: dict[str, int], *,
            workers: int = 2, timeout: float = 900) -> dict:
    database = f"bench_scale_{uuid.uuid4().hex[:6]}"
    url = f"clickhouse://default:@127.0.0.1:{clickhouse.tcp_port}/{database}"
    group = f"bench-scale-{uuid.uuid4().hex[:6]}"
    workdir = Path(tempfile.mkdtemp(prefix="driftline-scale-"))
    raw = bench_raw(broker.bootstrap_servers, url, names_run, group=group)
    client = clickhouse.client(database="default")
    expected = {t: client.execute(f"SELECT count() FROM {single_db}.{t} FINAL")[0][0]
                for t in ("predictions", "feedback", "window_metrics", "drift_results")}
    cpu_before = cpu_seconds(service_pids)
    children = [ChildWorker(raw, workdir, f"worker{i}") for i in range(workers)]
    pids = {f"worker{i}": c.proc.pid for i, c in enumerate(children)}
    done_at = None
    try:
        deadline = time.time() + timeout
        while done_at is None:
            for c in children:
                c.check()
            if time.time() > deadline:
                raise TimeoutError("two-worker run not done")
            time.sleep(0.2)
            try:
                counts = {t: client.execute(f"SELECT count() FROM {database}.{t}"
                                            f"{' FINAL' if t in _TABLES else ''}")[0][0] for t in expected}
            except Exception:  # noqa: BLE001 - the database is created by the first worker
                continue
            if all(counts[t] >= n for t, n in expected.items()):
                done_at = time.time()
        cpu_workers = cpu_seconds(pids)
        cpu_after = cpu_seconds(service_pids)
        samples = [c.samples() for c in children]
    finally:
        for c in children:
            c.stop()
    first = min(s["first_batch"] for ss in samples for s in ss if s.get("first_batch"))
    partitions = [sorted({p for s in ss for p in s.get("partitions", [])}) for ss in samples]
    final_partitions = [ss[-1].get("partitions", []) if ss else [] for ss in samples]
    return {"workers": workers, "seconds": done_at - first, "expected_rows": expected, "partitions_seen": partitions,
            "final_partitions": final_partitions,
            "cpu_s": {**cpu_workers, **{k: cpu_after[k] - cpu_before[k] for k in service_pids}},
            "tables": compare_tables(client, single_db, database)}

"""``driftline run --processes N`` for N = 1 and 2 on one data set, as ratios to ceiling B of the same run.

The data set is the throughput traffic (5 models x 2 versions) keyed by (model, version) stream
onto the 4 partitions so that each half of the partitions carries 5 streams
(:data:`BALANCED`): range assignment gives each of two processes two partitions, so neither
waits for the other. For each N, the real launcher runs (``python -m driftline.cli run
--processes N``, fresh group and database); the clock runs from the first event any child
counted (``driftline_events_total`` on its ``/metrics``, polled every 0.1 s: start-up excluded)
to the moment every prediction and feedback row is stored. Ceiling B (consume + decode of both topics in this
process) is measured in the same run, just before.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

from .load import consume_all, decoder, produce_plan
from .scale import cpu_seconds
from .settings import bench_raw, bench_settings, topics
from .traffic import MODELS, VERSIONS, Plan, stream_key

ROOT = Path(__file__).resolve().parents[1]
# Streams per partition 3, 2, 3, 2: partitions {0, 1} and {2, 3} carry 5 streams each.
BALANCED = {stream_key(m, v): p for (m, v), p in zip([(m, v) for m in MODELS for v in VERSIONS],
                                                     (0, 0, 0, 1, 1, 2, 2, 2, 3, 3), strict=True)}


def _launch(raw: dict, workdir: Path, processes: int, port: int) -> tuple[subprocess.Popen, Path]:
    config = workdir / f"driftline-{processes}.yaml"
    config.write_text(yaml.safe_dump({**raw, "metrics": {"port": port}}))
    log = workdir / f"launcher-{processes}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "driftline.cli", "run", "--config", str(config),
                                 "--datadir", str(workdir / f"faust-{processes}"), "--loglevel", "warning",
                                 "--processes", str(processes)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    return proc, log


def _metrics(port: int) -> str:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as response:
            return response.read().decode()
    except OSError:
        return ""


def _sum(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def _events(port: int) -> float:
    """Events a child counted so far (0 while it does not answer)."""
    return _sum(_metrics(port), "driftline_events_total{")


# Where a worker's time went (seconds since it started): its steps, its inserts, its checkpoints
# (which include a flush); the rest of the clock it waited for messages or for the producer.
_TIMES = {"process": 'driftline_batch_duration_seconds_sum{stage="process"}',
          "windows": 'driftline_batch_duration_seconds_sum{stage="windows"}',
          "inserts": "driftline_clickhouse_insert_duration_seconds_sum{",
          "checkpoints": "driftline_checkpoint_duration_seconds_sum "}


def _times(port: int) -> dict[str, float]:
    text = _metrics(port)
    return {name: round(_sum(text, prefix), 2) for name, prefix in _TIMES.items()}


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _workers(pid: int) -> dict[str, int]:
    """The worker processes of the launcher ``pid``: its children, or itself (one process runs in it)."""
    return {f"worker{i}": p for i, p in enumerate(_children(pid) or [pid])}


def run_processes(broker, clickhouse, run_id: str, processes: int, expected: dict[str, int], *,
                  timeout: float = 900, configure=None) -> dict:
    """``configure(raw)``: changes to the benchmark's config (say, two-stage aggregation of one model).
    ``cpu_s``: each worker's CPU seconds since it started; ``cpu_s_clocked``: while the clock ran (each worker, and the broker and ClickHouse)."""
    database = f"bench_proc{processes}_{uuid.uuid4().hex[:6]}"
    url = f"clickhouse://default:@127.0.0.1:{clickhouse.tcp_port}/{database}"
    raw = bench_raw(broker.bootstrap_servers, url, run_id, group=f"bench-proc-{uuid.uuid4().hex[:6]}")
    if configure is not None:
        raw = configure(raw)
    workdir = Path(tempfile.mkdtemp(prefix="driftline-processes-"))
    from tests.support.servers import free_ports

    port = free_ports(1)[0]
    proc, log = _launch(raw, workdir, processes, port)
    client = clickhouse.client(database="default")
    servers = {"broker": broker._proc.pid, "clickhouse": clickhouse._proc.pid}
    servers_at_first: dict[str, float] = {}
    first = done = None
    cpu: dict[str, float] = {}
    counted: dict[str, float] = {}
    clock_cpu: dict[str, float] = {}
    at_first: dict[str, float] = {}
    times: dict[str, dict[str, float]] = {}
    try:
        deadline = time.time() + timeout
        while done is None:
            if proc.poll() is not None:
                raise RuntimeError(f"launcher exited with {proc.returncode}: {log.read_text()[-3000:]}")
            if time.time() > deadline:
                raise TimeoutError(f"{processes} process(es) not done: {log.read_text()[-3000:]}")
            time.sleep(0.1)
            if first is None:
                if any(_events(port + i) for i in range(processes)):
                    first = time.time()
                    at_first = cpu_seconds(_workers(proc.pid))
                    servers_at_first = cpu_seconds(servers)
                continue
            try:
                counts = {t: client.execute(f"SELECT count() FROM {database}.{t}")[0][0] for t in expected}
            except Exception:  # noqa: BLE001 - the database is created by the first child
                continue
            now = time.time()
            if all(counts[t] >= n for t, n in expected.items()):
                done = now
                cpu = cpu_seconds(_workers(proc.pid))
                clock_cpu = {name: round(s - at_first.get(name, 0.0), 2) for name, s in cpu.items()}
                # The servers share the machine's cores: what they took while the clock ran.
                clock_cpu.update({name: round(s - servers_at_first[name], 2) for name, s in cpu_seconds(servers).items()})
                counted = {f"worker{i}": _events(port + i) for i in range(processes)}  # above the total: replayed
                times = {f"worker{i}": _times(port + i) for i in range(processes)}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            for pid in _children(proc.pid):
                os.kill(pid, signal.SIGKILL)
            proc.kill()
    stored = {t: client.execute(f"SELECT count() FROM {database}.{t} FINAL")[0][0] for t in expected}
    return {"processes": processes, "seconds": done - first, "stored": stored, "cpu_s": cpu,
            "cpu_s_clocked": clock_cpu, "events_counted": counted, "time_s": times}


def measure(broker, clickhouse, events: int, counts: tuple[int, ...] = (1, 2)) -> dict:
    plan = Plan.for_events(events)
    run_id = uuid.uuid4().hex[:6]
    names = topics(run_id)
    broker.create_topics(list(names.values()), partitions=4)
    produced = produce_plan(broker.bootstrap_servers, names["predictions"], names["feedback"], plan,
                            partitions=BALANCED)
    total = produced["predictions"] + produced["feedback"]
    base = bench_settings(broker.bootstrap_servers, "chdb://:memory:", run_id)
    ceiling_b = consume_all(base, total, decoder(base))
    expected = {"predictions": produced["predictions"], "feedback": produced["feedback"]}
    runs = [run_processes(broker, clickhouse, run_id, n, expected) for n in counts]
    b_rate = produced["predictions"] / ceiling_b.seconds
    for r in runs:
        r["predictions_per_s"] = produced["predictions"] / r["seconds"]
        r["share_b"] = r["predictions_per_s"] / b_rate
    return {"predictions": produced["predictions"], "feedback": produced["feedback"], "ceiling_b": b_rate,
            "runs": runs, "speedup": runs[-1]["predictions_per_s"] / runs[0]["predictions_per_s"],
            "cpus": os.cpu_count()}


def markdown(d: dict) -> list[str]:
    lines = ["## Worker processes on one host (`driftline run --processes N`)", "",
             f"{d['predictions']:,} predictions + {d['feedback']:,} feedback keyed by (model, version) over 4 "
             f"partitions, 5 streams per pair of partitions; {d['cpus']} CPUs shared with the broker and ClickHouse. "
             f"Ceiling B in the same run: {d['ceiling_b']:,.0f} predictions/s.", "",
             "| processes | predictions/s | share of ceiling B | seconds | CPU s per worker |", "|---:|---:|---:|---:|---|"]
    for r in d["runs"]:
        cpu = ", ".join(f"{v:.1f}" for v in r["cpu_s"].values())
        lines.append(f"| {r['processes']} | {r['predictions_per_s']:,.0f} | {r['share_b']:.0%} | {r['seconds']:.1f} | {cpu} |")
    lines += ["", f"Speed-up from 1 to {d['runs'][-1]['processes']} processes: {d['speedup']:.2f}x", ""]
    return lines

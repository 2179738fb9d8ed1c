"""Helpers of the fault tests: a worker subprocess, its config, traffic and what ClickHouse holds.

Every test makes its own topics, consumer group and database (a :class:`Scenario`),
so tests share the session's broker and ClickHouse server without seeing each other.
Faults are injected from outside the worker: ``kill -9`` timed on what ClickHouse and
the webhook receiver have seen, the ClickHouse server stopped, the broker restarted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.integration.traffic import Traffic, make_traffic
from tests.support.kafka import produce
from tests.support.servers import free_port_run

ROOT = Path(__file__).resolve().parents[2]

# One calibrated numeric test (the default runs three): these tests are about what survives a fault,
# compared with a clean run of the same config; the null fits of three tests per feature, made again by
# every restarted worker, would be most of their CPU.
DRIFT = "{numeric: [{type: wasserstein, threshold: auto}]}"
MODELS = f"""
models:
  - name: credit
    task: binary_classification
    features: {{income: numeric, age: numeric, country: categorical}}
    reference: {{warmup_events: 2000}}
    window: {{size: 10s, idle_close: 3s}}
    drift: {DRIFT}
  - name: price
    task: regression
    features: {{sqft: numeric, rooms: numeric}}
    reference: {{warmup_events: 2000}}
    window: {{size: 10s, idle_close: 3s}}
    drift: {DRIFT}
  - name: fraud
    task: binary_classification
    features: {{amount: numeric, merchant: categorical}}
    reference: {{warmup_events: 2000}}
    window: {{size: 10s, idle_close: 3s}}
    drift: {DRIFT}
"""


@dataclass
class Worker:
    """One ``driftline run`` subprocess with its log file and metrics port."""

    proc: subprocess.Popen
    log_path: Path
    metrics_port: int
    token: str | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int | None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metrics(self) -> dict[str, float]:
        """Samples of /metrics as ``{"name{labels}": value}``; {} while the worker does not answer."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2, headers=headers).text
        except httpx.HTTPError:
            return {}
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                try:
                    out[name] = float(value)
                except ValueError:
                    pass
        return out

    def rss_bytes(self) -> int:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0


@dataclass
class Scenario:
    """Topics, group, database and config of one test; starts workers on them."""

    broker: object
    clickhouse: object
    tmp_path: Path
    webhooks: dict[str, str] = field(default_factory=dict)  # channel name -> url
    extra_config: str = ""
    kafka_extra: str = ""  # more lines of the kafka section, e.g. "  max_message_bytes: 100000\n"
    metrics_extra: str = ""  # more lines of the metrics section, e.g. "  stall_after: 5s\n"
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    partitions: int = 4
    store_node: tuple[int, int] | None = None  # on a ClickHouseCluster: the server the workers connect to

    def __post_init__(self) -> None:
        self.topics = {"predictions": f"p-{self.run}", "feedback": f"f-{self.run}",
                       "alerts": f"a-{self.run}", "dead_letter": f"d-{self.run}"}
        self.create_topics()
        self.db = f"flt_{self.run}"
        self.group = f"g-{self.run}"
        self.client = self.clickhouse.client(database=None)
        self._workers = 0

    def create_topics(self) -> None:
        self.broker.create_topics(list(self.topics.values()), partitions=self.partitions)

    @property
    def store_port(self) -> int:
        if self.store_node is not None:
            return self.clickhouse.node(*self.store_node).tcp_port
        return self.clickhouse.tcp_port

    @property
    def cluster_line(self) -> str:
        cluster = getattr(self.clickhouse, "cluster", None)
        return f"  cluster: {cluster}\n" if cluster else ""

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap_servers

    def config(self, metrics_port: int) -> Path:
        channels = "".join(f'\n    - {{type: webhook, name: {name}, url: "{url}"}}' for name, url in self.webhooks.items())
        alerts = f"alerts:\n  channels:{channels}\n" if channels else ""
        path = self.tmp_path / f"driftline-{metrics_port}.yaml"
        path.write_text(f"""
kafka:
  bootstrap_servers: "{self.bootstrap}"
  group_id: {self.group}
  session_timeout: 4s
  batch_size: 1000
  topics: {json.dumps(self.topics)}
{self.kafka_extra}clickhouse:
  url: "clickhouse://default:@127.0.0.1:{self.store_port}/{self.db}"
  flush_rows: 5000
{self.cluster_line}metrics:
  port: {metrics_port}
{self.metrics_extra}worker:
  checkpoint_interval: 1s
{MODELS}
{alerts}{self.extra_config}
""")
        return path

    def start_worker(self, env: dict | None = None, token: str | None = None, args: tuple[str, ...] = ()) -> Worker:
        """``args``: more options of ``driftline run`` (``--processes 2``: children on port, port + 1)."""
        processes = int(args[args.index("--processes") + 1]) if "--processes" in args else 1
        port = free_port_run(processes)  # the children's web ports are port, port + 1, ...
        self._workers += 1
        log_path = self.tmp_path / f"worker-{self._workers}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "driftline.cli", "run", "--config", str(self.config(port)),
                 "--datadir", str(self.tmp_path / f"faust-{self._workers}"), *args],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=ROOT)
        return Worker(proc, log_path, port, token)

    def produce_traffic(self, traffic: Traffic, *, feedback: bool = True, malformed: bool = True) -> None:
        if feedback:
            produce(self.bootstrap, self.topics["feedback"], traffic.feedback_early)
        produce(self.bootstrap, self.topics["predictions"], traffic.predictions)
        if malformed:
            produce(self.bootstrap, self.topics["predictions"], [("credit", m) for m in traffic.malformed])
        if feedback:
            produce(self.bootstrap, self.topics["feedback"], traffic.feedback_late)

    # -- what ClickHouse holds -------------------------------------------------------------------
    def scalar(self, sql: str):
        try:
            return self.client.execute(sql.replace("{db}", self.db))[0][0]
        except Exception:  # noqa: BLE001 - database or table not there yet, or the server is down
            return None

    def rows(self, sql: str) -> list[tuple]:
        return self.client.execute(sql.replace("{db}", self.db))

    def stored(self, table: str) -> int:
        return self.scalar(f"SELECT count() FROM {{db}}.{table} FINAL") or 0

    def snapshot(self) -> dict:
        """What a run leaves behind, for comparing a faulty run with a clean one.

        Label-dependent results (performance metrics, concept drift on the error stream, the alerts
        they raise) depend on when labels arrived relative to window closes, which differs between
        any two runs; the comparison covers everything computed from predictions alone.
        """
        return {
            "predictions": self.stored("predictions"),
            "predictions_distinct": self.scalar("SELECT uniqExact(event_id, model) FROM {db}.predictions"),
            "feedback": self.stored("feedback"),
            "dead_letters": self.stored("dead_letters"),
            "drift": sorted(self.rows(
                "SELECT model, feature, test, toUnixTimestamp(window_start), drifted, round(statistic, 6) "
                "FROM {db}.drift_results FINAL WHERE feature != 'error_stream'")),
            "windows": sorted(self.rows(
                "SELECT model, toUnixTimestamp(window_start), metric, round(value, 6) FROM {db}.window_metrics "
                "FINAL WHERE metric LIKE 'latency%'")),
            "drift_alerts": sorted(self.rows(
                "SELECT alert_id, status, kind FROM {db}.alerts FINAL WHERE kind IN ('data_drift', "
                "'prediction_drift')")),
        }

    def last_window_closed(self, traffic: Traffic, n_per_model: int) -> bool:
        from tests.integration.traffic import START_MS, STEP_MS

        last = (START_MS + (n_per_model - 1) * STEP_MS) // 10_000 * 10
        return all(self.scalar(f"SELECT count() FROM {{db}}.drift_results FINAL WHERE model = '{m}' "
                               f"AND toUnixTimestamp(window_start) = {last}") for m in ("credit", "price", "fraud"))

    def alert_ids(self) -> list[str]:
        return [r[0] for r in self.rows("SELECT alert_id FROM {db}.alerts FINAL")]


def traffic(n_per_model: int = 6000) -> Traffic:
    return make_traffic(n_per_model)

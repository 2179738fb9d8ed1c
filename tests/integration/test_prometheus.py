"""Prometheus and Alertmanager configuration: checked by promtool/amtool, and live against a real Prometheus.

The tools are required: a missing binary fails these tests (install with
``apt-get install prometheus prometheus-alertmanager``), it never skips them.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from driftline.sinks.metrics import WorkerMetrics
from prometheus_client import CollectorRegistry, start_http_server

from tests.support.servers import PrometheusServer, free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "config" / "prometheus"
ALERTMANAGER_CONFIG = ROOT / "config" / "alertmanager" / "alertmanager.yml"


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: apt-get install prometheus prometheus-alertmanager")
    return path


def run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=PROMETHEUS_DIR)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}:\n{output}"
    return output


def test_promtool_check_config():
    assert "SUCCESS" in run(tool("promtool"), "check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))


def test_promtool_check_rules():
    output = run(tool("promtool"), "check", "rules", str(PROMETHEUS_DIR / "rules.yml"))
    assert "SUCCESS" in output


def test_promtool_test_rules():
    output = run(tool("promtool"), "test", "rules", str(PROMETHEUS_DIR / "rules_test.yml"))
    assert "SUCCESS" in output and "FAILED" not in output


def test_every_alert_has_a_rule_test():
    import yaml

    rules = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text())
    tested = yaml.safe_load((PROMETHEUS_DIR / "rules_test.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    covered = {t["alertname"] for case in tested["tests"] for t in case.get("alert_rule_test", [])}
    required = {"DriftlineWorkerDown", "DriftlineConsumerLagGrowing", "DriftlineClickHouseInsertErrors",
                "DriftlineDriftDetected", "DriftlineAccuracyLow"}
    assert required <= alerts
    assert required <= covered, f"alerts without a promtool test: {required - covered}"


def test_amtool_check_config():
    assert "SUCCESS" in run(tool("amtool"), "check-config", str(ALERTMANAGER_CONFIG))


@pytest.fixture
def worker_endpoint():
    """A prometheus_client HTTP server exposing a fresh registry with WorkerMetrics."""
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield metrics, f"127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def wait_for(prometheus: PrometheusServer, promql: str, predicate, timeout: float = 30.0) -> list:
    deadline = time.monotonic() + timeout
    result: list = []
    while time.monotonic() < deadline:
        result = prometheus.query(promql)["result"]
        if predicate(result):
            return result
        time.sleep(0.25)
    raise AssertionError(f"{promql}: condition not met after {timeout:g}s, last result {result!r}")


def test_real_prometheus_scrapes_worker_metrics_and_records_rules(worker_endpoint):
    metrics, target = worker_endpoint
    metrics.up.set(1)
    metrics.events.labels("credit", "v1", "predictions").inc(1200)
    metrics.events.labels("credit", "v2", "predictions").inc(300)
    metrics.events.labels("credit", "v1", "feedback").inc(40)
    metrics.consumer_lag.labels("driftline.predictions", "0").set(17)
    metrics.drift_detected.labels("credit", "v2", "income").set(1)
    config = f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {PROMETHEUS_DIR / 'rules.yml'}
scrape_configs:
  - job_name: driftline
    static_configs:
      - targets: ["{target}"]
"""
    with PrometheusServer(config) as prometheus:
        result = wait_for(prometheus, "driftline_events_total", lambda r: len(r) == 3)
        values = {(s["metric"]["model"], s["metric"]["version"], s["metric"]["stream"]): float(s["value"][1])
                  for s in result}
        assert values == {("credit", "v1", "predictions"): 1200.0, ("credit", "v2", "predictions"): 300.0,
                          ("credit", "v1", "feedback"): 40.0}
        assert all(s["metric"]["job"] == "driftline" and s["metric"]["instance"] == target for s in result)
        up = wait_for(prometheus, 'up{job="driftline"}', lambda r: len(r) == 1)
        assert up[0]["value"][1] == "1"
        lag = wait_for(prometheus, "driftline:consumer_lag_messages:sum", lambda r: len(r) == 1)
        assert lag[0]["metric"] == {"__name__": "driftline:consumer_lag_messages:sum", "topic": "driftline.predictions"}
        assert lag[0]["value"][1] == "17"

        # The recording rule turns increments between scrapes into a rate.
        deadline = time.monotonic() + 30
        rate: list = []
        while time.monotonic() < deadline and not rate:
            metrics.events.labels("credit", "v1", "predictions").inc(100)
            time.sleep(0.5)
            rate = [s for s in prometheus.query('driftline:events:rate1m{version="v1", stream="predictions"}')["result"]
                    if float(s["value"][1]) > 0]
        assert rate, "driftline:events:rate1m never became positive"
        assert set(rate[0]["metric"]) == {"__name__", "model", "version", "stream"}
        drift = wait_for(prometheus, "driftline_drift_detected == 1", lambda r: len(r) == 1)
        assert drift[0]["metric"]["feature"] == "income"

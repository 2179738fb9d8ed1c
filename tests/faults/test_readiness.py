"""ClickHouse stopped under a running worker: /healthz turns 503 with the reason once ingestion has
stalled for metrics.stall_after, /livez stays 200 (a restart would not help), and readiness comes
back by itself with the server, nothing lost."""

from __future__ import annotations

import httpx
import pytest

from tests.faults.harness import Scenario, traffic
from tests.support.kafka import produce
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

N = 3000
STALL_AFTER_S = 5


def probe(worker, path: str) -> tuple[int, dict]:
    response = httpx.get(f"http://127.0.0.1:{worker.metrics_port}{path}", timeout=5)
    return response.status_code, response.json()


def test_readiness_follows_a_clickhouse_outage(broker, clickhouse, tmp_path):
    t = traffic(N)
    sc = Scenario(broker, clickhouse, tmp_path, metrics_extra=f"  stall_after: {STALL_AFTER_S}s\n")
    half = len(t.predictions) // 2
    produce(sc.bootstrap, sc.topics["predictions"], t.predictions[:half])
    worker = sc.start_worker()
    try:
        wait_until(lambda: probe(worker, "/healthz")[0] == 200, 90, "the worker ready",
                   process=worker.proc, log=worker.log_path, retry_on=(httpx.HTTPError, ValueError))
        wait_until(lambda: sc.stored("predictions") == half, 90, "the first half stored")
        clickhouse.stop()
        try:
            produce(sc.bootstrap, sc.topics["predictions"], t.predictions[half:])
            status, body = wait_until(lambda: (p := probe(worker, "/healthz"))[0] == 503 and p, 60,
                                      "readiness to turn false", process=worker.proc, log=worker.log_path)
            print(f"unready while ClickHouse is down: {body}")
            assert body["status"] == "unavailable" and body["reason"].startswith("stalled: "), body
            assert f"(limit {STALL_AFTER_S}s)" in body["reason"]
            assert probe(worker, "/livez") == (200, {"status": "ok"}), "a stalled worker is still alive"
            assert worker.alive()
        finally:
            clickhouse.start()
        wait_until(lambda: probe(worker, "/healthz") == (200, {"status": "ok", "reason": "ok"}), 120,
                   "readiness back after the outage", process=worker.proc, log=worker.log_path,
                   retry_on=(httpx.HTTPError, ValueError))
        wait_until(lambda: sc.stored("predictions") == t.n_predictions, 120, "every prediction stored")
    finally:
        worker.stop()
        print(worker.log()[-3000:])

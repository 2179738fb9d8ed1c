"""The alertmanager channel against the real Alertmanager (Debian's /usr/bin/prometheus-alertmanager).

Alertmanager routes to a webhook receiver served by this test; we assert that
the driftline labels come out the other side, first firing, then resolved.
Fails (never skips) when the binary is missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from driftline.alerting import DEFAULT_RULES, AlertEngine
from driftline.detectors.results import DriftResult, WindowReport
from driftline.settings import parse_channels
from driftline.sinks.alerts import (
    AlertDispatcher,
    MemoryDeliveryLog,
    build_channels,
)

from tests.support.servers import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

ALERTMANAGER = os.environ.get("DRIFTLINE_ALERTMANAGER_BIN", "/usr/bin/prometheus-alertmanager")


class Notifications:
    """Receives Alertmanager's webhook posts."""

    def __init__(self):
        self.items: list[dict] = []
        self.cond = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.cond:
                    outer.items.append(json.loads(body))
                    outer.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/am"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    async def wait_for(self, predicate, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.cond:
                for item in self.items:
                    if predicate(item):
                        return item
            await asyncio.sleep(0.1)
        raise AssertionError(f"no matching Alertmanager notification within {timeout}s; got {self.items!r}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def notifications():
    n = Notifications()
    yield n
    n.close()


@pytest.fixture
def alertmanager(tmp_path, notifications):
    if not os.access(ALERTMANAGER, os.X_OK):
        pytest.fail(f"{ALERTMANAGER} not found or not executable: install it with "
                    "`apt-get install prometheus-alertmanager` (this test must not be skipped)")
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        "route:\n"
        "  receiver: driftline-hook\n"
        "  group_by: ['alertname', 'model', 'version']\n"
        "  group_wait: 0s\n"
        "  group_interval: 1s\n"
        "  repeat_interval: 1h\n"
        "receivers:\n"
        "  - name: driftline-hook\n"
        "    webhook_configs:\n"
        f"      - url: '{notifications.url}'\n"
        "        send_resolved: true\n"
    )
    port = free_port()
    log_path = tmp_path / "alertmanager.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=debug"],
            stdout=log_file, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/-/ready", timeout=1).status_code == 200, 30, "alertmanager ready",
                   interval=0.1, process=proc, log=log_path, retry_on=(httpx.HTTPError,))
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _has(status: str):
    def predicate(note: dict) -> bool:
        return note.get("status") == status and any(
            a["status"] == status and a["labels"].get("model") == "fraud" for a in note["alerts"])
    return predicate


async def test_firing_then_resolved_reach_alertmanager_receiver(alertmanager, notifications):
    engine = AlertEngine(DEFAULT_RULES)
    now_ms = int(time.time() * 1000)
    start = now_ms - 120_000
    drifted = WindowReport("fraud", "v3", start, start + 60_000, 1000, 0,
                           drift=(DriftResult("amount", "psi", 0.41, 0.2, True),))
    clean = WindowReport("fraud", "v3", start + 60_000, start + 120_000, 1000, 0,
                         drift=(DriftResult("amount", "psi", 0.01, 0.2, False),))
    (firing,) = engine.evaluate(drifted, now_ms=now_ms)

    log = MemoryDeliveryLog()
    channels = build_channels(parse_channels([{
        "type": "alertmanager", "url": alertmanager, "ttl": "10m",
        "dashboard_url": "http://grafana:3000/d/driftline-model?var-model={model}&var-version={version}"}]))
    dispatcher = AlertDispatcher(client=httpx.AsyncClient(), channels=channels, delivery_log=log, max_attempts=3)
    await dispatcher.start()
    try:
        dispatcher.submit(firing)
        note = await notifications.wait_for(_has("firing"))
        (am_alert,) = [a for a in note["alerts"] if a["status"] == "firing"]
        assert am_alert["labels"] == {"alertname": "DriftlineDataDrift", "model": "fraud", "version": "v3",
                                      "kind": "data_drift", "severity": "warning"}
        assert am_alert["annotations"]["summary"] == firing.summary
        assert am_alert["annotations"]["alert_id"] == firing.alert_id
        assert am_alert["annotations"]["action"] == "notify"
        assert am_alert["generatorURL"] == "http://grafana:3000/d/driftline-model?var-model=fraud&var-version=v3"
        assert note["groupLabels"] == {"alertname": "DriftlineDataDrift", "model": "fraud", "version": "v3"}

        (resolved,) = engine.evaluate(clean, now_ms=int(time.time() * 1000))
        assert resolved.status == "resolved"
        dispatcher.submit(resolved)
        note = await notifications.wait_for(_has("resolved"))
        (am_alert,) = note["alerts"]
        assert am_alert["labels"]["alertname"] == "DriftlineDataDrift"
        assert am_alert["labels"]["severity"] == "warning"
    finally:
        await dispatcher.stop(drain_timeout=10)
    assert [(r.status, r.last_status_code) for r in log.records] == [("delivered", 200), ("delivered", 200)]


async def test_escalation_ends_the_warning_twin(alertmanager, notifications):
    from driftline.alerting import build_rules
    from driftline.settings import parse_rules

    rules = build_rules(parse_rules([
        {"name": "any", "kind": "data_drift", "severity": "warning"},
        {"name": "wide", "kind": "data_drift", "severity": "critical", "when": {"min_features": 2}},
    ]))
    engine = AlertEngine(rules)
    now_ms = int(time.time() * 1000)
    one = WindowReport("fraud", "v3", now_ms - 120_000, now_ms - 60_000, 1000, 0,
                       drift=(DriftResult("a", "psi", 0.4, 0.2, True), DriftResult("b", "psi", 0.0, 0.2, False)))
    two = WindowReport("fraud", "v3", now_ms - 60_000, now_ms, 1000, 0,
                       drift=(DriftResult("a", "psi", 0.4, 0.2, True), DriftResult("b", "psi", 0.5, 0.2, True)))
    channels = build_channels(parse_channels([{"type": "alertmanager", "url": alertmanager}]))
    dispatcher = AlertDispatcher(client=httpx.AsyncClient(), channels=channels, delivery_log=MemoryDeliveryLog())
    await dispatcher.start()
    try:
        dispatcher.submit(engine.evaluate(one, now_ms=now_ms)[0])
        await notifications.wait_for(_has("firing"))
        (escalated,) = engine.evaluate(two, now_ms=now_ms + 1)
        assert escalated.reason == "escalation"
        dispatcher.submit(escalated)

        def critical_firing_warning_resolved(note):
            by_severity = {a["labels"]["severity"]: a["status"] for a in note["alerts"]}
            return by_severity == {"critical": "firing", "warning": "resolved"}

        await notifications.wait_for(critical_firing_warning_resolved)
    finally:
        await dispatcher.stop(drain_timeout=10)
    async with httpx.AsyncClient() as client:
        active = (await client.get(f"{alertmanager}/api/v2/alerts", params={"active": "true"})).json()
    assert [(a["labels"]["severity"], a["status"]["state"]) for a in active] == [("critical", "active")]

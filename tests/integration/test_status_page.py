"""Issue 8 end to end: `driftline demo` (broker + worker + store + traffic) and its status page in Chromium."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def demo_command(*args: str) -> list[str]:
    from driftline.cli import main

    if "demo" in main.commands:
        return [sys.executable, "-m", "driftline.cli", "demo", *args]
    return [sys.executable, "-m", "driftline.demo.cli", *args]  # until `main.add_command(demo)` lands


class Demo:
    def __init__(self, workdir: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "demo.out"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "140"}
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            demo_command("--port", str(self.port), "--duration", "0", "--no-display", *args),
            cwd=workdir, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)

    def get(self, path: str):
        return httpx.get(self.url + path, timeout=10).json()

    def wait(self, predicate, timeout: float, what: str):
        return wait_until(predicate, timeout, what, interval=0.5, process=self.proc, log=self.log,
                          retry_on=(httpx.HTTPError, ValueError))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # what Ctrl-C does
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"the demo did not stop within 60 s of Ctrl-C:\n{self.output()[-3000:]}") from None
        return self.proc.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def drifted(models: dict) -> dict[str, list[str]]:
    return {f"{m['name']}/{v['version']}": v["drifted_features"]
            for m in models.get("models", ()) for v in m["versions"] if v["drifted_features"]}


def chromium(*args: str, profile: Path, timeout: float = 90) -> str:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: the status page test needs it (apt-get install chromium)")
    done = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, timeout=timeout)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return done.stdout.decode(errors="replace")


def test_demo_status_page_shows_drift_and_alerts(tmp_path):
    demo = Demo(tmp_path, "--speed", "60")
    try:
        # distance_km is scaled from +8m of event time on, for good: it stays drifted.
        models = demo.wait(lambda: (m := demo.get("/api/models")) and "distance_km" in drifted(m).get("eta/v1", ())
                           and m, 90, "eta's distance_km to drift")
        seen_drift = time.monotonic() - demo.started
        alerts = demo.wait(lambda: demo.get("/api/alerts?limit=50")["alerts"], 30, "an alert")
        seen_alert = time.monotonic() - demo.started
        print(f"first drift on the API after {seen_drift:.1f}s, first alert after {seen_alert:.1f}s")
        assert seen_drift < 60, "the demo must show drift within a minute"

        # The API: model states, the heatmap data, performance per version, latency, alert evidence.
        model, version, features = "eta", "v1", ["distance_km"]
        assert {m["name"] for m in models["models"]} == {"credit", "eta"}
        state = {v["version"]: v["state"] for m in models["models"] if m["name"] == model for v in m["versions"]}
        assert state[version] in ("drifting", "alerting")
        heat = demo.get(f"/api/models/{model}/drift?version={version}&windows=30")
        row = next(f for f in heat["features"] if f["name"] == features[0])
        assert len(row["cells"]) == len(heat["windows"]) <= 30
        assert any(c and c["drifted"] and c["score"] >= 1 for c in row["cells"])
        perf = demo.get("/api/models/credit/performance")
        assert perf["metrics"][:2] == ["accuracy", "f1"] and "label_coverage" in perf["metrics"]
        assert any(v is not None for v in perf["series"]["v1"]["accuracy"])
        latency = demo.get("/api/models/eta/latency")
        assert any(v is not None and v > 0 for v in latency["series"]["v1"]["latency_p95_ms"])
        assert alerts[0]["summary"] and "evidence" in alerts[0]
        assert httpx.get(demo.url + "/api/models/nope/drift").status_code == 404
        assert httpx.get(demo.url + "/static/..%2Fstatus.py").status_code == 404
        assert httpx.get(demo.url + "/static/app.js").headers["content-type"].startswith("application/javascript")

        # The page, rendered by a real browser with no network but the worker's.
        # The page is a live view of a moving stream: it shows the latest window's drifted features as
        # the API does at that moment, so a render is compared with the API read right after it.
        for _attempt in range(3):
            dom = chromium("--virtual-time-budget=8000", "--dump-dom", demo.url + "/", profile=tmp_path / "chrome")
            assert 'data-loaded="1"' in dom, dom[:2000]
            names = set(re.findall(r'class="drifted-feature">([^<]+)<', dom))
            if "distance_km" in names:
                break
            print(f"the page showed drifted features {names}; the API now: {drifted(demo.get('/api/models'))}")
        assert "distance_km" in names, names
        assert re.search(r'<li class="alert alert-(firing|resolved) sev-\w+" data-kind="\w+">', dom)
        assert 'class="heatmap"' in dom and 'class="chart"' in dom
        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        shot = artifacts / "status-page.png"
        shot.unlink(missing_ok=True)
        chromium("--virtual-time-budget=8000", "--window-size=1400,1000", f"--screenshot={shot}",
                 "--hide-scrollbars", demo.url + "/", profile=tmp_path / "chrome")
        assert shot.stat().st_size > 20_000
    finally:
        rc = demo.stop()
    out = demo.output()
    assert rc == 0, out[-3000:]
    assert "What happened, and what caught it" in out, out[-3000:]
    match = re.search(r"first drift detected at ([\d.]+)s, first alert at ([\d.]+)s", out)
    assert match, out[-3000:]
    print(match.group(0))
    assert "Traceback" not in out, out[-5000:]


def test_demo_on_a_clickhouse_server_serves_the_same_api(tmp_path, clickhouse):
    db = f"demo_{int(time.time())}"
    demo = Demo(tmp_path, "--speed", "120",
                "--clickhouse-url", f"clickhouse://default:@127.0.0.1:{clickhouse.tcp_port}/{db}")
    try:
        models = demo.wait(lambda: (m := demo.get("/api/models")) and drifted(m) and m, 120, "a drifted feature")
        for model in ("credit", "eta"):
            for path in ("drift?windows=10", "performance", "latency"):
                response = httpx.get(f"{demo.url}/api/models/{model}/{path}", timeout=10)
                assert response.status_code == 200, response.text
        alerts = demo.wait(lambda: demo.get("/api/alerts")["alerts"], 60, "an alert")
        assert alerts[0]["evidence"] and {m["name"] for m in models["models"]} == {"credit", "eta"}
    finally:
        assert demo.stop() == 0, demo.output()[-3000:]

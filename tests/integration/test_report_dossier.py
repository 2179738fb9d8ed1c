"""Issue 16 on real parts: Tansu broker -> the worker -> ClickHouse 18.16 -> ``driftline report``.

One model, ``credit``, 60 s of event time in six 10 s windows: its champion v1 takes 70% of the
requests, a canary v2 the rest. From the fourth window on, ``income`` shifts by three standard
deviations and v1's accuracy drops from 0.92 to 0.6, so the ``accuracy < 0.8`` rule (action
``retrain``) fires; the canary is much worse than v1 throughout, so the experiment rolls it back
(a ``rollback`` action, the ``rolled_back`` lifecycle state). The dossier's JSON must say exactly
that: the drifted feature ranked first, the windows below threshold, the actions taken and the
recommendations with their evidence; and the command gives the same bytes twice.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import httpx
import numpy as np
import pytest
from driftline.report import verify_bytes

from tests.faults.harness import ROOT, Worker
from tests.support.kafka import produce
from tests.support.servers import WebhookReceiver, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

N = 6000  # 10 ms apart: 60 s, six 10 s windows
START_MS = (int(time.time()) // 60 - 10) * 60_000  # on a whole minute, so windows start on it
SHIFT = N // 2  # the fourth window: income drifts and v1's accuracy drops
TOKEN = "dossier-t0ken"


def traffic():
    rng = np.random.default_rng(16)
    predictions, feedback = [], []
    for i in range(N):
        ts = START_MS + i * 10
        v2 = rng.random() < 0.3
        accuracy = 0.55 if v2 else (0.92 if i < SHIFT else 0.6)
        truth = int(rng.random() < 0.3)
        prediction = truth if rng.random() < accuracy else 1 - truth
        income = float(rng.normal(50_000 if i < SHIFT else 80_000, 10_000))
        event = {"event_id": f"e-{i}", "model": "credit", "version": "v2" if v2 else "v1", "ts": ts,
                 "features": {"income": round(income, 2), "age": round(float(rng.normal(40, 10)), 1)},
                 "prediction": prediction, "latency_ms": 20.0}
        predictions.append(("credit", json.dumps(event).encode()))
        feedback.append(("credit", json.dumps({"event_id": f"e-{i}", "model": "credit", "ts": ts + 500,
                                               "label": truth}).encode()))
    return predictions, feedback


def test_the_dossier_says_what_the_scenario_did(broker, clickhouse, tmp_path):
    run = uuid.uuid4().hex[:8]
    topics = {"predictions": f"p-{run}", "feedback": f"f-{run}", "alerts": f"a-{run}", "dead_letter": f"d-{run}"}
    broker.create_topics(list(topics.values()), partitions=2)
    db = f"rep_{run}"
    client = clickhouse.client(database=None)

    def rows(sql: str) -> list[tuple]:
        try:
            return client.execute(sql.replace("{db}", db))
        except Exception:  # noqa: BLE001 - the database or table is not there yet
            return []

    with WebhookReceiver() as hook:
        port = free_port()
        config = tmp_path / "driftline.yaml"
        config.write_text(f"""
kafka:
  bootstrap_servers: "{broker.bootstrap_servers}"
  group_id: g-{run}
  session_timeout: 4s
  batch_size: 2000
  topics: {json.dumps(topics)}
clickhouse:
  url: "clickhouse://default:@127.0.0.1:{clickhouse.tcp_port}/{db}"
metrics:
  port: {port}
  token: "{TOKEN}"
  public: [healthz, livez, metrics]
models:
  - name: credit
    task: binary_classification
    features: {{income: numeric, age: numeric}}
    reference: {{warmup_events: 1000}}
    window: {{size: 10s, idle_close: 3s}}
    # Fixed thresholds: this scenario is about the dossier, not the detectors' defaults (a warm-up
    # reference as small as a window is where calibrated thresholds are least exact).
    drift: {{numeric: [{{type: psi, threshold: 0.2}}]}}
experiments:
  - {{name: credit-canary, model: credit, champion: v1, challengers: [v2], metric: accuracy, min_sample: 100,
     rollback_grace: 10s}}
alerts:
  rules:
    - {{name: drift, kind: data_drift, severity: warning}}
    - {{name: accuracy-low, kind: performance, severity: critical, action: retrain,
       when: {{metric: accuracy, op: "<", value: 0.8, min_n: 50}}}}
  channels:
    - {{type: webhook, name: ml-ops, url: "{hook.url}", actions: [retrain, rollback]}}
""")
        predictions, feedback = traffic()
        produce(broker.bootstrap_servers, topics["predictions"], predictions)
        produce(broker.bootstrap_servers, topics["feedback"], feedback)
        log_path = tmp_path / "worker.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "driftline.cli", "run", "--config", str(config),
                                     "--datadir", str(tmp_path / "faust")], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        worker = Worker(proc, log_path, port, TOKEN)
        last = (START_MS + (N - 1) * 10) // 10_000 * 10
        try:
            # The labels of the last window's events come 0.5 s later: a seventh label window.
            wait_until(lambda: rows(f"SELECT count() FROM {{db}}.window_metrics FINAL WHERE version = 'v1'"
                                    f" AND metric = 'accuracy' AND toUnixTimestamp(window_start) = {last + 10}")
                       == [(1,)]
                       and rows("SELECT count() FROM {db}.alert_deliveries FINAL WHERE status = 'delivered'")[0][0] >= 2,
                       120, "the last window's accuracy and the actions delivered", process=proc, log=log_path)
            # The status page's link: the dossier on demand, behind the page's access.
            url = f"http://127.0.0.1:{port}/report/credit"
            assert httpx.get(url, timeout=30, follow_redirects=False).status_code in (302, 303, 401)
            page = httpx.get(url + "?version=v1", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assert page.text.count("<section ") == 9 and "Governance dossier: credit (version v1)" in page.text
            assert verify_bytes(page.content)[0] and page.headers["X-Content-SHA256"] in page.text
            on_demand = httpx.get(url + "?format=json", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
            assert [s["key"] for s in on_demand.json()["content"]["sections"]][-1] == "signoff"
            assert httpx.get(f"http://127.0.0.1:{port}/report/nope", headers={"Authorization": f"Bearer {TOKEN}"},
                             timeout=30).status_code == 404
        finally:
            worker.stop()
            print(worker.log()[-3000:])

    def report(out: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "driftline.cli", "report", "--config", str(config), "--model",
                               "credit", "--out", str(tmp_path / f"{out}.html"), "--json", str(tmp_path / f"{out}.json")],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)

    first, second = report("one"), report("two")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    for ext in ("html", "json"):
        assert (tmp_path / f"one.{ext}").read_bytes() == (tmp_path / f"two.{ext}").read_bytes()
    doc = json.loads((tmp_path / "one.json").read_text())
    sections = {s["key"]: s for s in doc["content"]["sections"]}
    start_s = START_MS // 1000
    windows = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_s + 10 * k)) for k in range(7)]

    # -- the drifted features, ranked: income first, drifted in the windows after the shift -----------
    assert sections["drift"]["ranking"][0]["feature"] == "income" and sections["drift"]["ranking"][0]["rank"] == 1
    ranking = [r for r in sections["drift"]["ranking"] if r["version"] == "v1"]
    assert ranking[0]["first_drifted"] == windows[3] and ranking[0]["drifted_windows"] == 3, ranking[0]
    assert [r["feature"] for r in ranking] == ["income", "age"] and ranking[1]["drifted_windows"] == 0

    # -- the windows below threshold: v1's after the drop (and the late labels' window), the canary's -----
    below = sections["performance"]["below_threshold"]["listed"]
    assert [w["window_start"] for w in below if w["version"] == "v1"] == windows[3:], below
    assert {w["window_start"] for w in below if w["version"] == "v2"} >= set(windows[:6]), below
    assert {w["condition"] for w in below} == {"accuracy < 0.8"}
    assert [p for p in sections["performance"]["below_threshold"]["periods"] if p["version"] == "v1"] == [
        {"version": "v1", "metric": "accuracy", "rule": "accuracy-low", "from": windows[3], "to": windows[6],
         "windows": 4}]

    # -- the actions taken: retrain on v1 (the rule), the canary's rollback (verdict and lifecycle) ------
    actions = {(a["action"], a["version"], a["source"].split(" (")[0]) for a in sections["incidents"]["actions"]}
    assert ("retrain", "v1", "alert performance") in actions, actions
    assert ("rollback", "v2", "experiment credit-canary verdict rollback") in actions, actions
    assert ("rolled_back", "v2", "lifecycle") in actions, actions
    assert {v["version"]: v["state"] for v in sections["identity"]["versions"]} == {"v1": "active", "v2": "rolled_back"}
    (channel,) = sections["incidents"]["deliveries"]
    assert channel["channel"] == "ml-ops" and channel["delivered"] >= 2

    # -- the recommendations with their evidence -----------------------------------------------------------
    recs = {(r["action"], r["version"]): r for r in sections["recommendations"]["items"]}
    retrain = recs[("retrain", "v1")]
    assert retrain["summary"] == "retrain: accuracy below 0.8 in 4 of the last 7 windows and 1 feature drifting"
    assert "rule accuracy-low: accuracy < 0.8" in retrain["evidence"]
    assert f"drifting since {windows[0]}: income" in retrain["evidence"]
    investigate = recs[("investigate", "v1")]
    assert investigate["feature"] == "income" and "drifted in 3 of " in investigate["summary"]
    assert sections["bias"]["status"] == "not_configured"
    assert sections["performance"]["estimated"]["note"] == "estimated metrics: none recorded"
    assert f"content SHA-256 {doc['content_sha256']}" in first.stdout

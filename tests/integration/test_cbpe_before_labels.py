"""CBPE on real parts (Tansu broker -> worker -> ClickHouse 18.16 -> webhook): the labels are
delayed past the end of the stream, and the ``performance`` alert fires from the estimate
before any label arrives; the estimates are stored beside the realized metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from tests.integration.traffic import START_MS
from tests.support.kafka import produce
from tests.support.servers import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

WINDOW_S = 10


def rows(rng: np.random.Generator, n: int, spread: float) -> list[tuple[float, float, int]]:
    """(x, score, label): an over-confident model; a covariate shift to a smaller ``spread`` crowds
    the rows at its decision boundary, where it is often wrong (P(label | x) does not change)."""
    x = rng.normal(0.0, spread, n)
    score = 1 / (1 + np.exp(-4 * x))
    label = (rng.uniform(size=n) < 1 / (1 + np.exp(-1.5 * x))).astype(int)
    return list(zip(x.tolist(), score.tolist(), label.tolist(), strict=True))


def write_reference(path: Path, rng: np.random.Generator) -> None:
    lines = ["x,score,prediction,label"]
    lines += [f"{x:.5f},{s:.5f},{int(s > 0.5)},{y}" for x, s, y in rows(rng, 6000, 1.5)]
    path.write_text("\n".join(lines) + "\n")


def test_the_performance_alert_fires_from_the_estimate_before_any_label(broker, clickhouse, webhook_receiver,
                                                                        tmp_path):
    run = uuid.uuid4().hex[:8]
    topics = {"predictions": f"p-{run}", "feedback": f"f-{run}", "alerts": f"a-{run}", "dead_letter": f"d-{run}"}
    broker.create_topics(list(topics.values()), partitions=1)
    db = f"dl_{run}"
    rng = np.random.default_rng(21)
    reference = tmp_path / "reference.csv"
    write_reference(reference, rng)
    config = tmp_path / "driftline.yaml"
    config.write_text(f"""
kafka:
  bootstrap_servers: "{broker.bootstrap_servers}"
  group_id: g-{run}
  session_timeout: 4s
  topics: {json.dumps(topics)}
clickhouse:
  url: "clickhouse://default:@127.0.0.1:{clickhouse.tcp_port}/{db}"
metrics:
  port: {free_port()}
models:
  - name: churn
    task: binary_classification
    features: {{x: numeric}}
    reference: {{path: "{reference}"}}
    window: {{size: {WINDOW_S}s, idle_close: 2s}}
alerts:
  rules:
    - {{name: estimated-accuracy-low, kind: performance, severity: warning, action: notify,
       when: {{metric: estimated_accuracy, op: "<", value: 0.75}}}}
  channels:
    - {{type: webhook, name: hook, url: "${{HOOK_URL}}"}}
""")
    # Two windows like the reference (accuracy ~0.8), then two whose rows crowd the boundary (~0.6).
    events, feedback = [], []
    for w, spread in enumerate((1.5, 1.5, 0.4, 0.4)):
        for i, (x, score, label) in enumerate(rows(rng, 400, spread)):
            event_id = f"e-{w}-{i}"
            ts = START_MS + w * WINDOW_S * 1000 + i * 20
            events.append(("churn", json.dumps({"event_id": event_id, "model": "churn", "version": "v1", "ts": ts,
                                                "features": {"x": round(x, 5)}, "prediction": int(score > 0.5),
                                                "score": round(score, 5)}).encode()))
            feedback.append(("churn", json.dumps({"event_id": event_id, "model": "churn", "ts": ts + 3_600_000,
                                                  "label": label}).encode()))
    produce(broker.bootstrap_servers, topics["predictions"], events)

    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "driftline.cli", "run", "--config", str(config), "--datadir", str(tmp_path / "faust")],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HOOK_URL": webhook_receiver.url},
        cwd=Path(__file__).resolve().parents[2])
    client = clickhouse.client(database=None)

    def query(sql):
        try:
            return client.execute(sql.replace("{db}", db))
        except Exception:  # database not created yet
            return None

    try:
        alert = wait_until(lambda: next((json.loads(r.body) for r in webhook_receiver.requests
                                         if json.loads(r.body).get("kind") == "performance"), None), 90,
                           "a performance alert at the webhook")
        assert query("SELECT count() FROM {db}.feedback") == [(0,)]  # no label has arrived
        assert alert["status"] == "firing" and alert["model"] == "churn"
        assert "estimated before labels, CBPE" in alert["summary"]
        assert alert["evidence"]["estimate"] is True and alert["evidence"]["n_labels"] == 0
        assert alert["evidence"]["lower"] < alert["evidence"]["value"] < alert["evidence"]["upper"]
        assert alert["window_start_ms"] >= START_MS + 2 * WINDOW_S * 1000  # a shifted window, not a normal one
        estimates = wait_until(lambda: (r := query(
            "SELECT toUnixTimestamp(window_start), value FROM {db}.window_metrics FINAL "
            "WHERE model = 'churn' AND metric = 'estimated_accuracy' ORDER BY 1")) and len(r) == 4 and r, 30,
                               "four windows of estimates stored")
        values = [v for _, v in estimates]
        assert min(values[:2]) > 0.75 > max(values[2:]), values

        # The labels arrive an hour (event time) after the stream ended: the realized accuracy lands in
        # the same table, in the windows of the join time (the labels' time), as realized metrics do.
        produce(broker.bootstrap_servers, topics["feedback"], feedback)
        realized = wait_until(lambda: (r := query(
            "SELECT toUnixTimestamp(window_start), value FROM {db}.window_metrics FINAL "
            "WHERE model = 'churn' AND metric = 'accuracy'")) and r, 60, "realized accuracy stored")
        assert all(0.4 < v < 0.95 for _, v in realized)
        print("estimated_accuracy per window:", values, "realized:", realized)
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
        print((tmp_path / "worker.log").read_text()[-4000:])

"""Issue 2 end to end on real parts: Tansu broker -> driftline worker -> ClickHouse 18.16 -> webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.integration.traffic import START_MS, make_traffic
from tests.support.kafka import produce
from tests.support.servers import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

SECRET = "s3cret-for-tests"


def write_config(path: Path, *, bootstrap: str, topics: dict, ch_url: str, metrics_port: int,
                 webhook_url: str, group: str) -> None:
    path.write_text(f"""
kafka:
  bootstrap_servers: "{bootstrap}"
  group_id: {group}
  session_timeout: 4s
  topics: {json.dumps(topics)}
clickhouse:
  url: "{ch_url}"
metrics:
  port: {metrics_port}
worker:
  checkpoint_interval: 2s
models:
  - name: credit
    task: binary_classification
    features: {{income: numeric, age: numeric, country: categorical}}
    reference: {{warmup_events: 2000}}
    window: {{size: 10s, idle_close: 3s}}
  - name: price
    task: regression
    features: {{sqft: numeric, rooms: numeric}}
    reference: {{warmup_events: 2000}}
    window: {{size: 10s, idle_close: 3s}}
  - name: fraud
    task: binary_classification
    features: {{amount: numeric, merchant: categorical}}
    reference: {{warmup_events: 2000}}
    window: {{size: 10s, idle_close: 3s}}
    drift:
      numeric: [{{type: psi, threshold: 0.2}}, {{type: ks, threshold: 0.01}}]
      categorical: [{{type: chi2, threshold: 0.01}}, {{type: unseen_share, threshold: 0.05}}]
    concept: {{detector: adwin, params: {{delta: 0.002}}}}
alerts:
  channels:
    - {{type: webhook, name: retrain, url: "${{RETRAIN_WEBHOOK_URL}}", secret: "${{RETRAIN_WEBHOOK_SECRET:-}}"}}
""")


def test_prediction_travels_to_clickhouse_and_alert(broker, clickhouse, webhook_receiver, tmp_path):
    run = uuid.uuid4().hex[:8]
    topics = {"predictions": f"p-{run}", "feedback": f"f-{run}", "alerts": f"a-{run}", "dead_letter": f"d-{run}"}
    broker.create_topics(list(topics.values()), partitions=4)
    traffic = make_traffic()
    db = f"dl_{run}"
    metrics_port = free_port()
    config = tmp_path / "driftline.yaml"
    write_config(config, bootstrap=broker.bootstrap_servers, topics=topics,
                 ch_url=f"clickhouse://default:@127.0.0.1:{clickhouse.tcp_port}/{db}",
                 metrics_port=metrics_port, webhook_url=webhook_receiver.url, group=f"g-{run}")

    produce(broker.bootstrap_servers, topics["feedback"], traffic.feedback_early)
    produce(broker.bootstrap_servers, topics["predictions"], traffic.predictions)
    produce(broker.bootstrap_servers, topics["predictions"], [("credit", m) for m in traffic.malformed])
    produce(broker.bootstrap_servers, topics["feedback"], traffic.feedback_late)

    env = {**os.environ, "RETRAIN_WEBHOOK_URL": webhook_receiver.url, "RETRAIN_WEBHOOK_SECRET": SECRET}
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "driftline.cli", "run", "--config", str(config), "--datadir", str(tmp_path / "faust")],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=Path(__file__).resolve().parents[2])
    client = clickhouse.client(database=None)
    try:
        def count(sql):
            try:
                return client.execute(sql.replace("{db}", db))[0][0]
            except Exception:  # database not created yet
                return None

        wait_until(lambda: count("SELECT count() FROM {db}.predictions FINAL") == traffic.n_predictions, 120,
                   "all predictions stored")
        wait_until(lambda: count("SELECT count() FROM {db}.feedback FINAL") == traffic.n_feedback, 60,
                   "all feedback stored")
        assert count("SELECT uniqExact(event_id) FROM {db}.predictions") == traffic.n_predictions
        assert count("SELECT uniqExact(event_id) FROM {db}.feedback") == traffic.n_feedback
        wait_until(lambda: count("SELECT count() FROM {db}.dead_letters FINAL") == len(traffic.malformed), 30,
                   "all malformed messages dead-lettered")
        reasons = client.execute(f"SELECT reason, count() FROM {db}.dead_letters FINAL GROUP BY reason")
        assert sum(n for _, n in reasons) == 50 and all(r for r, _ in reasons)
        no_reason = count("SELECT countIf(detail = '') FROM {db}.dead_letters FINAL")
        assert no_reason == 0

        # 100 s of event time per model in 10 s windows: wait for the last window (idle close).
        last_window = (START_MS // 1000 // 10 * 10) + 90
        wait_until(lambda: count(f"SELECT count() FROM {{db}}.drift_results FINAL WHERE model = 'credit'"
                                 f" AND toUnixTimestamp(window_start) >= {last_window}"), 60, "last window closed")
        rows = client.execute(
            f"SELECT toUnixTimestamp(window_start) AS w, feature, max(drifted) FROM {db}.drift_results FINAL "
            "WHERE model = 'credit' GROUP BY w, feature ORDER BY w, feature")
        shift_s = traffic.shift_ms // 1000
        before = [(w, f) for w, f, d in rows if w + 10 <= shift_s and d]
        after = {w for w, f, d in rows if w >= shift_s and f == "income" and d}
        windows_after = {w for w, f, d in rows if w >= shift_s}
        assert before == [], f"drift flagged before the shift: {before}"
        assert windows_after and after == windows_after, (after, windows_after)
        # The model's score follows income, so the prediction drifts with it; age and country never do.
        assert not [r for r in rows if r[0] >= shift_s and r[1] in ("age", "country") and r[2]]
        assert {w for w, f, d in rows if f == "score" and d} == windows_after
        price_drift = count("SELECT sum(drifted) FROM {db}.drift_results FINAL WHERE model = 'price'")
        assert price_drift == 0

        # Issue 3 on real windows: a categorical drift and a concept drift on the error stream.
        fraud = client.execute(
            f"SELECT toUnixTimestamp(window_start) AS w, feature, test, drifted FROM {db}.drift_results FINAL "
            "WHERE model = 'fraud' ORDER BY w, feature, test")
        assert not [r for r in fraud if r[0] + 10 <= shift_s and r[3] and r[1] != "error_stream"], "drift before shift"
        merchant_after = {(w, t) for w, f, t, d in fraud if f == "merchant" and d and w >= shift_s}
        assert {w for w, _ in merchant_after} == {w for w, *_ in fraud if w >= shift_s}
        assert {t for _, t in merchant_after} == {"chi2", "unseen_share"}
        assert not [r for r in fraud if r[1] in ("amount", "prediction") and r[3]], "amount never changes"
        concept = [w for w, f, t, d in fraud if f == "error_stream" and t == "adwin" and d]
        # The error stream is in label arrival order; a change point is stamped with the label
        # stream's clock (the latest join time), so it falls at or after the shift.
        assert concept and min(concept) >= shift_s, concept
        acc = dict(client.execute(
            f"SELECT toUnixTimestamp(window_start) >= {shift_s} AS after, avg(value) FROM {db}.window_metrics FINAL "
            "WHERE model = 'fraud' AND metric = 'accuracy' GROUP BY after"))
        assert acc[0] > 0.9 and acc[1] < 0.2, acc

        accuracy = count("SELECT avg(value) FROM {db}.window_metrics FINAL WHERE model='credit' AND metric='accuracy'")
        assert 0.8 < accuracy < 0.97
        mae = count("SELECT avg(value) FROM {db}.window_metrics FINAL WHERE model='price' AND metric='mae'")
        assert 2_000 < mae < 6_000

        # The error rate changes in the windows where the new merchant appears: since issue 18 the alert says
        # so (a covariate_shift naming the drifted input), where a concept_drift would claim no input moved.
        concept_alert = wait_until(lambda: next((r for r in webhook_receiver.requests
                                                 if json.loads(r.body).get("kind") == "covariate_shift"), None), 30,
                                   "a covariate_shift alert at the webhook")
        assert json.loads(concept_alert.body)["model"] == "fraud"
        assert "error rate changed with drift in `merchant`" in json.loads(concept_alert.body)["summary"]
        alert = wait_until(lambda: next((r for r in webhook_receiver.requests
                                         if json.loads(r.body).get("kind") == "data_drift"
                                         and json.loads(r.body)["model"] == "credit"), None), 30,
                           "a data_drift alert at the webhook")
        body = json.loads(alert.body)
        assert body["status"] == "firing" and body["model"] == "credit"
        assert body["features"][0]["name"] == "income" if isinstance(body["features"][0], dict) else body["features"][0] == "income"
        for key in ("alert_id", "dedup_key", "severity", "version", "window_start", "window_end", "summary"):
            assert body[key], key
        timestamp = alert.headers.get("X-Driftline-Timestamp")
        key = alert.headers.get("Idempotency-Key")
        assert key == body["alert_id"]
        expected = hmac.new(SECRET.encode(), f"{timestamp}.{key}.".encode() + alert.body, hashlib.sha256).hexdigest()
        assert alert.headers["X-Driftline-Signature"] == f"v2={expected}"
        assert count("SELECT count() FROM {db}.alerts FINAL WHERE kind = 'data_drift' AND status = 'firing'") >= 1

        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert f'driftline_events_total{{model="credit",stream="predictions",version="v1"}} {float(10_000)}' in text
        dead = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("driftline_dead_letters_total{"))
        assert dead == 50.0
        assert 'driftline_drift_detected{feature="income",model="credit",version="v1"}' in text
        assert 'driftline_drift_statistic{feature="income",model="credit",test="wasserstein",version="v1"}' in text
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
        print((tmp_path / "worker.log").read_text()[-5000:])

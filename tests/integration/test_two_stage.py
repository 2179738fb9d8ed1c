"""Keying makes no difference (issue 17): one model's traffic keyed at random over 4 partitions and
consumed by 2 worker processes under ``worker.aggregation: two_stage`` stores the same
``drift_results``, ``window_metrics``, segment metrics and alerts as the same traffic keyed by model
and consumed by one worker, to 1e-9 on every statistic. Real Tansu broker, real ClickHouse."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import httpx
import pytest

from tests.faults.harness import MODELS, Scenario, Worker
from tests.integration.traffic import START_MS, STEP_MS, make_traffic
from tests.support.kafka import produce
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

N = 3000  # per model: 30 s of event time, three 10 s windows
IDLE = "6s"
TABLES = {  # table -> columns that are not results (processing time)
    "drift_results": {"computed_at"},
    "window_metrics": {"computed_at"},
    "segment_metrics": {"computed_at"},
    "alerts": {"ts", "payload", "summary"},
}


class TwoStage(Scenario):
    """A scenario whose models have reference files and whose worker aggregates in two stages."""

    def create_topics(self) -> None:
        self.topics["partials"] = f"pa-{self.run}"
        super().create_topics()

    def config(self, metrics_port: int) -> Path:
        path = super().config(metrics_port)
        models = f"""
models:
  - name: credit
    task: binary_classification
    features: {{income: numeric, age: numeric, country: categorical}}
    reference: {{path: {self.tmp_path / 'credit.jsonl'}}}
    window: {{size: 10s, idle_close: {IDLE}}}
    segments: {{keys: [{{name: country, source: feature}}]}}
  - name: price
    task: regression
    features: {{sqft: numeric, rooms: numeric}}
    reference: {{path: {self.tmp_path / 'price.jsonl'}}}
    window: {{size: 10s, idle_close: {IDLE}}}
"""
        text = path.read_text().replace(MODELS, models).replace(
            "worker:\n  checkpoint_interval: 1s\n",
            "worker:\n  checkpoint_interval: 1s\n  aggregation: two_stage\n  aggregation_wait: 60s\n")
        path.write_text(text)
        return path


def references(tmp_path: Path, traffic) -> None:
    rows: dict[str, list] = {"credit": [], "price": []}
    for model, value in traffic.predictions:
        event = json.loads(value)
        if model in rows and len(rows[model]) < 1500:
            rows[model].append({**event["features"], "prediction": event["prediction"]})
    for model, lines in rows.items():
        (tmp_path / f"{model}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))


def lean(traffic):
    """credit and price only; labels after their predictions (label windows then never see a late label)."""
    keep = ("credit", "price")
    predictions = [(k, v) for k, v in traffic.predictions if k in keep]
    feedback = [(k, v) for k, v in traffic.feedback_early + traffic.feedback_late if k in keep]
    return predictions, sorted(feedback, key=lambda kv: json.loads(kv[1])["ts"])


def ready(worker: Worker, port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def results(sc: Scenario) -> dict[str, list[tuple]]:
    out = {}
    for table, skip in TABLES.items():
        columns = [r[0] for r in sc.rows(f"DESCRIBE TABLE {{db}}.{table}") if r[0] not in skip]
        out[table] = sorted(sc.rows(f"SELECT {', '.join(columns)} FROM {{db}}.{table} FINAL"), key=repr)
    return out


def same(a, b, where=""):
    if isinstance(a, float) and isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-12), where
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), (where, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


def finished(sc: Scenario, n_predictions: int, n_feedback: int) -> bool:
    last = (START_MS + (N - 1) * STEP_MS) // 10_000 * 10
    return (sc.stored("predictions"), sc.stored("feedback")) == (n_predictions, n_feedback) and all(
        sc.scalar(f"SELECT count() FROM {{db}}.window_metrics FINAL WHERE model = '{m}' AND metric = 'labels' "
                  f"AND toUnixTimestamp(window_start) = {last}") for m in ("credit", "price"))


def run(broker, clickhouse, tmp_path: Path, predictions, feedback, *, processes: int) -> dict:
    sc = TwoStage(broker, clickhouse, tmp_path)
    worker = sc.start_worker(args=("--processes", str(processes)) if processes > 1 else ())
    try:
        ports = [worker.metrics_port + i for i in range(processes)]
        wait_until(lambda: all(ready(worker, p) for p in ports), 120, "every process holds partitions")
        produce(sc.bootstrap, sc.topics["predictions"], predictions)
        produce(sc.bootstrap, sc.topics["feedback"], feedback)
        wait_until(lambda: finished(sc, len(predictions), len(feedback)), 180, "every window closed")
        return results(sc)
    finally:
        worker.stop()
        if not worker.log_path.exists() or worker.proc.returncode not in (0, None, -15):
            print(worker.log()[-3000:])


def test_random_keying_over_two_processes_stores_what_model_keying_on_one_worker_stores(broker, clickhouse,
                                                                                         tmp_path):
    traffic = make_traffic(N)
    predictions, feedback = lean(traffic)
    rng = random.Random(17)
    keys = {json.loads(v)["event_id"]: f"k{rng.randrange(1_000_000)}" for _, v in predictions}
    # A label keyed like its prediction: both land on one partition (the join is partition-local).
    shuffled_p = [(keys[json.loads(v)["event_id"]], v) for _, v in predictions]
    shuffled_f = [(keys[json.loads(v)["event_id"]], v) for _, v in feedback]
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    references(tmp_path / "one", traffic)
    references(tmp_path / "two", traffic)
    one = run(broker, clickhouse, tmp_path / "one", predictions, feedback, processes=1)
    two = run(broker, clickhouse, tmp_path / "two", shuffled_p, shuffled_f, processes=2)
    assert len(one["drift_results"]) >= 2 * 3 * 2  # two models, three windows, features and prediction
    assert any(r for r in one["segment_metrics"])
    assert {r[0] for r in one["window_metrics"]} == {"credit", "price"}
    for table in TABLES:
        same(two[table], one[table], table)

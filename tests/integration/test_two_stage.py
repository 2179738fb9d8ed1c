"""Keying makes no difference (issue 17): one model's traffic keyed at random over 4 partitions and
consumed by 2 worker processes under ``worker.aggregation: two_stage`` stores the same
``drift_results``, ``window_metrics``, segment metrics and alerts as the same traffic keyed by model
and consumed by one worker, to 1e-9 on every statistic; so does a run where one of two workers is
killed with SIGKILL mid-stream and started again. Real Tansu broker, real ClickHouse.

Labels are keyed at random independently of their predictions: most land on another partition
and meet their prediction on the join partition of its event id (the join topic, see
docs/deployment.md, "The label join across partitions")."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import httpx
import pytest

from tests.faults.harness import MODELS, Scenario
from tests.integration.traffic import make_traffic
from tests.support.kafka import produce
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

N = 3000  # per model: 30 s of event time, three 10 s windows
IDLE = "12s"  # a CPU-starved worker (CI, 3 test workers on 2 cores) must not look idle between batches
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
        self.topics["join"] = f"j-{self.run}"
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


def _ms(ts: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)


def ready(port: int) -> bool:
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
        if len(a) != len(b) and a and isinstance(a[0], tuple):  # rows: name the ones only one side has
            keys_a, keys_b = {r[:5] for r in a}, {r[:5] for r in b}
            assert len(a) == len(b), (where, len(a), len(b), sorted(keys_a - keys_b)[:10], sorted(keys_b - keys_a)[:10])
        assert len(a) == len(b), (where, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


def finished(sc: Scenario, n_predictions: int, n_feedback: int, last_label_ms: int) -> bool:
    # The label window of the last join (a label comes after its prediction: the join's time is the label's).
    last = last_label_ms // 10_000 * 10
    return (sc.stored("predictions"), sc.stored("feedback")) == (n_predictions, n_feedback) and all(
        sc.scalar(f"SELECT count() FROM {{db}}.window_metrics FINAL WHERE model = '{m}' AND metric = 'labels' "
                  f"AND toUnixTimestamp(window_start) = {last}") for m in ("credit", "price"))


def run(broker, clickhouse, tmp_path: Path, predictions, feedback, *, processes: int = 1, kill: bool = False) -> dict:
    """``processes`` worker processes (``--processes``); with ``kill``, two separate workers, one of
    them killed with SIGKILL after the first rows are stored and started again."""
    tmp_path.mkdir()
    references(tmp_path, make_traffic(N))
    sc = TwoStage(broker, clickhouse, tmp_path)
    workers = [sc.start_worker(args=("--processes", str(processes)) if processes > 1 else ())]
    try:
        ports = [workers[0].metrics_port + i for i in range(processes)]
        if kill:  # the second once the first has migrated the schema (two at once would race)
            wait_until(lambda: all(ready(p) for p in ports), 120, "the first worker holds partitions")
            workers.append(sc.start_worker())
            ports.append(workers[1].metrics_port)
        wait_until(lambda: all(ready(p) for p in ports), 120, "every process holds partitions")
        produce(sc.bootstrap, sc.topics["predictions"], predictions)
        if kill:
            wait_until(lambda: sc.stored("predictions") > 0, 60, "the first rows stored", interval=0.05)
            workers[0].kill9()
            workers.append(sc.start_worker())
        produce(sc.bootstrap, sc.topics["feedback"], feedback)
        last_label_ms = max(json.loads(v)["ts"] if isinstance(json.loads(v)["ts"], int) else _ms(json.loads(v)["ts"])
                            for _, v in feedback)
        wait_until(lambda: finished(sc, len(predictions), len(feedback), last_label_ms), 180, "every window closed")
        assert all(w.alive() for w in workers[1:]), "a worker died"
        return results(sc)
    finally:
        for w in workers:
            w.stop()


@pytest.fixture(scope="module")
def traffic():
    predictions, feedback = lean(make_traffic(N))
    rng = random.Random(17)
    keys = {json.loads(v)["event_id"]: f"k{rng.randrange(1_000_000)}" for _, v in predictions}
    # A label keyed independently of its prediction: mostly another partition (joined on the join topic).
    randomly = ([(keys[json.loads(v)["event_id"]], v) for _, v in predictions],
                [(f"l{rng.randrange(1_000_000)}", v) for _, v in feedback])
    return (predictions, feedback), randomly


@pytest.fixture(scope="module")
def one_worker(broker, clickhouse, tmp_path_factory, traffic):
    """The same traffic keyed by model, one worker."""
    one = run(broker, clickhouse, tmp_path_factory.mktemp("two-stage") / "one", *traffic[0])
    assert len(one["drift_results"]) >= 2 * 3 * 2  # two models, three windows, features and prediction
    assert one["segment_metrics"] and one["alerts"]
    assert {r[0] for r in one["window_metrics"]} == {"credit", "price"}
    return one


def test_random_keying_over_two_processes_stores_what_model_keying_on_one_worker_stores(
        broker, clickhouse, tmp_path, traffic, one_worker):
    two = run(broker, clickhouse, tmp_path / "two", *traffic[1], processes=2)
    for table in TABLES:
        same(two[table], one_worker[table], table)


def test_a_worker_killed_mid_stream_changes_nothing(broker, clickhouse, tmp_path, traffic, one_worker):
    killed = run(broker, clickhouse, tmp_path / "killed", *traffic[1], kill=True)
    for table in TABLES:
        same(killed[table], one_worker[table], table)

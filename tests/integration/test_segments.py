"""Issue 14 on real parts: the Tansu broker, a driftline worker and ClickHouse 18.16.

One worker run, two models with segments by region and fairness on region:

* ``loans``: from half-way on, the region ``south`` is approved at 0.3 where the others are at 0.5
  (below four fifths): a ``fairness`` alert fires, naming ``south`` and its numbers;
* ``fair``: equal approval everywhere, and 10,000 distinct customer ids in the segment key
  ``customer`` (max 50 values): no fairness alert, at most 51 groups per window (``__other__``
  included), the folded predictions counted, and the checkpoint stays small.

The governance query reads the fairness results back from the server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from driftline.sinks.queries import fairness_history, fairness_summary
from driftline.stream.wiring import build_store

from tests.integration.traffic import START_MS
from tests.support.kafka import produce
from tests.support.segment_traffic import segment_traffic
from tests.support.servers import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

N = 8_000  # per model: 40 s of event time at 5 ms, four 10 s windows of 2,000 predictions
STEP_MS = 5


def write_config(path: Path, *, bootstrap: str, topics: dict, ch_url: str, metrics_port: int, group: str) -> None:
    model = """
  - name: {name}
    task: binary_classification
    features: {{income: numeric, channel: categorical}}
    reference: {{warmup_events: 500}}
    window: {{size: 10s, idle_close: 3s}}
    segments:
      keys: [region, {{name: channel, source: feature}}, {{name: customer, max_values: 50}}]
    fairness: {{keys: [region]}}
"""
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
  checkpoint_interval: 1s
models:{model.format(name="loans")}{model.format(name="fair")}
""")


def test_bias_pages_equal_rates_do_not_and_ten_thousand_values_stay_bounded(broker, clickhouse, tmp_path):
    run = uuid.uuid4().hex[:8]
    topics = {"predictions": f"p-{run}", "feedback": f"f-{run}", "alerts": f"a-{run}", "dead_letter": f"d-{run}"}
    broker.create_topics(list(topics.values()), partitions=2)
    db = f"seg_{run}"
    start = START_MS + 3_600_000  # a window boundary
    biased = segment_traffic(N, start, bias_at=N // 2, models=("loans",), step_ms=STEP_MS)
    equal = segment_traffic(N, start, seed=12, models=("loans",), step_ms=STEP_MS, customers=10_000, hot=10,
                            names={"loans": "fair"})
    produce(broker.bootstrap_servers, topics["predictions"], biased.predictions + equal.predictions)
    produce(broker.bootstrap_servers, topics["feedback"], biased.feedback + equal.feedback)

    metrics_port = free_port()
    config = tmp_path / "driftline.yaml"
    write_config(config, bootstrap=broker.bootstrap_servers, topics=topics, metrics_port=metrics_port,
                 ch_url=f"clickhouse://default:@127.0.0.1:{clickhouse.tcp_port}/{db}", group=f"g-{run}")
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "driftline.cli", "run", "--config", str(config), "--datadir", str(tmp_path / "f")],
            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ), cwd=Path(__file__).resolve().parents[2])
    client = clickhouse.client(database=None)

    def scalar(sql: str):
        try:
            return client.execute(sql.replace("{db}", db))[0][0]
        except Exception:  # noqa: BLE001 - the database is not there yet
            return None

    try:
        last = (start + (N - 1) * STEP_MS) // 10_000 * 10
        wait_until(lambda: scalar("SELECT count() FROM {db}.fairness_results FINAL WHERE measure ="
                                  f" 'equalized_odds_difference' AND toUnixTimestamp(window_start) >= {last}") == 2,
                   120, "the last label windows of both models closed", process=worker, log=log_path)

        # The bias: a fairness alert naming the group and giving its numbers.
        alerts = client.execute(f"SELECT model, dedup_key, summary, payload FROM {db}.alerts FINAL"
                                " WHERE kind = 'fairness' AND status = 'firing'")
        assert {a[0] for a in alerts} == {"loans"}, alerts
        # The selection side (demographic parity) is the bias built in; the outcome side (equal
        # opportunity) may page too, as the rates the labels give differ by group as well.
        by_key = {a[1]: a for a in alerts}
        assert set(by_key) <= {"loans/v1/fairness/region/selection", "loans/v1/fairness/region/outcomes"}, alerts
        model, key, summary, payload = by_key["loans/v1/fairness/region/selection"]
        assert "group south" in summary and "demographic_parity" in summary, summary
        evidence = json.loads(payload)["evidence"]
        ratio = next(m for m in evidence["measures"] if m["measure"] == "demographic_parity_ratio")
        assert ratio["worst_group"] == "south" and ratio["value"] < 0.8 and ratio["flagged"]
        assert ratio["worst_n"] >= 30 and 0.2 < ratio["worst_value"] < 0.4
        assert {g["group"] for g in ratio["groups"]} == {"north", "south", "east", "west"}
        first = client.execute(f"SELECT min(window_start) FROM {db}.alerts FINAL WHERE kind = 'fairness'")[0][0]
        assert first.timestamp() * 1000 >= start + N // 2 * STEP_MS  # not before the bias began

        # Equal rates: nothing flagged on the selection side.
        assert scalar("SELECT count() FROM {db}.fairness_results FINAL WHERE model = 'fair' AND flagged = 1"
                      " AND measure LIKE 'demographic%'") == 0

        # 10,000 customer ids: at most 50 groups plus __other__ per window, the rest folded.
        groups = client.execute(
            f"SELECT window_start, uniqExact(segment_value), sumIf(value, segment_value = '__other__'), sum(value)"
            f" FROM {db}.segment_metrics FINAL WHERE model = 'fair' AND segment_key = 'customer'"
            " AND metric = 'predictions' GROUP BY window_start")
        assert groups and all(n <= 51 for _, n, _, _ in groups), groups
        assert sum(total for *_, total in groups) == N
        assert sum(other for _, _, other, _ in groups) > N / 4
        folded = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        line = next(x for x in folded.splitlines()
                    if x.startswith('driftline_segment_values_folded_total{key="customer",model="fair"}'))
        assert float(line.rsplit(" ", 1)[1]) > N / 4
        largest = scalar("SELECT max(length(state)) FROM {db}.checkpoints")
        assert largest < 2_000_000, largest

        # The governance view reads it back from the server.
        store = build_store(f"clickhouse://default:@127.0.0.1:{clickhouse.tcp_port}/{db}")
        store.use_database()
        try:
            history = fairness_history(store, "loans", 0, 2**31 - 1, 1000, version="v1")
            summary_rows = fairness_summary(store, "loans", 0, 2**31 - 1, 100)
        finally:
            store.close()
        dp = [r for r in history if r.measure == "demographic_parity_ratio"]
        assert len(dp) == 4 and [r.flagged for r in dp][:2] == [False, False] and dp[-1].worst_group == "south"
        assert dp[-1].groups and {g["group"] for g in dp[-1].groups} == {"north", "south", "east", "west"}
        row = next(s for s in summary_rows if s.measure == "demographic_parity_ratio" and s.key == "region")
        assert row.windows == 4 and row.flagged_windows >= 1
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()

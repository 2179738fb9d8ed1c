"""Events the store refuses never stall the real worker (Tansu + ClickHouse 18.16).

Valid RFC 3339 event times that a ``DateTime`` cannot hold (years 0001 and 9999) used to stall
the worker forever: the insert failed, the error was taken for an outage, and the retry never
ended. Now each one is dead-lettered with its reason (``store_rejected`` with the server's
message, or ``out_of_range`` where the decoder's event-time bounds catch it first), every other
event is stored exactly once, and a batch spanning 150 months is stored or dead-lettered
whole, never lost.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.faults.harness import Scenario
from tests.integration.traffic import make_traffic
from tests.support.kafka import produce
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def test_events_the_server_refuses_are_dead_lettered_and_the_worker_goes_on(broker, clickhouse, tmp_path):
    t = make_traffic(1000, seed=13, n_malformed=0)
    good = json.loads(t.predictions[0][1])
    hostile = [{**good, "event_id": "year-1", "ts": "0001-01-01T00:00:00Z"},
               {**good, "event_id": "year-9999", "ts": "9999-12-31T23:59:59Z"}]
    months = [{**good, "event_id": f"month-{i}",
               "ts": datetime(2000 + i // 12, i % 12 + 1, 15, tzinfo=UTC).isoformat()} for i in range(150)]
    half = len(t.predictions) // 2
    records = [*t.predictions[:half], *[("credit", json.dumps(e).encode()) for e in hostile],
               ("credit", json.dumps(months).encode()), *t.predictions[half:]]
    sc = Scenario(broker, clickhouse, tmp_path, partitions=2)
    produce(sc.bootstrap, sc.topics["predictions"], records)
    worker = sc.start_worker()
    hostile_ids = [e["event_id"] for e in hostile + months]
    try:
        def accounted() -> bool:
            stored = set(sc.rows("SELECT event_id FROM {db}.predictions FINAL WHERE event_id IN "
                                 f"({', '.join(repr(i) for i in hostile_ids)})"))
            dead = sc.scalar("SELECT count() FROM {db}.dead_letters FINAL")
            return sc.stored("predictions") >= t.n_predictions and len(stored) + dead >= len(hostile)
        wait_until(accounted, 120, "every event stored or dead-lettered", process=worker.proc, log=worker.log_path,
                   retry_on=(Exception,))  # the database does not exist until the worker starts

        def committed() -> int:  # offsets are next offsets: their sum is the messages consumed
            return sum(json.loads(o).get(sc.topics["predictions"], 0)
                       for (o,) in sc.rows("SELECT offsets FROM {db}.checkpoints FINAL"))
        wait_until(lambda: committed() == len(records), 60, "every message checkpointed (lag drained)",
                   process=worker.proc, log=worker.log_path)
        normal = sc.scalar("SELECT count() FROM {db}.predictions FINAL WHERE event_id NOT IN "
                           f"({', '.join(repr(i) for i in hostile_ids)})")
        duplicates = sc.scalar("SELECT count() - uniqExact(model, event_id) FROM {db}.predictions FINAL")
        stored_hostile = {r[0] for r in sc.rows("SELECT event_id FROM {db}.predictions FINAL WHERE event_id IN "
                                                f"({', '.join(repr(i) for i in hostile_ids)})")}
        reasons = dict(sc.rows("SELECT reason, count() FROM {db}.dead_letters FINAL GROUP BY reason"))
        details = sc.rows("SELECT reason, detail FROM {db}.dead_letters FINAL")
        alive, paused = worker.alive(), worker.metrics().get("driftline_consumer_paused")
    finally:
        worker.stop()
        log = worker.log()
    assert alive and paused == 0.0, log[-3000:]
    assert normal == t.n_predictions and duplicates == 0
    # Each hostile event is stored or dead-lettered with a reason; none is both missing and unexplained.
    assert {"year-1", "year-9999"}.isdisjoint(stored_hostile)
    assert set(reasons) <= {"store_rejected", "out_of_range"} and sum(reasons.values()) >= 2, reasons
    assert all(detail for _, detail in details)
    rejected = [d for r, d in details if r == "store_rejected"]
    assert all("Code: 53" in d or "out of range" in d for d in rejected), rejected
    month_rows = len([i for i in stored_hostile if i.startswith("month-")])
    assert month_rows in (0, 150), month_rows  # the 150-month batch is whole, stored or dead-lettered
    print(f"FIGURES store rejections: normal stored {normal}, dead letters {reasons}, 150-month batch stored "
          f"{month_rows}")

"""ClickHouse stopped for 30 s mid-stream: the worker pauses, keeps its memory under the cap,
recovers by itself when the server is back, and loses nothing."""

from __future__ import annotations

import time

import pytest

from tests.faults.harness import Scenario, traffic
from tests.support.kafka import produce
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

N = 6000
OUTAGE_S = 30
RSS_LIMIT = 1536 * 2**20  # far above the ~300 MiB a worker uses; a leak would cross it


def test_clickhouse_outage_pauses_then_recovers_without_loss(broker, clickhouse, tmp_path):
    t = traffic(N)
    sc = Scenario(broker, clickhouse, tmp_path)
    half = len(t.predictions) // 2
    produce(sc.bootstrap, sc.topics["feedback"], t.feedback_early)
    produce(sc.bootstrap, sc.topics["predictions"], t.predictions[:half])
    worker = sc.start_worker()
    samples = []
    try:
        wait_until(lambda: sc.stored("predictions") == half, 90, "the first half stored")
        clickhouse.stop()
        try:
            produce(sc.bootstrap, sc.topics["predictions"], t.predictions[half:])
            produce(sc.bootstrap, sc.topics["predictions"], [("credit", m) for m in t.malformed])
            produce(sc.bootstrap, sc.topics["feedback"], t.feedback_late)
            deadline = time.monotonic() + OUTAGE_S
            while time.monotonic() < deadline:
                m = worker.metrics()
                samples.append((m.get("driftline_consumer_paused"), m.get("driftline_buffered_rows"),
                                m.get("driftline_buffered_rows_cap"), worker.rss_bytes()))
                assert worker.alive(), "the worker died while ClickHouse was down"
                time.sleep(1)
        finally:
            clickhouse.start()
        wait_until(lambda: (sc.stored("predictions"), sc.stored("feedback"), sc.stored("dead_letters"))
                   == (t.n_predictions, t.n_feedback, len(t.malformed)), 120, "every event stored after the outage")
        wait_until(lambda: sc.last_window_closed(t, N), 60, "the last window closed")
        wait_until(lambda: worker.metrics().get("driftline_consumer_paused") == 0.0, 30, "consumption resumed")
        for _ in range(3):
            samples.append((0.0, worker.metrics().get("driftline_buffered_rows"), None, worker.rss_bytes()))
            time.sleep(0.5)
        assert worker.alive()
    finally:
        code = worker.stop()
        print(worker.log()[-4000:])

    assert any(p == 1.0 for p, *_ in samples), "the consumer never reported a pause"
    cap = max(c for *_, c, _ in samples if c)
    peak_buffer = max(b or 0 for _, b, *_ in samples)
    peak_rss = max(r for *_, r in samples)
    assert peak_buffer <= cap, (peak_buffer, cap)
    assert peak_rss < RSS_LIMIT, peak_rss
    assert sc.scalar("SELECT uniqExact(event_id, model) FROM {db}.predictions") == t.n_predictions
    # A window open during the outage was not closed as idle before its remaining events were read.
    sizes = sc.rows("SELECT model, toUnixTimestamp(window_start), n FROM {db}.window_metrics FINAL "
                    "WHERE metric = 'latency_p50_ms' ORDER BY 1, 2")
    assert {n for _, _, n in sizes} == {1000}, sizes
    assert len(sizes) == 3 * N // 1000
    print(f"FIGURES clickhouse_outage: produced={t.n_predictions} stored={sc.stored('predictions')} "
          f"peak_buffered_rows={peak_buffer:.0f} cap={cap:.0f} peak_rss_mib={peak_rss / 2**20:.0f} exit={code}")

"""Webhooks that refuse connections, answer 500 or 429, or hang: retried as configured (5 attempts,
exponential backoff, Retry-After honoured, 10 s timeout), ingestion unaffected, and the final
outcome of every (alert, channel) recorded in ``alert_deliveries``."""

from __future__ import annotations

import collections
import time

import pytest

from tests.faults.harness import Scenario, traffic
from tests.support.servers import WebhookReceiver, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

N = 6000
MAX_ATTEMPTS = 5  # AlertDispatcher default


def test_failing_webhooks_are_retried_and_recorded_without_slowing_ingestion(broker, clickhouse, tmp_path):
    t = traffic(N)
    plans = {"err500": [(500,), (500,)], "r429": [(429, {"Retry-After": "1"})], "hang": [(200, {}, 12.0)]}
    receivers = {name: WebhookReceiver(plan) for name, plan in plans.items()}
    for r in receivers.values():
        r.start()
    try:
        hooks = {name: r.url for name, r in receivers.items()}
        hooks["refused"] = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
        sc = Scenario(broker, clickhouse, tmp_path, webhooks=hooks)
        sc.produce_traffic(t)
        started = time.monotonic()
        worker = sc.start_worker()
        try:
            wait_until(lambda: sc.stored("predictions") == t.n_predictions, 90, "every prediction stored")
            ingest_s = time.monotonic() - started
            wait_until(lambda: sc.last_window_closed(t, N), 60, "the last window closed")
            alerts = set(sc.alert_ids())
            assert alerts

            def outcomes():
                return sc.rows("SELECT channel, alert_id, status, attempts, last_status_code "
                               "FROM {db}.alert_deliveries FINAL")

            wait_until(lambda: len(outcomes()) == 4 * len(set(sc.alert_ids())), 90, "an outcome per alert and channel")
            alerts = set(sc.alert_ids())
            rows = outcomes()
            assert worker.alive()
        finally:
            worker.stop()
            print(worker.log()[-3000:])
    finally:
        for r in receivers.values():
            r.stop()

    by_channel = collections.defaultdict(dict)
    for channel, alert_id, status, attempts, code in rows:
        by_channel[channel][alert_id] = (status, attempts, code)
    assert {c: set(d) for c, d in by_channel.items()} == {c: alerts for c in (*plans, "refused")}
    assert {s for s, a, _ in by_channel["refused"].values()} == {"failed"}
    assert {a for _, a, _ in by_channel["refused"].values()} == {MAX_ATTEMPTS}
    for name, plan in plans.items():
        assert {s for s, _, _ in by_channel[name].values()} == {"delivered"}, name
        requests = receivers[name].requests
        assert len(requests) == len(alerts) + len(plan), name
        assert sum(a for _, a, _ in by_channel[name].values()) == len(requests), name
        assert {r.headers["Idempotency-Key"] for r in requests} == alerts
    assert ingest_s < 60, ingest_s
    print(f"FIGURES webhook_faults: alerts={len(alerts)} ingest_s={ingest_s:.1f} "
          f"requests={ {n: len(r.requests) for n, r in receivers.items()} }")

"""``kill -9`` of the worker at five points, then a restart: the tables end as after a clean run.

The kill points are observed from outside, on what the worker has already written:

* ``mid_batch``        - the first rows are in ClickHouse, batches are in flight;
* ``mid_insert``       - about 40 % of the predictions are stored, inserts are in progress;
* ``mid_window_close`` - the first window results are stored, later windows are still closing;
* ``mid_webhook``      - the webhook receiver holds a request open (a slow response plan);
* ``during_rebalance`` - a second worker has subscribed but not yet been assigned partitions.

After each kill, the assertions: every event stored exactly once through FINAL, the prediction-
derived window results and drift alerts equal the clean run's, and the webhook saw every alert
state change once (an alert in flight at the kill may come twice, with the same Idempotency-Key).
"""

from __future__ import annotations

import collections
import threading
import time

import pytest

from tests.faults.harness import Scenario, traffic
from tests.support.kafka import produce
from tests.support.servers import WebhookReceiver
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

N = 6000  # events per model: 60 s of event time, six 10 s windows, the drift from the 4th on


class _Waiting(str):
    """What a run still waits for (falsy, so :func:`wait_until` goes on and names it on a timeout)."""

    def __bool__(self) -> bool:
        return False


def _finished(sc: Scenario, t, hook: WebhookReceiver) -> bool | _Waiting:
    stored = (sc.stored("predictions"), sc.stored("feedback"), sc.stored("dead_letters"))
    if stored != (t.n_predictions, t.n_feedback, len(t.malformed)):
        return _Waiting(f"stored {stored} of {(t.n_predictions, t.n_feedback, len(t.malformed))}")
    if not sc.last_window_closed(t, N):
        return _Waiting("the last window to close")
    alerts = sc.alert_ids()
    delivered = sc.scalar("SELECT count() FROM {db}.alert_deliveries FINAL WHERE status = 'delivered'")
    return bool(alerts) and delivered == len(alerts) or _Waiting(f"{delivered} of {len(alerts)} alerts delivered")


def _run(sc: Scenario, t, hook: WebhookReceiver, kill_when=None, *, rebalance=False) -> dict:
    worker = sc.start_worker()
    workers = [worker]
    in_flight: set[str] = set()
    try:
        if rebalance:
            wait_until(lambda: worker.metrics().get("driftline_worker_up") == 1.0, 60, "worker A up")
            pacer = threading.Thread(target=_paced, args=(sc, t), daemon=True)
            pacer.start()
            wait_until(lambda: sc.stored("predictions") > 0, 60, "worker A storing")
            second = sc.start_worker()
            workers.append(second)
            # B has subscribed (up) but holds no partition yet (healthz 503): the group is rebalancing.
            wait_until(lambda: second.metrics().get("driftline_worker_up") == 1.0, 60, "worker B subscribed")
            worker.kill9()
            pacer.join(60)
        elif kill_when is not None:
            sc.produce_traffic(t)
            wait_until(lambda: kill_when(sc, hook), 90, "the kill point", interval=0.05)
            worker.kill9()
            # In flight at the kill: every request the dead worker had sent (alerts of one close go
            # out concurrently, so more may have arrived between the kill point and the kill); a
            # request already on the wire is read by the receiver a moment later.
            time.sleep(0.3)
            in_flight = {r.headers.get("Idempotency-Key") for r in hook.requests}
            workers.append(sc.start_worker())
        else:
            sc.produce_traffic(t)
        wait_until(lambda: _finished(sc, t, hook), 150, "all events, windows and deliveries")
        time.sleep(2)  # a late duplicate delivery would show up here
        result = sc.snapshot()
        result["webhook_keys"] = collections.Counter(r.headers.get("Idempotency-Key") for r in hook.requests)
        result["alert_ids"] = sorted(sc.alert_ids())
        result["in_flight"] = in_flight
        result["rows_written"] = sc.scalar("SELECT count() FROM {db}.predictions")  # before merges
        assert all(w.alive() for w in workers[1:]), "a restarted worker died"
        return result
    finally:
        for w in workers:
            w.stop()
        print("\n".join(w.log()[-3000:] for w in workers))


def _paced(sc: Scenario, t) -> None:
    """Traffic spread over ~10 s, so the rebalance happens while events still arrive."""
    produce(sc.bootstrap, sc.topics["feedback"], t.feedback_early)
    chunk = len(t.predictions) // 10
    for i in range(0, len(t.predictions), chunk):
        produce(sc.bootstrap, sc.topics["predictions"], t.predictions[i:i + chunk])
        time.sleep(1.0)
    produce(sc.bootstrap, sc.topics["predictions"], [("credit", m) for m in t.malformed])
    produce(sc.bootstrap, sc.topics["feedback"], t.feedback_late)


@pytest.fixture(scope="module")
def clean_run(broker, clickhouse, tmp_path_factory):
    t = traffic(N)
    with WebhookReceiver() as hook:
        sc = Scenario(broker, clickhouse, tmp_path_factory.mktemp("clean"), webhooks={"hook": hook.url})
        return _run(sc, t, hook)


KILL_POINTS = {
    "mid_batch": lambda sc, hook: sc.stored("predictions") > 0,
    "mid_insert": lambda sc, hook: sc.stored("predictions") >= 0.4 * 3 * N,
    "mid_window_close": lambda sc, hook: (sc.scalar("SELECT count() FROM {db}.drift_results") or 0) > 0,
    "mid_webhook": lambda sc, hook: len(hook.requests) >= 1,
}


@pytest.mark.parametrize("point", [*KILL_POINTS, "during_rebalance"])
def test_kill9_then_restart_matches_a_clean_run(point, clean_run, broker, clickhouse, tmp_path):
    t = traffic(N)
    plan = [(200, {}, 3.0)] * 3 if point == "mid_webhook" else []
    with WebhookReceiver(plan) as hook:
        sc = Scenario(broker, clickhouse, tmp_path, webhooks={"hook": hook.url})
        got = _run(sc, t, hook, KILL_POINTS.get(point), rebalance=point == "during_rebalance")

    for key in ("predictions", "predictions_distinct", "feedback", "dead_letters", "drift", "windows", "drift_alerts"):
        assert got[key] == clean_run[key], key
    assert got["predictions"] == t.n_predictions
    # Every alert state change of this run reached the webhook, each exactly once, except one in
    # flight at the kill (its response never came back), which may come once more.
    assert set(got["webhook_keys"]) == set(got["alert_ids"])
    repeated = {k: n for k, n in got["webhook_keys"].items() if n > 1}
    assert all(k in got["in_flight"] and n == 2 for k, n in repeated.items()), repeated
    print(f"FIGURES {point}: produced={t.n_predictions} stored={got['predictions']} "
          f"rows_written_before_merge={got['rows_written']} alerts={len(got['alert_ids'])} "
          f"webhook_requests={sum(got['webhook_keys'].values())} repeated={repeated}")


# --- the same on a ClickHouse cluster (2 shards x 2 replicas) -----------------------------------


def test_kill9_on_a_clickhouse_cluster_matches_a_clean_run(clean_run, broker, clickhouse_cluster, tmp_path):
    """The single server's clean run is the reference: the cluster changes where rows live, not what they are."""
    t = traffic(N)
    with WebhookReceiver() as hook:
        sc = Scenario(broker, clickhouse_cluster, tmp_path, webhooks={"hook": hook.url}, store_node=(2, 2))
        got = _run(sc, t, hook, KILL_POINTS["mid_insert"])
    for key in ("predictions", "predictions_distinct", "feedback", "dead_letters", "drift", "windows", "drift_alerts"):
        assert got[key] == clean_run[key], key
    assert set(got["webhook_keys"]) == set(got["alert_ids"])


def _sync_replicas(cluster, db: str, tables: tuple[str, ...], shard: int | None = None) -> None:
    """``SYSTEM SYNC REPLICA`` of ``tables`` on every node (of ``shard``): each then holds what its twin took."""
    for (s, _), node in cluster.nodes.items():
        if shard in (None, s):
            client = node.client(database=db)
            for table in tables:
                client.execute(f"SYSTEM SYNC REPLICA {table}_local")


def test_stopping_a_replica_mid_stream_loses_nothing(clean_run, broker, clickhouse_cluster, tmp_path):
    """The replica every insert of shard 1 goes to stops mid-stream: the worker goes on with the other
    one, and once the stopped replica is back both replicas hold every row.

    Parts the stopped replica received just before it stopped, and its twin had not fetched yet, are
    unreadable while it is down (replication is asynchronous without ``insert_quorum``): not lost.
    So the worker must finish the stream with the replica down, and the rows are compared with the
    clean run once it is back and both replicas are in sync."""
    t = traffic(N)
    stopped = clickhouse_cluster.node(1, 1)
    with WebhookReceiver() as hook:
        sc = Scenario(broker, clickhouse_cluster, tmp_path, webhooks={"hook": hook.url}, store_node=(2, 2))
        sc.client = clickhouse_cluster.client(node=(2, 1))
        worker = sc.start_worker()
        try:
            sc.produce_traffic(t)
            wait_until(lambda: sc.stored("predictions") >= 0.3 * 3 * N, 90, "30% of the predictions stored",
                       interval=0.05)
            stopped.stop()
            try:
                wait_until(lambda: sc.last_window_closed(t, N), 150, "the last windows closed, a replica down",
                           process=worker.proc, log=worker.log_path)
                assert worker.alive()
            finally:
                stopped.start()
            _sync_replicas(clickhouse_cluster, sc.db, ("predictions", "feedback", "dead_letters", "drift_results",
                                                       "window_metrics", "alerts", "alert_deliveries"), shard=1)
            wait_until(lambda: _finished(sc, t, hook), 150, "all events, windows and deliveries",
                       process=worker.proc, log=worker.log_path)
            got = sc.snapshot()
        finally:
            worker.stop()
            print(worker.log()[-3000:])
    for key in ("predictions", "predictions_distinct", "feedback", "dead_letters", "drift", "windows", "drift_alerts"):
        assert got[key] == clean_run[key], key
    _sync_replicas(clickhouse_cluster, sc.db, ("predictions", "feedback", "drift_results", "checkpoints"))
    for table in ("predictions", "feedback", "drift_results", "checkpoints"):
        counts = {key: node.client(database=sc.db).execute(f"SELECT count() FROM {table}_local FINAL")[0][0]
                  for key, node in clickhouse_cluster.nodes.items()}
        assert counts[(1, 1)] == counts[(1, 2)] and counts[(2, 1)] == counts[(2, 2)], (table, counts)
    assert counts[(1, 1)] + counts[(2, 1)] > 0

"""Hostile and unknown rows in ``checkpoints``, met by the real worker at partition assignment.

* a version-1 row (base64 pickle) whose pickle would run a command: never unpickled; the
  partition is rebuilt from the event tables at the row's offsets and the worker goes on;
* a document of a newer version: the worker does not take the partition, logs why (both
  versions named) and exits with status 70 instead of starting the partition from scratch.
"""

from __future__ import annotations

import base64
import json
import pickle

import pytest
from driftline.sinks.migrations import migrate
from driftline.stream.wiring import build_store

from tests.faults.harness import Scenario, traffic
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

N = 4000  # the harness models warm up on 2000 events: the last 20 s are monitored


class Boom:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.path}",))


def _insert_checkpoints(sc: Scenario, states: dict[int, str], offsets: dict[str, int]) -> None:
    store = build_store(f"clickhouse://default:@127.0.0.1:{sc.clickhouse.tcp_port}/{sc.db}")
    try:
        migrate(store)  # the worker would create the tables; the attacker's row must exist before it starts
        store.insert("checkpoints", {"group_id": [sc.group] * len(states), "kafka_partition": list(states),
                                     "seq": [1] * len(states), "offsets": [json.dumps(offsets)] * len(states),
                                     "state": list(states.values())})
    finally:
        store.close()


def test_a_pickle_in_the_checkpoints_table_never_runs(broker, clickhouse, tmp_path):
    marker = tmp_path / "pwned"
    evil = base64.b64encode(pickle.dumps(Boom(marker), protocol=pickle.HIGHEST_PROTOCOL)).decode()
    sc = Scenario(broker, clickhouse, tmp_path)
    _insert_checkpoints(sc, {p: evil for p in range(sc.partitions)},
                        {sc.topics["predictions"]: 0, sc.topics["feedback"]: 0})
    t = traffic(N)
    sc.produce_traffic(t)
    worker = sc.start_worker()
    try:
        wait_until(lambda: sc.stored("predictions") == t.n_predictions, 120, "every prediction stored")
        wait_until(lambda: sc.last_window_closed(t, N), 60, "the last windows closed")
        assert worker.alive()
        log = worker.log()
    finally:
        worker.stop()
        print(worker.log()[-5000:])
    assert not marker.exists()
    rebuilt = [line for line in log.splitlines() if "version-1 checkpoint (a pickle, not loaded) rebuilt" in line]
    assert len(rebuilt) == sc.partitions, rebuilt
    # The rows' offsets were 0: nothing to replay, every event read from the start once.
    assert sc.scalar("SELECT count() FROM {db}.predictions") == t.n_predictions
    states = sc.rows("SELECT state FROM {db}.checkpoints FINAL")
    assert all(state.startswith('{"format":"driftline.checkpoint","version":2') for state, in states)


def test_a_checkpoint_from_a_newer_release_is_refused(broker, clickhouse, tmp_path):
    sc = Scenario(broker, clickhouse, tmp_path)
    newer = json.dumps({"format": "driftline.checkpoint", "version": 99, "partition": 0, "offsets": {}})
    _insert_checkpoints(sc, {0: newer}, {sc.topics["predictions"]: 5})
    sc.produce_traffic(traffic(200), feedback=False, malformed=False)
    worker = sc.start_worker()
    try:
        wait_until(lambda: not worker.alive(), 90, "the worker to exit")
        assert worker.proc.returncode == 70
        log = worker.log()
    finally:
        worker.stop()
        print(worker.log()[-5000:])
    assert ("checkpoint of partition 0 is format version 99, but this build reads versions 1 to 2: run a "
            "driftline release that knows version 99") in log
    assert sc.stored("predictions") == 0  # nothing was processed from scratch

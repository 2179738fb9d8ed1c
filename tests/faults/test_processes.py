"""``driftline run --processes N``: N children share the group's partitions; the launcher stops them all."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from driftline.cli.processes import child_command, run_processes, worker_datadir

from tests.faults.harness import Scenario, Worker, traffic
from tests.support.waiting import wait_until

N = 3000


def _partitions(worker: Worker, port: int, topic: str) -> set[str]:
    """Partitions of ``topic`` the child on ``port`` has held (it reports their lag)."""
    child = Worker(worker.proc, worker.log_path, port)
    return {name for name in child.metrics() if name.startswith("driftline_consumer_lag_messages{") and topic in name}


@pytest.mark.integration
def test_two_processes_share_the_partitions_and_store_everything(broker, clickhouse, tmp_path):
    sc = Scenario(broker, clickhouse, tmp_path)
    t = traffic(N)
    launcher = sc.start_worker(args=("--processes", "2"))
    try:
        sc.produce_traffic(t)
        ports = (launcher.metrics_port, launcher.metrics_port + 1)
        # Each child holds partitions (the traffic's three models may all hash to partitions of one child,
        # so "both consumed events" would depend on the assignment).
        wait_until(lambda: all(_partitions(launcher, p, sc.topics["predictions"]) for p in ports), 120,
                   "both children holding partitions")
        wait_until(lambda: (sc.stored("predictions"), sc.stored("feedback"), sc.stored("dead_letters"))
                   == (t.n_predictions, t.n_feedback, len(t.malformed)), 120, "every event stored")
        wait_until(lambda: sc.last_window_closed(t, N), 60, "the last windows closed")
        launcher.proc.send_signal(signal.SIGTERM)
        assert launcher.proc.wait(60) == 0
        assert "worker-0" in {p.name for p in (tmp_path / "faust-1").iterdir()}
    finally:
        launcher.stop()
        print(launcher.log()[-3000:])


def test_children_get_their_index_and_directory():
    command = child_command("c.yaml", "/data", "warning", 1)
    assert command[1:] == ["-m", "driftline.cli", "run", "--config", "c.yaml", "--datadir", "/data/worker-1",
                           "--loglevel", "warning", "--worker-index", "1"]
    assert worker_datadir("rel/dir", 0) == "rel/dir/worker-0"


def _sleeper(seconds: float, status: int = 0):
    def popen(command):
        return subprocess.Popen([sys.executable, "-c", f"import time, sys; time.sleep({seconds}); sys.exit({status})"])
    return popen


def test_a_child_that_exits_stops_the_others_with_its_status():
    started = []

    def popen(command):
        index = int(command[-1])
        proc = (_sleeper(0.2, 3) if index == 1 else _sleeper(60))(command)
        started.append(proc)
        return proc

    assert run_processes("c.yaml", "/tmp/x", "info", 3, popen=popen, poll_s=0.05) == 3
    assert len(started) == 3 and all(p.poll() is not None for p in started)
    with pytest.raises(ValueError, match="processes"):
        run_processes("c.yaml", "/tmp/x", "info", 0)

"""``driftline topics`` on a real broker: creates what the worker uses, idempotent, says what it needs (issue 18)."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from click.testing import CliRunner
from confluent_kafka.admin import AdminClient, NewTopic
from driftline.cli import main

from tests.support.servers import free_port

pytestmark = pytest.mark.integration

CONFIG = """
kafka:
  bootstrap_servers: "{bootstrap}"
  group_id: g-{run}
  topics: {{predictions: p-{run}, feedback: f-{run}, alerts: a-{run}, dead_letter: d-{run}}}
models:
  - {{name: m, features: {{x: numeric}}}}
alerts:
  channels:
    - {{type: kafka, name: ops, topic: ops-{run}}}
"""


def config_file(tmp_path, bootstrap: str) -> tuple:
    run_id = uuid.uuid4().hex[:8]
    path = tmp_path / "driftline.yaml"
    path.write_text(CONFIG.format(bootstrap=bootstrap, run=run_id))
    return path, run_id


def partitions(bootstrap: str) -> dict[str, int]:
    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    return {name: len(t.partitions) for name, t in topics.items()}


def test_topics_creates_every_topic_the_worker_uses_then_only_reports_them(broker, tmp_path):
    config, run_id = config_file(tmp_path, broker.bootstrap_servers)
    first = CliRunner().invoke(main, ["topics", "--config", str(config), "--partitions", "3"])
    assert first.exit_code == 0, first.output
    names = [f"p-{run_id}", f"f-{run_id}", f"a-{run_id}", f"d-{run_id}", f"ops-{run_id}",
             f"g-{run_id}-app-__assignor-__leader"]
    existing = partitions(broker.bootstrap_servers)
    assert {n: existing.get(n) for n in names} == {**{n: 3 for n in names[:-1]}, names[-1]: 1}
    lines = first.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:6]] == [["created", n] for n in names]
    assert lines[6] == (f"consumer groups: g-{run_id} (the ingest loop: offsets committed at checkpoints); "
                        f"g-{run_id}-app (Faust's worker (its leader topic))")
    assert lines[7] == (f"ACLs the worker's principal needs: READ and DESCRIBE on topics p-{run_id}, f-{run_id}, "
                        f"g-{run_id}-app-__assignor-__leader; WRITE and DESCRIBE on topics a-{run_id}, d-{run_id}, "
                        f"ops-{run_id}; READ on groups g-{run_id}, g-{run_id}-app")
    again = CliRunner().invoke(main, ["topics", "--config", str(config), "--partitions", "5"])
    assert again.exit_code == 0, again.output
    assert [line.split()[:3] for line in again.stdout.splitlines()[:6]] == [["exists", n, "3" if i < 5 else "1"]
                                                                            for i, n in enumerate(names)]


def test_predictions_and_feedback_with_different_partition_counts_are_refused(broker, tmp_path):
    config, run_id = config_file(tmp_path, broker.bootstrap_servers)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    for future in admin.create_topics([NewTopic(f"f-{run_id}", num_partitions=1, replication_factor=1)]).values():
        future.result(10)
    result = CliRunner().invoke(main, ["topics", "--config", str(config), "--partitions", "2"])
    assert result.exit_code == 1
    assert result.stderr == (f"p-{run_id} has 2 partitions and f-{run_id} 1: they need the same count, so that a "
                             "model's predictions and labels meet on one worker\n")


def test_an_unreachable_broker_is_one_line(tmp_path):
    config, _ = config_file(tmp_path, f"127.0.0.1:{free_port()}")
    done = subprocess.run([sys.executable, "-m", "driftline.cli", "topics", "--config", str(config), "--timeout", "1"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    # librdkafka's connection failures (every 50 ms) stay out of it.
    assert done.stderr.startswith("cannot list the broker's topics: ") and done.stderr.count("\n") == 1, done.stderr

"""The in-memory broker restarts empty: the worker reconnects, logs and counts the offset reset,
and goes on with the new data."""

from __future__ import annotations

import json
import re

import pytest

from tests.faults.harness import Scenario
from tests.integration.traffic import make_traffic
from tests.support.kafka import produce
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def _renamed(records, prefix: str, shift_ms: int):
    """New event ids, later event times: the traffic a producer sends after the restart."""
    out = []
    for key, value in records:
        event = json.loads(value)
        event["event_id"] = prefix + event["event_id"]
        event["ts"] += shift_ms
        out.append((key, json.dumps(event).encode()))
    return out


def test_broker_restart_is_detected_and_processing_goes_on(broker, clickhouse, tmp_path):
    before = make_traffic(3000, seed=11).predictions
    after = _renamed(make_traffic(1000, seed=12).predictions, "after-", 100_000)
    sc = Scenario(broker, clickhouse, tmp_path)
    produce(sc.bootstrap, sc.topics["predictions"], before)
    worker = sc.start_worker()
    try:
        wait_until(lambda: sc.stored("predictions") == len(before), 90, "the first traffic stored")
        wait_until(lambda: worker.metrics().get('driftline_checkpoints_total{result="ok"}', 0) >= 2, 30,
                   "a checkpoint after the first traffic")
        broker.restart()
        sc.create_topics()
        produce(sc.bootstrap, sc.topics["predictions"], after)
        wait_until(lambda: sc.stored("predictions") == len(before) + len(after), 120,
                   "the traffic sent after the restart stored")
        topic = sc.topics["predictions"]
        resets = wait_until(lambda: worker.metrics().get(f'driftline_broker_offset_resets_total{{topic="{topic}"}}'),
                            30, "the reset counted")
        assert worker.alive()
        log = worker.log()
    finally:
        worker.stop()
        print(worker.log()[-5000:])
    gaps = re.findall(rf"broker offset reset on {re.escape(topic)}\[(\d+)\]: expected offset (\d+), got (\d+)", log)
    assert gaps and all(int(new) < int(expected) for _, expected, new in gaps), gaps
    assert resets == len(gaps)
    print(f"FIGURES broker_restart: before={len(before)} after={len(after)} stored={sc.stored('predictions')} "
          f"resets={resets:.0f} gaps={gaps}")

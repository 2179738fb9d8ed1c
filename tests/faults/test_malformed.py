"""10,000 malformed messages through the real worker: each lands in ``dead_letters`` with a reason,
the valid events around them are all stored, and the worker stays up."""

from __future__ import annotations

import json

import pytest

from tests.faults.harness import Scenario
from tests.integration.traffic import make_traffic
from tests.support.kafka import produce
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

N_MALFORMED = 10_000


def malformed_variants(good: dict) -> list[bytes]:
    """One dead letter each: every message is a single (bad) event or not JSON at all."""
    deep = b"[" * 3000 + b"]" * 3000
    return [
        b"not json at all", b'{"truncated": ', b"", b"\xff\xfe\x00garbage", deep,
        b'{"event_id": 1}', b"null", b"42", b"[]",
        json.dumps({**good, "model": "nope"}).encode(),
        json.dumps({k: v for k, v in good.items() if k != "ts"}).encode(),
        json.dumps({**good, "score": 7}).encode(),
        json.dumps({**good, "ts": "yesterday"}).encode(),
        json.dumps({**good, "ts": -5}).encode(),
        json.dumps({**good, "ts": 99_999_999_999_999}).encode(),
        json.dumps({**good, "features": [1, 2]}).encode(),
        json.dumps({**good, "features": {f"f{i}": i for i in range(600)}}).encode(),  # > max_features
        json.dumps({**good, "features": {"income": "x" * 120_000}}).encode(),  # > max_message_bytes
        json.dumps({**good, "prediction": {"nested": True}}).encode(),
        b'{"event_id": "x", "model": "credit", "version": "v1", "ts": 1, "features": {"a": NaN}, "prediction": 1}',
        b'{"event_id": "x", "model": "credit", "version": "v1", "ts": 1, "features": {"a": 1e999}, "prediction": 1}',
    ]


def test_ten_thousand_malformed_messages_are_dead_lettered(broker, clickhouse, tmp_path):
    t = make_traffic(2000, seed=3)
    good = json.loads(t.predictions[0][1])
    variants = malformed_variants(good)
    bad = [("credit", variants[i % len(variants)]) for i in range(N_MALFORMED)]
    mixed = []
    for i in range(max(len(bad), len(t.predictions))):  # valid events around every bad message
        if i < len(t.predictions):
            mixed.append(t.predictions[i])
        if i < len(bad):
            mixed.append(bad[i])
    sc = Scenario(broker, clickhouse, tmp_path, kafka_extra="  max_message_bytes: 100000\n")
    produce(sc.bootstrap, sc.topics["predictions"], mixed)
    worker = sc.start_worker()
    try:
        wait_until(lambda: sc.stored("dead_letters") == N_MALFORMED, 120, "every malformed message dead-lettered")
        wait_until(lambda: sc.stored("predictions") == t.n_predictions, 60, "every valid event stored")
        reasons = dict(sc.rows("SELECT reason, count() FROM {db}.dead_letters FINAL GROUP BY reason"))
        assert sc.scalar("SELECT countIf(reason = '' OR detail = '') FROM {db}.dead_letters FINAL") == 0
        metrics = worker.metrics()
        assert sum(v for k, v in metrics.items() if k.startswith("driftline_dead_letters_total{")) == N_MALFORMED
        assert worker.alive()
    finally:
        worker.stop()
        print(worker.log()[-3000:])
    assert {"invalid_json", "schema", "out_of_range", "unknown_model", "empty", "too_large",
            "too_many_features"} <= set(reasons), reasons
    print(f"FIGURES malformed: dead_letters={sum(reasons.values())} valid_stored={t.n_predictions} reasons={reasons}")

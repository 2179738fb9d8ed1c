"""The label join rebuilt from the event tables at a checkpoint's offsets (real ClickHouse 18.16)."""

from __future__ import annotations

import uuid

import pytest
from driftline.sinks.join_state import load_pending_join
from driftline.sinks.migrations import migrate
from driftline.stream.wiring import build_store

pytestmark = pytest.mark.integration


def _predictions(rows):
    cols = ["event_id", "model", "version", "ts", "ts_ms", "features", "prediction", "prediction_num", "score",
            "latency_ms", "variant", "segment", "kafka_partition", "kafka_offset"]
    return {c: [r[i] for r in rows] for i, c in enumerate(cols)}


def test_pending_entries_at_the_checkpoint_offsets(clickhouse):
    store = build_store(clickhouse.url.rsplit("/", 1)[0] + f"/join_{uuid.uuid4().hex[:8]}")
    check_pending_entries(store)


def check_pending_entries(store) -> None:
    """Pending rows at a checkpoint's offsets, on ``store`` (a single server or a cluster)."""
    migrate(store)
    base = 1_764_000_000_000
    preds = [(f"e{i}", "m", "v1", (base + i) // 1000, base + i, "{}", "1", float("nan"), 0.9, None, "", "{}",
              0 if i < 8 else 1, i) for i in range(10)]
    store.insert("predictions", _predictions(preds))
    feedback = {"event_id": ["e1", "e2", "e5", "x9"], "model": ["m"] * 4, "ts": [base // 1000] * 4,
                "ts_ms": [base + 100] * 4, "label": ["1", "0", "1", "0"], "label_num": [float("nan")] * 4,
                "kafka_partition": [0] * 4, "kafka_offset": [0, 1, 7, 2]}
    store.insert("feedback", feedback)
    # Checkpoint of partition 0: predictions read up to offset 6, feedback up to offset 3.
    pending, waiting = load_pending_join(store, partition=0, predictions_offset=6, feedback_offset=3,
                                         horizon_ms=base + 1, limit=1000)
    # e0 is beyond the horizon; e1, e2 were joined (their feedback offsets 0, 1 < 3); e6, e7 not read yet;
    # e5's feedback is at offset 7, not read at the checkpoint: e5 is still pending.
    assert [p[0] for p in pending] == ["e3", "e4", "e5"]
    assert pending[0] == ("e3", "m", "v1", "1", 0.9, base + 3, "", "")  # variant, request_id ('' when absent)
    # x9 has no prediction; e5's feedback was not read yet.
    assert waiting == [("x9", "m", "0", base + 100)]
    capped, _ = load_pending_join(store, partition=0, predictions_offset=6, feedback_offset=3,
                                  horizon_ms=0, limit=2)
    assert [p[0] for p in capped] == ["e4", "e5"]  # the newest entries survive the cap

import json

import pytest
from driftline.stream.events import decode_feedback, decode_predictions

GOOD = {"event_id": "e1", "model": "credit", "version": "v1", "ts": "2026-11-25T10:00:00Z",
        "features": {"income": 1.5, "country": "DE", "flag": True, "gone": None}, "prediction": 1, "score": 0.7}


def decode(*values, models=("credit",)):
    messages = [(0, i, v, 1_700_000_000_000) for i, v in enumerate(values)]
    return decode_predictions(messages, "preds", set(models), max_bytes=10_000, max_features=10)


def test_object_and_array_messages_decode():
    batch = decode(json.dumps(GOOD).encode(), json.dumps([GOOD, {**GOOD, "event_id": "e2", "ts": 5}]).encode())
    assert [e.event_id for e in batch.events] == ["e1", "e1", "e2"]
    assert batch.ts_ms == [1795600800000, 1795600800000, 5]
    assert batch.origins == [(0, 0), (0, 1), (0, 1)]
    assert batch.dead == []


@pytest.mark.parametrize(("value", "reason"), [
    (b"nope", "invalid_json"),
    (b"", "empty"),
    (b"[]", "empty"),
    (json.dumps({**GOOD, "model": "other"}).encode(), "unknown_model"),
    (json.dumps({**GOOD, "score": 1.5}).encode(), "out_of_range"),
    (json.dumps({**GOOD, "latency_ms": -1}).encode(), "out_of_range"),
    (json.dumps({**GOOD, "ts": "2026-11-25T10:00:00"}).encode(), "schema"),  # no offset: not RFC 3339
    (json.dumps({k: v for k, v in GOOD.items() if k != "features"}).encode(), "schema"),
    (json.dumps({**GOOD, "features": {f"f{i}": 1 for i in range(11)}}).encode(), "too_many_features"),
    (b'{"event_id": "e", "model": "credit", "version": "v", "ts": 1, "features": {}, "prediction": 1e999}', "invalid_json"),
    (b"x" * 10_001, "too_large"),
])
def test_bad_messages_become_dead_letters_with_reason(value, reason):
    batch = decode(value)
    assert batch.events == []
    assert [(d.reason, d.offset, d.topic) for d in batch.dead] == [(reason, 0, "preds")]
    assert batch.dead[0].detail and batch.dead[0].payload == value


def test_one_bad_element_does_not_sink_its_batch():
    batch = decode(json.dumps([GOOD, {**GOOD, "score": "high"}, {**GOOD, "event_id": "e3"}]).encode())
    assert [e.event_id for e in batch.events] == ["e1", "e3"]
    assert len(batch.dead) == 1 and batch.dead[0].detail.startswith("event [1]:")


def test_feedback_accepts_string_and_number_labels():
    messages = [(1, 7, json.dumps({"event_id": "e1", "model": "credit", "ts": 10, "label": "yes"}).encode(), 0),
                (1, 8, json.dumps({"event_id": "e2", "model": "credit", "ts": 11, "label": 0}).encode(), 0)]
    batch = decode_feedback(messages, "fb", {"credit"}, max_bytes=1000, max_features=10)
    assert [e.label for e in batch.events] == ["yes", 0.0]

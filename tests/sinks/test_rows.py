"""Row builders of the event tables: how values are stored, and that the rows fit the real schema."""

from __future__ import annotations

import math
from types import SimpleNamespace

import msgspec
import pytest
from driftline.sinks.migrations import migrate
from driftline.sinks.rows import DeadLetterRows, FeedbackRows, PredictionRows
from driftline.sinks.writer import EventWriter
from driftline.stream.wiring import build_store

TS_MS = 1_700_000_000_123


def prediction(event_id, value, **kw):
    fields = dict(event_id=event_id, features=msgspec.Raw(b'{"x":1.5}'), prediction=value, score=None,
                  latency_ms=None, variant=None, segment=None, request_id=None)
    return SimpleNamespace(**{**fields, **kw})


def test_a_classifier_prediction_is_stored_as_its_label_key():
    rows = PredictionRows()
    rows.add([prediction("a", 1.0, score=0.9, segment={"country": "FR"}), prediction("b", "yes", variant="B")],
             [TS_MS, TS_MS + 1], [(3, 10), (3, 11)], "churn", "v2", classification=True)
    cols = rows.columns()
    assert len(rows) == 2
    assert cols["prediction"] == ["1", "yes"]
    assert cols["prediction_num"][0] == 1.0 and math.isnan(cols["prediction_num"][1])
    assert cols["ts"] == [TS_MS // 1000] * 2 and cols["ts_ms"] == [TS_MS, TS_MS + 1]
    assert cols["features"] == ['{"x":1.5}'] * 2
    assert cols["segment"] == ['{"country":"FR"}', "{}"] and cols["variant"] == ["", "B"]
    assert (cols["model"], cols["version"]) == (["churn"] * 2, ["v2"] * 2)
    assert (cols["kafka_partition"], cols["kafka_offset"]) == ([3, 3], [10, 11])


def test_a_regression_prediction_is_stored_as_a_number_only():
    rows = PredictionRows()
    rows.add([prediction("a", 12.5)], [TS_MS], [(0, 0)], "price", "v1", classification=False)
    assert rows.columns()["prediction"] == [""] and rows.columns()["prediction_num"] == [12.5]


def test_feedback_labels_are_keys_and_numbers():
    rows = FeedbackRows()
    events = [SimpleNamespace(event_id="a", model="m", label=True), SimpleNamespace(event_id="b", model="m", label=3.5)]
    rows.add(events, [TS_MS, TS_MS], [(1, 5), (1, 6)])
    cols = rows.columns()
    assert cols["label"] == ["1", "3.5"]
    assert math.isnan(cols["label_num"][0]) and cols["label_num"][1] == 3.5


def test_dead_letters_are_cut_to_the_stored_size_but_keep_their_true_size():
    rows = DeadLetterRows()
    big = SimpleNamespace(topic="p", partition=0, offset=1, reason="too_large", detail="d" * 5000,
                          payload=b"\xff" + b"x" * 100_000, ts_ms=TS_MS)
    rows.add([big], now_s=1)
    cols = rows.columns()
    assert cols["payload_bytes"] == [100_001] and len(cols["detail"][0]) == 2000
    assert cols["payload"][0].startswith("\\xffxxx") and cols["ts"] == [TS_MS // 1000]


@pytest.fixture
def store(tmp_path):
    s = build_store(f"chdb://{tmp_path}/store")
    migrate(s)
    yield s
    s.close()


def test_every_builder_fits_its_table(store):
    predictions, feedback, dead = PredictionRows(), FeedbackRows(), DeadLetterRows()
    predictions.add([prediction("a", "yes", score=0.25, latency_ms=3.0)], [TS_MS], [(2, 7)], "m", "v1",
                    classification=True)
    feedback.add([SimpleNamespace(event_id="a", model="m", label="no")], [TS_MS + 5], [(2, 3)])
    dead.add([SimpleNamespace(topic="p", partition=2, offset=8, reason="invalid_json", detail="eof",
                              payload=b"{", ts_ms=0)], now_s=TS_MS // 1000)
    writer = EventWriter(store, clock=lambda: 0.0)
    for rows in (predictions, feedback, dead, PredictionRows()):  # an empty batch buffers nothing
        writer.add_rows(rows)
    assert writer.buffered_rows == 3
    writer.flush()
    assert store.execute("SELECT event_id, prediction, score, latency_ms, kafka_offset FROM predictions") == [
        ("a", "yes", 0.25, 3.0, 7)]
    assert store.execute("SELECT event_id, label, ts_ms FROM feedback") == [("a", "no", TS_MS + 5)]
    assert store.execute("SELECT topic, kafka_offset, payload, toUnixTimestamp(ts) FROM dead_letters") == [
        ("p", 8, "{", TS_MS // 1000)]

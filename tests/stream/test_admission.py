"""Admission at decode time: event times outside the bounds are ``out_of_range``, strings over their
byte limit ``field_too_long``; neither reaches a window, the join or the store, and neither stops a batch."""

from __future__ import annotations

import json

import pytest
from driftline.settings import EventLimits, EventTimeBounds, parse_settings
from driftline.stream.events import REASONS, decode_feedback, decode_predictions
from driftline.stream.processor import BatchOutput, Processor

NOW_MS = 1_795_600_800_000  # 2026-11-25T10:00:00Z, the processing time of every test here
DAY_MS = 86_400_000
GOOD = {"event_id": "e1", "model": "credit", "version": "v1", "ts": NOW_MS - 60_000,
        "features": {"income": 1.5, "country": "DE"}, "prediction": 1, "score": 0.7}
BOUNDS = EventTimeBounds(max_age_ms=37 * DAY_MS, max_future_ms=DAY_MS)
LIMITS = EventLimits(event_id=16, model=16, version=8, feature_name=12, value=10, variant=6, segment=5)


def decode(*events, now_ms=NOW_MS, limits=LIMITS, raw=None):
    values = raw or [json.dumps(e).encode() for e in events]
    messages = [(0, i, v, 1) for i, v in enumerate(values)]
    return decode_predictions(messages, "preds", {"credit"}, max_bytes=100_000, max_features=50, now_ms=now_ms,
                              limits=limits, event_time=BOUNDS)


@pytest.mark.parametrize("ts", [
    "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "1969-12-31T23:59:59.999Z", "1970-01-01T00:00:00Z",
    "2099-06-01T00:00:00Z", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-01:00",
    0, NOW_MS - 38 * DAY_MS, NOW_MS + DAY_MS + 1, 4_102_444_799_999,
])
def test_an_event_time_outside_the_bounds_is_dead_lettered_as_out_of_range(ts):
    batch = decode(GOOD, {**GOOD, "event_id": "e2", "ts": ts}, {**GOOD, "event_id": "e3"})
    assert [e.event_id for e in batch.events] == ["e1", "e3"]
    assert batch.ts_ms == [NOW_MS - 60_000] * 2 and len(batch.features) == 2
    (dead,) = batch.dead
    assert (dead.reason, dead.offset, dead.payload) == ("out_of_range", 1, json.dumps({**GOOD, "event_id": "e2",
                                                                                      "ts": ts}).encode())
    assert dead.detail.startswith("ts ") and dead.detail.endswith("(worker.event_time)"), dead.detail


def test_the_bounds_are_inclusive_and_relative_to_processing_time():
    edges = [NOW_MS - 37 * DAY_MS, NOW_MS + DAY_MS]
    batch = decode(*({**GOOD, "event_id": f"e{i}", "ts": ts} for i, ts in enumerate(edges)))
    assert batch.ts_ms == edges and batch.dead == []
    # Without a processing time (a one-off decode) only the store's range applies: 1970 to 2100.
    batch = decode({**GOOD, "ts": 0}, {**GOOD, "ts": "1969-12-31T23:59:59Z"}, now_ms=None)
    assert batch.ts_ms == [0] and [d.reason for d in batch.dead] == ["out_of_range"]
    assert "[1970-01-01T00:00:00Z, 2099-12-31T23:59:59Z]" in batch.dead[0].detail


def test_the_detail_names_the_time_and_the_bounds():
    (dead,) = decode({**GOOD, "ts": "9999-12-31T23:59:59Z"}).dead
    assert dead.detail == ("ts 9999-12-31T23:59:59Z is outside the admitted event times "
                           "[2026-10-19T10:00:00Z, 2026-11-26T10:00:00Z] (worker.event_time)")


LONG = "x" * 20


@pytest.mark.parametrize(("change", "where"), [
    ({"event_id": LONG}, "$.event_id"),
    ({"model": LONG}, "$.model"),
    ({"version": "v" * 9}, "$.version"),
    ({"features": {"income": 1.5, "n" * 13: 1}}, "feature name is 13 bytes"),
    ({"features": {"income": 1.5, "country": "D" * 11}}, "`$[...]`"),
    ({"features": {"income": 1.5, "unused": "D" * 11}}, "`$[...]`"),  # any feature's string value
    ({"prediction": "p" * 11}, "$.prediction"),
    ({"variant": "canary!"}, "$.variant"),
    ({"segment": {"region": "eu"}}, "`key` in `$.segment`"),
    ({"segment": {"r": "europe"}}, "$.segment[...]"),
])
def test_a_string_over_its_byte_limit_is_dead_lettered_as_field_too_long(change, where):
    batch = decode(GOOD, {**GOOD, "event_id": "e2", **change}, {**GOOD, "event_id": "e3"})
    assert [e.event_id for e in batch.events] == ["e1", "e3"]
    (dead,) = batch.dead
    assert dead.reason == "field_too_long" and dead.offset == 1
    assert where in dead.detail and dead.detail.endswith("(worker.limits)"), dead.detail


def test_inside_a_json_array_only_the_long_event_goes():
    value = json.dumps([GOOD, {**GOOD, "event_id": LONG}, {**GOOD, "event_id": "e3"}]).encode()
    batch = decode(raw=[value])
    assert [e.event_id for e in batch.events] == ["e1", "e3"]
    assert [(d.reason, d.detail[:10]) for d in batch.dead] == [("field_too_long", "event [1]:")]


@pytest.mark.parametrize(("value", "raw"), [
    ("é" * 7, False),  # 7 characters, 14 bytes: within msgspec's count of characters, over the byte limit
    ("é" * 7, True),  # the same, written as \u00e9 escapes
])
def test_limits_are_bytes_not_characters(value, raw):
    events = [{**GOOD, "event_id": "e2", "features": {"income": 1.5, "country": value}},
              {**GOOD, "event_id": "e3", "features": {"income": 1.5, "country": "é" * 5}}]  # 10 bytes: the limit
    batch = decode(raw=[json.dumps(e, ensure_ascii=raw).encode() for e in events])
    assert [e.event_id for e in batch.events] == ["e3"]
    (dead,) = batch.dead
    assert (dead.reason, dead.detail) == ("field_too_long",
                                          "value of feature 'country' is 14 bytes, longer than 10 (worker.limits)")


def test_feedback_label_and_version_have_limits_too():
    good = {"event_id": "e1", "model": "credit", "ts": NOW_MS, "label": "yes"}
    messages = [(0, i, json.dumps(e).encode(), 0) for i, e in enumerate(
        [good, {**good, "label": "y" * 11}, {**good, "version": "v" * 9}, {**good, "label": "é" * 6},
         {**good, "ts": NOW_MS + 2 * DAY_MS}])]
    batch = decode_feedback(messages, "fb", {"credit"}, max_bytes=1000, max_features=10, now_ms=NOW_MS,
                            limits=LIMITS, event_time=BOUNDS)
    assert [e.event_id for e in batch.events] == ["e1"]
    assert [(d.offset, d.reason) for d in batch.dead] == [(1, "field_too_long"), (2, "field_too_long"),
                                                           (3, "field_too_long"), (4, "out_of_range")]


def test_the_worker_counts_hostile_events_by_reason_and_keeps_the_rest():
    settings = parse_settings({"models": [{"name": "credit", "features": {"income": "numeric", "country": "categorical"}}],
                               "worker": {"limits": {"version": 8}}})
    processor = Processor(settings)
    state = processor.new_partition(0)
    events = [GOOD, {**GOOD, "event_id": "old", "ts": "0001-01-01T00:00:00Z"},
              {**GOOD, "event_id": "late", "ts": "9999-12-31T23:59:59Z"}, {**GOOD, "event_id": "e" * 300},
              {**GOOD, "event_id": "v", "version": "v" * 100_000}, {**GOOD, "event_id": "ok", "ts": NOW_MS}]
    out = BatchOutput()
    processor.process(state, [(0, i, json.dumps(e).encode(), 0) for i, e in enumerate(events)], [], NOW_MS, out)
    assert out.predictions.event_id == ["e1", "ok"]
    assert sorted(d.reason for d in out.dead) == ["field_too_long", "field_too_long", "out_of_range", "out_of_range"]
    assert {d.reason for d in out.dead} <= set(REASONS)
    assert list(state.monitors) == [("credit", "v1")]


def test_a_broker_timestamp_the_store_cannot_hold_is_unknown_in_the_dead_letter():
    # The broker timestamp is the producer's (CreateTime), and it becomes the dead letter's row time.
    values = [json.dumps({**GOOD, "ts": "9999-12-31T23:59:59Z"}).encode()] * 3
    messages = [(0, 0, values[0], 253_402_300_799_000), (0, 1, values[1], -1), (0, 2, values[2], NOW_MS)]
    batch = decode_predictions(messages, "preds", {"credit"}, max_bytes=100_000, max_features=50, now_ms=NOW_MS)
    assert [d.ts_ms for d in batch.dead] == [0, 0, NOW_MS]  # 0: the row takes the time it is written


@pytest.mark.parametrize("raw", [False, True])
def test_a_feature_name_within_its_characters_but_over_its_bytes_is_dead_lettered(raw):
    # "é" * 7: 7 characters (within msgspec's count, 12) but 14 bytes, over the byte limit of 12
    events = [{**GOOD, "event_id": "e2", "features": {"income": 1.5, "é" * 7: 1}},
              {**GOOD, "event_id": "e3", "features": {"income": 1.5, "é" * 6: 1}}]  # 12 bytes: the limit
    batch = decode(raw=[json.dumps(e, ensure_ascii=raw).encode() for e in events])
    assert [e.event_id for e in batch.events] == ["e3"]
    (dead,) = batch.dead
    assert (dead.reason, dead.detail) == ("field_too_long", "feature name is 14 bytes, longer than 12 (worker.limits)")

"""Property tests of the event decoder: whatever a message holds, ``decode`` never raises, and
every message comes out as events or as dead letters with a reason, never lost."""

from __future__ import annotations

import json
import math

from driftline.stream.events import REASONS, EventDecoder, FeedbackEvent, PredictionEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MAX_BYTES = 1_048_576
MAX_FEATURES = 50
DECODERS = [EventDecoder(PredictionEvent, topic="p", known_models={"m"}, max_bytes=MAX_BYTES, max_features=MAX_FEATURES),
            EventDecoder(FeedbackEvent, topic="f", known_models={"m"}, max_bytes=MAX_BYTES, max_features=MAX_FEATURES)]

GOOD = {"event_id": "e1", "model": "m", "version": "v1", "ts": 1_764_000_000_000,
        "features": {"x": 1.5, "c": "a"}, "prediction": 1, "label": 1}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


def _dumps(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()  # NaN / Infinity tokens included on purpose


def mutated_event():
    fields = st.sampled_from(sorted(GOOD))
    return st.tuples(st.dictionaries(fields, json_values, max_size=4), st.sets(fields, max_size=3)).map(
        lambda t: {**{k: v for k, v in GOOD.items() if k not in t[1]}, **t[0]})


messages = st.one_of(
    st.binary(max_size=300),                                            # random bytes
    mutated_event().map(_dumps),                                        # wrong types, NaN/Inf, missing keys
    mutated_event().map(_dumps).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),  # truncated
    st.lists(mutated_event(), max_size=5).map(_dumps),                  # arrays of events
    st.integers(1, 5000).map(lambda d: b"[" * d + b"]" * d),           # deep nesting
    st.integers(1, 5000).map(lambda d: b'{"a":' * d + b"1" + b"}" * d),
    st.integers(-10**20, 10**20).map(lambda ts: _dumps({**GOOD, "ts": ts})),  # far past / future
    st.text(max_size=30).map(lambda m: _dumps({**GOOD, "model": m})),   # unknown models
    st.integers(0, 200).map(lambda n: _dumps({**GOOD, "features": {f"f{i}": i for i in range(n)}})),  # big maps
)


def _check(decoder: EventDecoder, values: list[bytes]) -> None:
    batch = decoder.decode([(0, offset, value, 0) for offset, value in enumerate(values)])
    assert len(batch.events) == len(batch.ts_ms) == len(batch.origins)
    accounted = {o for _, o in batch.origins} | {d.offset for d in batch.dead}
    assert accounted == set(range(len(values))), "a message produced neither an event nor a dead letter"
    for dead in batch.dead:
        assert dead.reason in REASONS and dead.detail
        assert dead.payload == values[dead.offset]
    if batch.features is not None:
        assert len(batch.features) == len(batch.events)
    for i, event in enumerate(batch.events):
        assert event.model == "m"
        if isinstance(event, PredictionEvent):
            features = batch.features[i]
            assert len(features) <= MAX_FEATURES
            assert all(not isinstance(v, float) or math.isfinite(v) for v in features.values())
    for ts in batch.ts_ms:
        assert isinstance(ts, int)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(messages, min_size=1, max_size=8))
def test_decoder_never_raises_and_never_loses_a_message(values):
    for decoder in DECODERS:
        _check(decoder, values)


def test_ten_megabyte_values_are_too_large():
    huge = _dumps({**GOOD, "features": {"x": "y" * (10 * 2**20)}})
    for decoder in DECODERS:
        batch = decoder.decode([(0, 0, huge, 0), (0, 1, _dumps(GOOD), 0)])
        assert [d.reason for d in batch.dead] == ["too_large"] and len(batch.events) == 1


def test_duplicate_event_id_with_different_content_keeps_both_for_the_store_to_resolve():
    a, b = _dumps(GOOD), _dumps({**GOOD, "features": {"x": 9.0, "c": "b"}})
    batch = DECODERS[0].decode([(0, 0, a, 0), (0, 1, b, 0)])
    assert [e.event_id for e in batch.events] == ["e1", "e1"] and not batch.dead


def test_nan_and_infinity_are_dead_letters():
    for token in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
        value = b'{"event_id":"e","model":"m","version":"v","ts":1,"features":{"x":' + token + b'},"prediction":1}'
        batch = DECODERS[0].decode([(0, 0, value, 0)])
        assert not batch.events and len(batch.dead) == 1 and batch.dead[0].reason in REASONS

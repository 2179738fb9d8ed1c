"""Event contract v1.1 and its batch decoder.

A message value is UTF-8 JSON: one event object or a JSON array of event
objects. The fast path decodes a whole message straight into msgspec Structs;
only a message that fails is decoded again element by element, so one bad
event in a batch does not take its neighbours to the dead-letter topic.
An event must also be admitted (:mod:`~driftline.stream.admission`): its time
within the bounds around processing time, its strings within their byte limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import msgspec
from driftline.settings import EventLimits, EventTimeBounds

from .admission import (
    STORE_MAX_MS,
    STORE_MIN_MS,
    TimeBounds,
    feature_map_type,
    limited_event_type,
    rejections,
    too_long_detail,
)

__all__ = ["DeadLetter", "DecodedBatch", "FeedbackEvent", "PredictionEvent", "decode_feedback", "decode_predictions"]

AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]

# Bounded set of reasons: they are Prometheus label values.
REASONS = (
    "invalid_json",
    "schema",
    "out_of_range",
    "unknown_model",
    "too_large",
    "too_many_features",
    "empty",
    "field_too_long",
    "store_rejected",  # a row the store refused (found on insert, not by the decoder)
)


NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
EpochMs = Annotated[int, msgspec.Meta(ge=STORE_MIN_MS, lt=STORE_MAX_MS)]  # 1970 to 2100: what the store holds
Timestamp = EpochMs | AwareDatetime
Score = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Latency = Annotated[float, msgspec.Meta(ge=0.0)]
# msgspec rejects NaN/Infinity tokens and out-of-range literals such as 1e999 as invalid JSON,
# so a decoded float is always finite: no per-value isfinite() check is needed on the hot path.


class PredictionEvent(msgspec.Struct, frozen=True, gc=False):
    event_id: NonEmpty
    model: str
    version: NonEmpty
    ts: Timestamp
    # Kept as the producer's JSON text: stored as is, and decoded for the whole batch at once
    # (EventDecoder) instead of decoded per event and encoded again for storage.
    features: msgspec.Raw
    prediction: float | str
    score: Score | None = None
    latency_ms: Latency | None = None
    variant: str | None = None
    segment: dict[str, str] | None = None
    request_id: str | None = None  # v1.1: versions that scored one request share it (experiments pair them)


class FeedbackEvent(msgspec.Struct, frozen=True, gc=False):
    event_id: NonEmpty
    model: str
    ts: Timestamp
    label: float | str
    version: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    reason: str
    detail: str
    payload: bytes
    ts_ms: int  # broker timestamp of the message (0 when unknown)


@dataclass(slots=True)
class DecodedBatch:
    events: list[Any]  # PredictionEvent | FeedbackEvent, with ts normalised to epoch ms
    ts_ms: list[int]
    origins: list[tuple[int, int]]  # (partition, offset) per event
    dead: list[DeadLetter]
    features: list[dict] | None = None  # decoded feature maps of prediction events, per event


def ts_to_ms(ts: int | datetime) -> int:
    if isinstance(ts, int):
        return ts
    return int(ts.timestamp() * 1000)


class EventDecoder:
    """Decodes message batches of one topic. Validation runs inside msgspec's C decoder;
    only messages it rejects take the slow path that finds out why.

    >>> decoder = EventDecoder(PredictionEvent, topic="p", known_models={"m"})
    >>> ok = b'{"event_id":"a","model":"m","version":"1","ts":5,"features":{"x":1},"prediction":0}'
    >>> batch = decoder.decode([(0, 0, ok, 0), (0, 1, b"{", 0)])
    >>> [e.event_id for e in batch.events], [d.reason for d in batch.dead]
    (['a'], ['invalid_json'])
    """

    def __init__(self, struct: type, *, topic: str, known_models, max_bytes: int = 1_048_576,
                 max_features: int = 500, limits: EventLimits | None = None,
                 event_time: EventTimeBounds | None = None) -> None:
        self.struct = struct
        self.topic = topic
        self.known = frozenset(known_models)
        self.max_bytes = max_bytes
        self.max_features = max_features
        self.limits = limits or EventLimits()
        self.event_time = event_time or EventTimeBounds()
        # The event type with its strings capped: decoded events are instances of a subclass of ``struct``.
        self._struct = limited_event_type(struct, self.limits, feedback=struct is not PredictionEvent)
        self._decoder = msgspec.json.Decoder(self._struct | list[self._struct])
        features = feature_map_type(self.limits)
        self._features_batch = msgspec.json.Decoder(list[features])
        self._features_one = msgspec.json.Decoder(features)

    def decode(self, messages, now_ms: int | None = None) -> DecodedBatch:
        """``messages`` are ``(partition, offset, value, broker_ts_ms)`` tuples; ``now_ms`` (processing
        time) bounds the admitted event times (without it, only the store's range does)."""
        events: list = []
        origins: list = []
        sources: list = []  # the message of each event, for a dead letter found after decoding
        dead: list[DeadLetter] = []
        struct, known, decode, max_bytes = self._struct, self.known, self._decoder.decode, self.max_bytes
        for message in messages:
            value = message[2]
            if value and len(value) <= max_bytes:
                try:
                    decoded = decode(value)
                except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
                    decoded = None
                if type(decoded) is struct and decoded.model in known:
                    events.append(decoded)
                    origins.append((message[0], message[1]))
                    sources.append(message)
                    continue
            self._slow(message, events, origins, sources, dead)
        features = self._decode_features(events, origins, sources, dead) if self.struct is PredictionEvent else None
        ts_ms = [t if type(t) is int else int(t.timestamp() * 1000) for t in (e.ts for e in events)]
        batch = DecodedBatch(events, ts_ms, origins, dead, features)
        self._admit(batch, sources, TimeBounds.around(now_ms, self.event_time))
        return batch

    def _admit(self, batch: DecodedBatch, sources: list, bounds: TimeBounds) -> None:
        """Dead-letter the events out of the time bounds or over a byte limit."""
        rejected = rejections(batch.events, batch.ts_ms, batch.features, sources, bounds, self.limits)
        if not rejected:
            return
        for i, (reason, detail) in sorted(rejected.items()):
            partition, offset, value, broker_ts = sources[i]
            batch.dead.append(DeadLetter(self.topic, partition, offset, reason, detail, value, _broker_ts(broker_ts)))
        keep = [i for i in range(len(batch.events)) if i not in rejected]
        batch.events = [batch.events[i] for i in keep]
        batch.ts_ms = [batch.ts_ms[i] for i in keep]
        batch.origins = [batch.origins[i] for i in keep]
        if batch.features is not None:
            batch.features = [batch.features[i] for i in keep]

    def _decode_features(self, events: list, origins: list, sources: list, dead: list) -> list[dict]:
        """Feature maps of the whole batch in one decode; per event only if the batch has a bad one."""
        if not events:
            return []
        try:
            maps = self._features_batch.decode(b"[" + b",".join([e.features for e in events]) + b"]")
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            maps = [self._one_feature_map(e.features) for e in events]
        limit = self.max_features
        if all(type(m) is dict and len(m) <= limit for m in maps):
            return maps
        keep = []
        for i, m in enumerate(maps):
            if type(m) is not dict:
                reason, detail = m
            elif len(m) > limit:
                reason, detail = "too_many_features", f"{len(m)} features exceed the limit of {limit}"
            else:
                keep.append(i)
                continue
            partition, offset, value, broker_ts = sources[i]
            dead.append(DeadLetter(self.topic, partition, offset, reason, detail, value, _broker_ts(broker_ts)))
        events[:] = [events[i] for i in keep]
        origins[:] = [origins[i] for i in keep]
        sources[:] = [sources[i] for i in keep]
        return [maps[i] for i in keep]

    def _one_feature_map(self, raw) -> dict | tuple[str, str]:
        try:
            return self._features_one.decode(raw)
        except msgspec.ValidationError as exc:
            too_long = too_long_detail(str(exc))
            return ("field_too_long", f"features: {too_long}") if too_long else ("schema", f"features: {exc}")
        except msgspec.DecodeError as exc:
            return ("schema", f"features: {exc}")
        except RecursionError:
            return ("schema", "features: value nested too deeply")

    def _slow(self, message, events, origins, sources, dead) -> None:
        partition, offset, value, broker_ts = message
        broker_ts = _broker_ts(broker_ts)
        if not value:
            dead.append(DeadLetter(self.topic, partition, offset, "empty", "empty message value", b"", broker_ts))
            return
        if len(value) > self.max_bytes:
            dead.append(DeadLetter(self.topic, partition, offset, "too_large",
                                   f"message of {len(value)} bytes exceeds {self.max_bytes}", value, broker_ts))
            return
        items = _decode_slow(value, self._struct) or [("empty", "empty JSON array")]
        for index, item in enumerate(items):
            problem = item if isinstance(item, tuple) else self._check(item)
            if problem is None:
                events.append(item)
                origins.append((partition, offset))
                sources.append(message)
                continue
            reason, detail = problem
            if len(items) > 1:
                detail = f"event [{index}]: {detail}"
            dead.append(DeadLetter(self.topic, partition, offset, reason, detail, value, broker_ts))

    def _check(self, event) -> tuple[str, str] | None:
        if event.model not in self.known:
            return ("unknown_model", f"model {event.model[:200]!r} is not configured")
        return None


_ANY_DECODER = msgspec.json.Decoder()


def _broker_ts(value) -> int:
    """The broker timestamp of a message: given as int, or read from a confluent-kafka Message
    only when a dead letter needs it (it is not needed on the hot path). 0 (unknown) when the
    store cannot hold it: a producer sets it (CreateTime), and it is the dead letter's ``ts``."""
    if type(value) is int:
        ts = value
    else:
        ts_type, ts = value.timestamp()
        ts = ts if ts_type else 0
    return ts if STORE_MIN_MS <= ts < STORE_MAX_MS else 0


def decode_predictions(messages, topic, known_models, *, max_bytes, max_features, now_ms: int | None = None,
                       **bounds) -> DecodedBatch:
    """One-off convenience over :class:`EventDecoder` for the predictions topic (``bounds``: its
    ``limits`` and ``event_time``)."""
    return EventDecoder(PredictionEvent, topic=topic, known_models=known_models, max_bytes=max_bytes,
                        max_features=max_features, **bounds).decode(messages, now_ms)


def decode_feedback(messages, topic, known_models, *, max_bytes, max_features, now_ms: int | None = None,
                    **bounds) -> DecodedBatch:
    return EventDecoder(FeedbackEvent, topic=topic, known_models=known_models, max_bytes=max_bytes,
                        max_features=max_features, **bounds).decode(messages, now_ms)


def _decode_slow(value: bytes, struct) -> list[Any]:
    """Per-element decode of a message the fast path rejected; bad elements become (reason, detail)."""
    try:
        raw = _ANY_DECODER.decode(value)
    except msgspec.DecodeError as exc:
        return [("invalid_json", str(exc))]
    except RecursionError:  # msgspec recurses per nesting level; found by tests/stream/test_fuzz_decoder.py
        return [("invalid_json", "JSON nested too deeply")]
    elements = raw if isinstance(raw, list) else [raw]
    items: list[Any] = []
    for element in elements:
        if issubclass(struct, PredictionEvent) and isinstance(element, dict) and "features" in element:
            # Raw fields only come from JSON text: give the features back their text form.
            element = {**element, "features": msgspec.Raw(msgspec.json.encode(element["features"]))}
        try:
            items.append(msgspec.convert(element, struct))
        except RecursionError:
            items.append(("schema", "value nested too deeply"))
        except msgspec.ValidationError as exc:
            message = str(exc)
            too_long = too_long_detail(message)
            if too_long is not None:
                items.append(("field_too_long", too_long))
                continue
            reason = "out_of_range" if any(op in message for op in ("<=", ">=", "< ", "> ")) else "schema"
            items.append((reason, message))
    return items

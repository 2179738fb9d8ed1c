"""Event contract v1 and its batch decoder.

A message value is UTF-8 JSON: one event object or a JSON array of event
objects. The fast path decodes a whole message straight into msgspec Structs;
only a message that fails is decoded again element by element, so one bad
event in a batch does not take its neighbours to the dead-letter topic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import msgspec

__all__ = [
    "DeadLetter",
    "DecodedBatch",
    "FeedbackEvent",
    "PredictionEvent",
    "decode_feedback",
    "decode_predictions",
]

AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
Timestamp = int | AwareDatetime
FeatureValue = float | str | bool | None

# Bounded set of reasons: they are Prometheus label values.
REASONS = (
    "invalid_json",
    "schema",
    "non_finite",
    "out_of_range",
    "unknown_model",
    "too_large",
    "too_many_features",
    "empty",
)


class PredictionEvent(msgspec.Struct, frozen=True, gc=False):
    event_id: str
    model: str
    version: str
    ts: Timestamp
    features: dict[str, FeatureValue]
    prediction: float | str
    score: float | None = None
    latency_ms: float | None = None
    variant: str | None = None
    segment: dict[str, str] | None = None


class FeedbackEvent(msgspec.Struct, frozen=True, gc=False):
    event_id: str
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


def ts_to_ms(ts: int | datetime) -> int:
    if isinstance(ts, int):
        return ts
    return int(ts.timestamp() * 1000)


_PRED_DECODER = msgspec.json.Decoder(PredictionEvent | list[PredictionEvent])
_FEED_DECODER = msgspec.json.Decoder(FeedbackEvent | list[FeedbackEvent])
_ANY_DECODER = msgspec.json.Decoder()


def decode_predictions(messages, topic, known_models, *, max_bytes, max_features) -> DecodedBatch:
    """Decode ``(partition, offset, value, broker_ts_ms)`` tuples of the predictions topic."""
    return _decode(messages, topic, _PRED_DECODER, PredictionEvent, _check_prediction,
                   known_models, max_bytes, max_features)


def decode_feedback(messages, topic, known_models, *, max_bytes, max_features) -> DecodedBatch:
    return _decode(messages, topic, _FEED_DECODER, FeedbackEvent, _check_feedback,
                   known_models, max_bytes, max_features)


def _decode(messages, topic, decoder, struct, check, known_models, max_bytes, max_features):
    out = DecodedBatch([], [], [], [])
    for partition, offset, value, broker_ts in messages:
        if value is None or len(value) == 0:
            out.dead.append(DeadLetter(topic, partition, offset, "empty", "empty message value", b"", broker_ts))
            continue
        if len(value) > max_bytes:
            out.dead.append(DeadLetter(topic, partition, offset, "too_large",
                                       f"message of {len(value)} bytes exceeds {max_bytes}", value, broker_ts))
            continue
        try:
            decoded = decoder.decode(value)
            items = decoded if isinstance(decoded, list) else [decoded]
        except (msgspec.DecodeError, msgspec.ValidationError):
            items = _decode_slow(value, struct)
        if not items:
            items = [("empty", "empty JSON array")]
        for index, item in enumerate(items):
            problem = item if isinstance(item, tuple) else check(item, known_models, max_features)
            if problem is None:
                out.events.append(item)
                out.ts_ms.append(ts_to_ms(item.ts))
                out.origins.append((partition, offset))
            else:
                reason, detail = problem
                if len(items) > 1:
                    detail = f"event [{index}]: {detail}"
                out.dead.append(DeadLetter(topic, partition, offset, reason, detail, value, broker_ts))
    return out


def _decode_slow(value: bytes, struct) -> list[Any]:
    """Per-element decode of a message the fast path rejected; bad elements become (reason, detail)."""
    try:
        raw = _ANY_DECODER.decode(value)
    except msgspec.DecodeError as exc:
        return [("invalid_json", str(exc))]
    elements = raw if isinstance(raw, list) else [raw]
    if not elements:
        return [("empty", "empty JSON array")]
    items: list[Any] = []
    for element in elements:
        try:
            items.append(msgspec.convert(element, struct))
        except msgspec.ValidationError as exc:
            items.append(("schema", str(exc)))
    return items


def _check_common(event, known_models) -> tuple[str, str] | None:
    if not event.event_id:
        return ("schema", "event_id must be a non-empty string")
    if event.model not in known_models:
        return ("unknown_model", f"model {event.model[:200]!r} is not configured")
    if isinstance(event.ts, int) and not (0 <= event.ts < 10**13 * 2):
        return ("out_of_range", f"ts {event.ts} is not epoch milliseconds")
    return None


def _check_prediction(event: PredictionEvent, known_models, max_features) -> tuple[str, str] | None:
    problem = _check_common(event, known_models)
    if problem:
        return problem
    if not event.version:
        return ("schema", "version must be a non-empty string")
    if len(event.features) > max_features:
        return ("too_many_features", f"{len(event.features)} features exceed the limit of {max_features}")
    if isinstance(event.prediction, float) and not math.isfinite(event.prediction):
        return ("non_finite", "prediction is not a finite number")
    if event.score is not None and not (0.0 <= event.score <= 1.0):
        return ("out_of_range", f"score {event.score} is outside [0, 1]")
    if event.latency_ms is not None and not (0.0 <= event.latency_ms < math.inf):
        return ("out_of_range", f"latency_ms {event.latency_ms} is not a finite number >= 0")
    for name, value in event.features.items():
        if type(value) is float and not math.isfinite(value):
            return ("non_finite", f"feature {name[:100]!r} is not a finite number")
    return None


def _check_feedback(event: FeedbackEvent, known_models, max_features) -> tuple[str, str] | None:
    problem = _check_common(event, known_models)
    if problem:
        return problem
    if isinstance(event.label, float) and not math.isfinite(event.label):
        return ("non_finite", "label is not a finite number")
    return None

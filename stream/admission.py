"""What a well-formed event must also meet to be admitted: event-time bounds and byte limits.

A producer is not trusted. An event time the store cannot hold (before 1970, from 2100 on)
or far from processing time (``worker.event_time``) is ``out_of_range``; a string longer
than its limit (``worker.limits``) is ``field_too_long``. Both are found at decode time, so
such an event never reaches a window, the label join or the store.

String limits are checked inside msgspec's decoder as ``max_length`` constraints of the
event types (no cost on the hot path), feature names on the distinct names of a whole batch
(a constraint on dict keys would cost msgspec its key cache). msgspec counts characters, which
are the bytes for ASCII text; only a batch with non-ASCII bytes or escapes has the strings of
its suspect messages measured in UTF-8 bytes afterwards (:func:`byte_problem`).

>>> bounds = TimeBounds.around(1_700_000_000_000, EventTimeBounds(max_age_ms=86_400_000, max_future_ms=60_000))
>>> bounds.problem(1_700_000_030_000) is None
True
>>> print(bounds.problem(1_700_000_120_000))
ts 2023-11-14T22:15:20Z is outside the admitted event times [2023-11-13T22:13:20Z, 2023-11-14T22:14:20Z] (worker.event_time)
>>> print(too_long_detail("Expected `str` of length <= 128 - at `$.version`"))
string at `$.version` is longer than 128 bytes (worker.limits)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from operator import contains
from typing import Annotated, Any

import msgspec
from driftline.settings import EventLimits, EventTimeBounds

__all__ = ["STORE_MAX_MS", "STORE_MIN_MS", "TimeBounds", "byte_problem", "feature_map_type", "limited_event_type",
           "rejections", "too_long_detail"]

STORE_MIN_MS = 0  # ClickHouse DateTime starts at the epoch...
STORE_MAX_MS = 4_102_444_800_000  # ...and 2100-01-01 (exclusive) is well inside its end (2106)
_LENGTH = re.compile(r"of length <= (\d+) - at (.+)$")


def _text(limit: int, *, min_length: int = 0) -> Any:
    return Annotated[str, msgspec.Meta(min_length=min_length, max_length=limit)]


def limited_event_type(struct: type, limits: EventLimits, *, feedback: bool) -> type:
    """``struct`` (PredictionEvent or FeedbackEvent) with its strings capped at ``limits``."""
    s = limits
    if feedback:
        fields = [("event_id", _text(s.event_id, min_length=1)), ("model", _text(s.model)),
                  ("label", float | _text(s.value)), ("version", _text(s.version) | None, None)]
    else:
        segment = _text(s.segment)
        fields = [("event_id", _text(s.event_id, min_length=1)), ("model", _text(s.model)),
                  ("version", _text(s.version, min_length=1)), ("prediction", float | _text(s.value)),
                  ("variant", _text(s.variant) | None, None), ("segment", dict[segment, segment] | None, None),
                  ("request_id", _text(s.event_id) | None, None)]
    return msgspec.defstruct(struct.__name__, fields, bases=(struct,), frozen=True, gc=False)


def feature_map_type(limits: EventLimits) -> Any:
    """A feature map with string values capped at ``limits`` (names: see :func:`rejections`)."""
    return dict[str, float | _text(limits.value) | bool | None]


def too_long_detail(message: str) -> str | None:
    """The dead-letter detail of a msgspec error about a string over its ``max_length``, else None."""
    found = _LENGTH.search(message)
    if found is None:
        return None
    return f"string at {found.group(2)} is longer than {found.group(1)} bytes (worker.limits)"


def _utf8_over(value: Any, limit: int) -> bool:
    """True for a string of more than ``limit`` UTF-8 bytes (as many as its characters if ASCII)."""
    if type(value) is not str:
        return False
    return len(value) > limit or (not value.isascii() and len(value.encode()) > limit)


def byte_problem(event: Any, features: dict | None, limits: EventLimits) -> str | None:
    """The first string of a decoded event over its limit in UTF-8 bytes (detail of a dead letter)."""
    s = limits
    checks = [("event_id", event.event_id, s.event_id), ("model", event.model, s.model),
              ("version", event.version, s.version)]
    if features is None:  # feedback
        checks.append(("label", event.label, s.value))
    else:
        checks += [("prediction", event.prediction, s.value), ("variant", event.variant, s.variant),
                   ("request_id", event.request_id, s.event_id)]
        for key, value in (event.segment or {}).items():
            checks += [("segment key", key, s.segment), ("segment value", value, s.segment)]
        for name, value in features.items():
            checks += [("feature name", name, s.feature_name), (f"value of feature {name[:50]!r}", value, s.value)]
    for what, value, limit in checks:
        if _utf8_over(value, limit):
            return f"{what} is {len(value.encode())} bytes, longer than {limit} (worker.limits)"
    return None


def _iso(ms: int) -> str:
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return f"{ms} ms"


@dataclass(frozen=True, slots=True)
class TimeBounds:
    """Admitted event times of one batch, in epoch ms, both ends included."""

    low: int
    high: int

    @classmethod
    def around(cls, now_ms: int | None, bounds: EventTimeBounds) -> TimeBounds:
        """``bounds`` around processing time ``now_ms``, within what the store holds
        (only the store's range when ``now_ms`` is None)."""
        low, high = STORE_MIN_MS, STORE_MAX_MS - 1
        if now_ms is not None:
            if bounds.max_age_ms is not None:
                low = max(low, now_ms - bounds.max_age_ms)
            high = min(high, now_ms + bounds.max_future_ms)
        return cls(low, high)

    def problem(self, ts_ms: int) -> str | None:
        if self.low <= ts_ms <= self.high:
            return None
        return (f"ts {_iso(ts_ms)} is outside the admitted event times [{_iso(self.low)}, {_iso(self.high)}] "
                "(worker.event_time)")


def rejections(events: list, ts_ms: list[int], features: list | None, sources: list, bounds: TimeBounds,
               limits: EventLimits) -> dict[int, tuple[str, str]]:
    """``index -> (reason, detail)`` of the decoded events not admitted: out of the time bounds, or
    over a byte limit. ``sources`` are the events' messages, ``(partition, offset, value, broker_ts)``."""
    rejected: dict[int, tuple[str, str]] = {}
    if ts_ms and (min(ts_ms) < bounds.low or max(ts_ms) > bounds.high):
        for i, t in enumerate(ts_ms):
            problem = bounds.problem(t)
            if problem is not None:
                rejected[i] = ("out_of_range", problem)
    if features:
        limit = limits.feature_name
        # Feature names repeat from event to event: look at each distinct one once.
        long = {name for name in set().union(*features) if _utf8_over(name, limit)}
        if long:
            for i, names in enumerate(features):
                if i not in rejected and not long.isdisjoint(names):
                    name = next(n for n in names if n in long)
                    rejected[i] = ("field_too_long", f"feature name is {len(name.encode())} bytes, longer than "
                                                     f"{limit} (worker.limits)")
    values = [source[2] for source in sources]
    if all(map(bytes.isascii, values)) and not any(map(contains, values, repeat(0x5C))):  # no backslash
        return rejected  # every string is ASCII: msgspec's limits in characters were limits in bytes
    last, suspect = None, False
    for i, source in enumerate(sources):
        if source is not last:  # the events of one JSON array share their message: look at it once
            last, value = source, source[2]
            suspect = not value.isascii() or 0x5C in value
        if suspect and i not in rejected:
            problem = byte_problem(events[i], None if features is None else features[i], limits)
            if problem is not None:
                rejected[i] = ("field_too_long", problem)
    return rejected

"""``worker.event_time``, ``worker.limits`` and ``worker.versions``: what one event may be, and how many versions live.

A producer is not trusted: an event time far from processing time, an oversized string or
an unending stream of new versions must neither stall the worker nor grow its memory. Events
outside these bounds are dead-lettered (``out_of_range``, ``field_too_long``) at decode time;
versions past the cap are folded into one ``_other`` version per model.

The default oldest age admits a replay of the retained history: the raw-event retention
(``retention.raw_events``, 30 days by default) plus a week for a backlog or a replay that
takes its time, so 37 days by default; with ``raw_events: 0`` (kept forever) there is no
age bound but the store's floor (1970-01-01).

>>> from driftline.settings.reader import Reader
>>> r = Reader()
>>> bounds = parse_event_time(r, {"max_future": "1h"}, "worker.event_time", raw_events_days=14)
>>> bounds.max_age_ms // 86_400_000, bounds.max_future_ms
(21, 3600000)
>>> parse_event_time(r, {"max_age": 0}, "worker.event_time", raw_events_days=14).max_age_ms is None
True
>>> parse_limits(r, {"version": 64}, "worker.limits").version, r.problems
(64, [])
>>> parse_limits(r, {"event_id": 0}, "worker.limits").event_id
256
>>> str(r.problems[0])
'worker.limits.event_id: 0 is invalid, expected an integer in [1, 1048576]'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .durations import UNITS_MS
from .reader import Reader

__all__ = ["EventLimits", "EventTimeBounds", "VersionLimits", "default_max_age_ms", "parse_event_time",
           "parse_limits", "parse_versions"]

DAY_MS = UNITS_MS["d"]
REPLAY_MARGIN_DAYS = 7  # beyond the retained history: a backlog, or a replay that takes its time
MAX_LIMIT_BYTES = 1_048_576  # no field can be longer than the default message size anyway


def default_max_age_ms(raw_events_days: int) -> int | None:
    """The default oldest event age: the raw-event retention plus a week; None (no bound) when kept forever."""
    return None if raw_events_days == 0 else (raw_events_days + REPLAY_MARGIN_DAYS) * DAY_MS


@dataclass(frozen=True)
class EventTimeBounds:
    """Event times admitted, relative to processing time: ``[now - max_age, now + max_future]``.

    ``max_age_ms=None`` sets no oldest age. Whatever the bounds, an event time must also fall
    in what the store can hold (1970-01-01 to 2100-01-01).
    """

    max_age_ms: int | None = default_max_age_ms(30)
    max_future_ms: int = DAY_MS


@dataclass(frozen=True)
class EventLimits:
    """Byte limits (UTF-8) of the strings of an event; a longer one dead-letters it as ``field_too_long``."""

    event_id: int = 256
    model: int = 256
    version: int = 128
    feature_name: int = 256
    value: int = 1024  # every string value of a feature, a string prediction or label
    variant: int = 128
    segment: int = 256  # each key and each value of ``segment``


@dataclass(frozen=True)
class VersionLimits:
    """Live versions per model and partition. Past ``max_per_model``, the version idle longest (no
    event for ``retire_after``, no open window, no firing alert) is retired; if none is, the new
    version's events are monitored as the version ``_other`` (and stored with their own version)."""

    max_per_model: int = 20
    retire_after_ms: int = 7 * DAY_MS


def parse_event_time(r: Reader, raw: Any, path: str, *, raw_events_days: int) -> EventTimeBounds:
    e = r.mapping(raw, path, keys=("max_age", "max_future"))
    default_age = default_max_age_ms(raw_events_days)
    age = r.duration_ms(e, "max_age", path, default_age)
    return EventTimeBounds(max_age_ms=age or None, max_future_ms=r.duration_ms(e, "max_future", path, DAY_MS))


def parse_limits(r: Reader, raw: Any, path: str) -> EventLimits:
    fields = EventLimits.__dataclass_fields__
    m = r.mapping(raw, path, keys=tuple(fields))
    return EventLimits(**{name: r.integer(m, name, path, f.default, low=1, high=MAX_LIMIT_BYTES)
                          for name, f in fields.items()})


def parse_versions(r: Reader, raw: Any, path: str) -> VersionLimits:
    v = r.mapping(raw, path, keys=("max_per_model", "retire_after"))
    d = VersionLimits
    return VersionLimits(max_per_model=r.integer(v, "max_per_model", path, d.max_per_model, low=1, high=10_000),
                         retire_after_ms=r.duration_ms(v, "retire_after", path, d.retire_after_ms))

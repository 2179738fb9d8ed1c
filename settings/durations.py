"""The one duration grammar of every config file and command-line option.

``500ms``, ``60s``, ``5m``, ``1h``, ``1d``, compounds from the largest unit down (``1h30m``,
``1d12h``, ``2m30s``), decimals (``1.5s``), and a bare number, which means seconds.
Negative durations do not exist.

>>> [parse_duration_ms(v) for v in ("500ms", "60s", "5m", "1h", "1d", "1h30m", 90, "2.5", 0.25)]
[500, 60000, 300000, 3600000, 86400000, 5400000, 90000, 2500, 250]
>>> parse_duration_ms("30m1h")
Traceback (most recent call last):
...
ValueError: '30m1h' is not a duration like 500ms, 60s, 5m, 1h, 1d or 1h30m (a bare number is seconds)
"""

from __future__ import annotations

import math
import re

__all__ = ["DURATION", "UNITS_MS", "parse_duration_ms"]

DURATION = "a duration like 500ms, 60s, 5m, 1h, 1d or 1h30m (a bare number is seconds)"
UNITS_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}
_ORDER = tuple(UNITS_MS)
_NUMBER = re.compile(r"\s*\d+(?:\.\d+)?\s*")
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)")


def parse_duration_ms(value: object) -> int:
    """Milliseconds of a duration (see the module docstring); ``ValueError`` otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not {DURATION}")
        return round(value * 1000)
    if isinstance(value, str):
        if _NUMBER.fullmatch(value):
            return round(float(value) * 1000)
        total, end, last = 0.0, 0, -1
        for match in _PART.finditer(value):
            rank = _ORDER.index(match.group(2))
            if match.start() != end or rank <= last:
                break
            total += float(match.group(1)) * UNITS_MS[match.group(2)]
            end, last = match.end(), rank
        else:
            if end and not value[end:].strip():
                return round(total)
    raise ValueError(f"{value!r} is not {DURATION}")

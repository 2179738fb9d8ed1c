"""Hyperparameter checks shared by the detectors; each names the parameter it rejects."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .errors import DetectorConfigError


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]`` or raise naming ``name``."""
    expected = _range("an int", low, high)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DetectorConfigError(f"{name}: {value!r} is not an int (expected {expected})",
                                  key=name, value=value, expected=expected)
    if (low is not None and value < low) or (high is not None and value > high):
        raise DetectorConfigError(f"{name}: {value!r} is out of range (expected {expected})",
                                  key=name, value=value, expected=expected)
    return int(value)


def check_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite float in the given interval or raise naming ``name``."""
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    expected = f"a number in {left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DetectorConfigError(f"{name}: {value!r} is not a finite number (expected {expected})",
                                  key=name, value=value, expected=expected)
    v = float(value)
    bad_low = low is not None and (v <= low if low_open else v < low)
    bad_high = high is not None and (v >= high if high_open else v > high)
    if bad_low or bad_high:
        raise DetectorConfigError(f"{name}: {value!r} is out of range (expected {expected})",
                                  key=name, value=value, expected=expected)
    return v


def check_choice(name: str, value: Any, choices: Iterable[str], what: str = "value") -> str:
    """Return ``value`` if it is one of ``choices``, else raise listing them sorted."""
    valid = sorted(choices)
    if not isinstance(value, str) or value not in valid:
        expected = f"one of: {', '.join(valid)}"
        raise DetectorConfigError(f"{name}: {value!r} is not a known {what} (expected {expected})",
                                  key=name, value=value, expected=expected)
    return value


def _range(kind: str, low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"{kind} in [{low}, {high}]"
    if low is not None:
        return f"{kind} >= {low}"
    if high is not None:
        return f"{kind} <= {high}"
    return kind

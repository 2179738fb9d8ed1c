"""A reader that validates raw YAML values and collects problems instead of stopping at the first."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from .errors import ConfigError, ConfigProblem

__all__ = ["Reader", "parse_duration_ms"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, None: 1000}


def parse_duration_ms(value: Any) -> int:
    """``"60s"`` -> 60000; a bare number means seconds. Raises ValueError.

    >>> parse_duration_ms("1m"), parse_duration_ms(2), parse_duration_ms("250ms")
    (60000, 2000, 250)
    """
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return int(value * 1000)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(value)
    return int(float(match.group(1)) * _UNIT_MS[match.group(2)])


class Reader:
    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.problems: list[ConfigProblem] = []

    def problem(self, path: str, value: Any, expected: str) -> None:
        self.problems.append(ConfigProblem(path or "<root>", value, expected))

    def detector_problem(self, exc: Exception, path: str) -> None:
        # Detector errors already name their key path; keep their wording.
        for line in str(exc).splitlines() or [str(exc)]:
            key, _, rest = line.partition(": ")
            self.problems.append(_Verbatim(key if rest else path, line))

    def raise_if_problems(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)

    def mapping(self, path: str, value: Any) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problem(path, value, "a mapping")
            return {}
        return value

    def section(self, parent: Mapping[str, Any], key: str, path: str = "") -> Mapping[str, Any]:
        return self.mapping(_join(path, key), parent.get(key))

    def sequence(self, parent: Mapping[str, Any], key: str, path: str) -> Sequence[Any]:
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(_join(path, key), value, "a list")
            return []
        return value

    def string(self, parent: Mapping[str, Any], key: str, path: str, default: str | None) -> Any:
        value = parent.get(key, default)
        if value is None or isinstance(value, str):
            return value
        self.problem(_join(path, key), value, "a string")
        return default

    def string_map(self, parent: Mapping[str, Any], key: str, path: str) -> dict[str, str]:
        value = self.mapping(_join(path, key), parent.get(key))
        return {str(k): str(v) for k, v in value.items()}

    def choice(self, parent, key, path, default, choices: Sequence[str]) -> str:
        value = parent.get(key, default)
        if value not in choices:
            self.problem(_join(path, key), value, "one of: " + ", ".join(choices))
            return default
        return value

    def integer(self, parent, key, path, default, *, low=None, high=None):
        value = parent.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(_join(path, key), value, "an integer")
            return default
        if (low is not None and value < low) or (high is not None and value > high):
            self.problem(_join(path, key), value, f"an integer in [{low}, {high if high is not None else 'inf'}]")
            return default
        return value

    def duration(self, parent, key, path, default_ms: int, *, low: int = 0) -> int:
        value = parent.get(key)
        if value is None:
            return default_ms
        try:
            ms = parse_duration_ms(value)
        except ValueError:
            self.problem(_join(path, key), value, "a duration like 500ms, 60s, 5m, 1h")
            return default_ms
        if ms < low:
            self.problem(_join(path, key), value, f"a duration of at least {low} ms")
            return default_ms
        return ms

    def url(self, parent, key, path, default: str, *, schemes: Sequence[str]) -> str:
        value = self.string(parent, key, path, default)
        if not value or urlparse(value).scheme not in schemes:
            self.problem(_join(path, key), value, "a URL with scheme " + " or ".join(f"{s}://" for s in schemes))
            return default
        return value


class _Verbatim(ConfigProblem):
    def __init__(self, path: str, line: str) -> None:
        super().__init__(path, None, "")
        object.__setattr__(self, "line", line)

    def __str__(self) -> str:
        return self.line  # type: ignore[attr-defined]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key

"""A reader that turns parsed YAML into typed values and collects every problem on the way.

Each method reads one key of a mapping, checks it and returns a usable value: the
parsed one, or the default after recording a :class:`ConfigProblem`, so that parsing
goes on and one pass reports every problem of a file. ``path`` is the key path of the
mapping being read (``""`` at the root); a problem names ``path.key``.

>>> r = Reader()
>>> kafka = r.mapping({"batch_size": 0, "poll_timout": "1s"}, "kafka", keys=("batch_size", "poll_timeout"))
>>> r.integer(kafka, "batch_size", "kafka", 10_000, low=1)
10000
>>> print(ConfigError(r.problems))
kafka.poll_timout: '***' is invalid, expected a known key: batch_size, poll_timeout
kafka.batch_size: 0 is invalid, expected an integer >= 1
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from driftline.detectors import DetectorConfigError

from .durations import DURATION, parse_duration_ms
from .env import EnvStr
from .errors import MISSING, ConfigError, ConfigProblem

__all__ = ["Reader", "join"]

T = TypeVar("T")


def join(path: str, key: object) -> str:
    """``join("kafka", "topics")`` -> ``kafka.topics``; an int key gives ``models[0]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _range(kind: str, low: float | None, high: float | None) -> str:
    def text(bound: float) -> str:
        return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"

    if low is not None and high is not None:
        return f"{kind} in [{text(low)}, {text(high)}]"
    if low is not None:
        return f"{kind} >= {text(low)}"
    return f"{kind} <= {text(high)}" if high is not None else kind


class Reader:
    """Collects :class:`ConfigProblem` s; :meth:`raise_if_problems` raises them as one :class:`ConfigError`.

    ``base_dir`` is the directory of the config file being read: the paths of files the config
    names (:meth:`file`) are resolved from it, and checked unless ``check_files`` is false (a
    command that writes such a file). ``None`` (a mapping with no file, as in tests) leaves them
    as written.
    """

    def __init__(self, base_dir: str | Path | None = None, *, check_files: bool = True) -> None:
        self.problems: list[ConfigProblem] = []
        self.notes: list[str] = []  # what the config turns off on purpose (not problems), said at start
        self.base_dir = None if base_dir is None else Path(base_dir)
        self.check_files = check_files

    def problem(self, path: str, value: Any, expected: str, *, secret: bool = False) -> None:
        self.problems.append(ConfigProblem(path, value, expected, secret))

    def raise_if_problems(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)

    # -- containers ------------------------------------------------------------------------------
    def mapping(self, value: Any, path: str, *, keys: Collection[str] | None = None) -> Mapping[str, Any]:
        """``value`` as a mapping (``None`` is empty); with ``keys``, any other key is a problem."""
        if value is None or value is MISSING:
            return {}
        if not isinstance(value, Mapping):
            self.problem(path, value, "a mapping")
            return {}
        if keys is not None:
            for key in value:
                if key not in keys:
                    # A misspelt key may hold a secret (``sasl_pasword``): its text is not shown.
                    self.problem(join(path, key), value[key], "a known key: " + ", ".join(keys),
                                 secret=isinstance(value[key], str))
        return value

    def section(self, parent: Mapping[str, Any], key: str, path: str, *,
                keys: Collection[str] | None = None) -> Mapping[str, Any]:
        return self.mapping(parent.get(key), join(path, key), keys=keys)

    def items(self, parent: Mapping[str, Any], key: str, path: str) -> list[tuple[str, Any]]:
        """``(item path, item)`` for each item of a list (``None`` is empty)."""
        value = parent.get(key)
        where = join(path, key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(where, value, "a list")
            return []
        return [(join(where, i), item) for i, item in enumerate(value)]

    # -- scalars ---------------------------------------------------------------------------------
    def string(self, parent: Mapping[str, Any], key: str, path: str, default: str | None = None, *,
               required: bool = False, secret: bool = False,
               choices: Sequence[str] | None = None) -> str | None:
        """A string; an empty one (say ``${VAR:-}``) counts as absent, which only a required key minds."""
        value = parent.get(key, MISSING)
        where = join(path, key)
        expected = "a non-empty string" if choices is None else "one of: " + ", ".join(choices)
        if value is MISSING or value is None or value == "":
            if required:
                self.problem(where, value, expected, secret=secret)
            return default
        if choices is not None and value not in choices:
            self.problem(where, value, expected, secret=secret)
            return default
        if not isinstance(value, str):
            self.problem(where, value, "a string", secret=secret)
            return default
        return str(value)  # a plain str: settings never hold an EnvStr

    def file(self, parent: Mapping[str, Any], key: str, path: str) -> str | None:
        """The path of a file the worker reads (a reference, a CA certificate), or None when absent.

        Relative to the config file's directory (``base_dir``), not to the working directory,
        so a worker started anywhere reads the same file; a file that cannot be read is a problem
        now rather than a crash at startup.
        """
        value = self.string(parent, key, path)
        if value is None or self.base_dir is None:
            return value
        resolved = Path(value)
        if not resolved.is_absolute():
            resolved = self.base_dir / resolved
        if not self.check_files:
            return str(resolved)
        try:
            with resolved.open("rb"):
                pass
        except OSError as exc:
            self.problem(join(path, key), value, f"a readable file ({resolved}: {exc.strerror or exc})")
        return str(resolved)

    def integer(self, parent: Mapping[str, Any], key: str, path: str, default: T, *,
                low: int | None = None, high: int | None = None) -> int | T:
        value = parent.get(key, MISSING)
        if value is MISSING or value is None:
            return default
        if isinstance(value, EnvStr) and value.strip().lstrip("-").isdigit():
            value = int(value)  # a number from the environment is a number
        expected = _range("an integer", low, high)
        if isinstance(value, bool) or not isinstance(value, int) \
                or (low is not None and value < low) or (high is not None and value > high):
            self.problem(join(path, key), value, expected)
            return default
        return value

    def number(self, parent: Mapping[str, Any], key: str, path: str, default: T, *,
               low: float | None = None, high: float | None = None) -> float | T:
        value = parent.get(key, MISSING)
        if value is MISSING or value is None:
            return default
        if isinstance(value, EnvStr):
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                or (low is not None and value < low) or (high is not None and value > high):
            self.problem(join(path, key), value, _range("a number", low, high))
            return default
        return float(value)

    def boolean(self, parent: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = parent.get(key, default)
        if not isinstance(value, bool):
            self.problem(join(path, key), value, "true or false")
            return default
        return value

    def duration_ms(self, parent: Mapping[str, Any], key: str, path: str, default_ms: T, *,
                    low: int = 0) -> int | T:
        value = parent.get(key, MISSING)
        if value is MISSING or value is None:
            return default_ms
        try:
            ms = parse_duration_ms(value)
        except ValueError:
            self.problem(join(path, key), value, DURATION)
            return default_ms
        if ms < low:
            self.problem(join(path, key), value, f"a duration of at least {low} ms")
            return default_ms
        return ms

    def url(self, parent: Mapping[str, Any], key: str, path: str, default: str | None = None, *,
            schemes: Sequence[str], required: bool = True, secret: bool = False) -> str | None:
        """A URL with one of ``schemes``. Absent: ``default``, a problem if required without one.
        Empty (an unset ``${VAR}``): a problem if required, else ``default``."""
        value = parent.get(key, MISSING)
        expected = "a URL with scheme " + " or ".join(f"{s}://" for s in schemes)
        absent = value is MISSING or value is None
        if absent or value == "":
            if required and (default is None or not absent):
                self.problem(join(path, key), value, expected, secret=secret)
            return default
        if not isinstance(value, str) or urlsplit(value).scheme not in schemes \
                or not (urlsplit(value).netloc or urlsplit(value).path):
            self.problem(join(path, key), value, expected, secret=secret)
            return default
        return str(value)

    def strings(self, parent: Mapping[str, Any], key: str, path: str, *,
                choices: Sequence[str] | None = None) -> tuple[str, ...] | None:
        """A list of strings (drawn from ``choices`` when given); ``None`` when the key is absent."""
        value = parent.get(key)
        if value is None:
            return None
        ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        if ok and choices is not None:
            ok = all(v in choices for v in value)
        if not ok:
            expected = "a list drawn from: " + ", ".join(choices) if choices else "a list of names"
            self.problem(join(path, key), value, expected)
            return None
        return tuple(str(v) for v in value)

    def string_map(self, parent: Mapping[str, Any], key: str, path: str, *, scalars: bool = False,
                   secret: bool = False) -> dict[str, str]:
        """A mapping of name to string (``headers``); with ``scalars`` numbers and booleans too,
        given as strings (``kafka.options``, passed to librdkafka)."""
        where = join(path, key)
        value = self.mapping(parent.get(key), where)
        allowed = (str, int, float, bool) if scalars else (str,)
        out: dict[str, str] = {}
        for k, v in value.items():
            if not isinstance(k, str) or not isinstance(v, allowed):
                self.problem(join(where, k), v, "a string, number or boolean" if scalars else "a string",
                             secret=secret)
                continue
            out[k] = str(v).lower() if isinstance(v, bool) else str(v)
        return out

    # -- detectors -------------------------------------------------------------------------------
    def detector(self, path: str, build: Callable[[], T], params: Mapping[str, Any] | None = None) -> T | None:
        """Build a detector (or detector settings) once, so its own checks validate the values.

        A :class:`DetectorConfigError` naming a parameter becomes a problem at ``path.<parameter>``.
        """
        try:
            return build()
        except DetectorConfigError as exc:
            if exc.key is not None:
                self.problem(join(path, exc.key), exc.value, exc.expected or str(exc))
            else:
                self.problem(path, dict(params or {}), f"parameters the detector accepts ({exc})")
            return None

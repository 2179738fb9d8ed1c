"""Exceptions of the stream package.

    DriftlineError
    ├── ConfigError          a config file or value is invalid (exit code 2)
    └── WorkerError          the worker cannot go on
        ├── SchemaTooNewError  the store holds a schema newer than this build knows
        └── CheckpointError    a partition's checkpoint cannot be loaded (malformed)
            └── CheckpointTooNewError  written by a newer build (names both versions)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["CheckpointError", "CheckpointTooNewError", "ConfigError", "ConfigProblem", "DriftlineError",
           "WorkerError", "redact"]

_SECRET_KEY = re.compile(r"(secret|password|token|routing_key|sasl|api_key)", re.IGNORECASE)


class DriftlineError(Exception):
    """Root of every error raised by driftline's stream package."""

    retriable = False


@dataclass(frozen=True)
class ConfigProblem:
    path: str
    value: Any
    expected: str

    def __str__(self) -> str:
        return f"{self.path}: {redact(self.path, self.value)!r} is invalid, expected {self.expected}"


class ConfigError(DriftlineError, ValueError):
    """One or more config problems; ``str()`` gives one line per problem."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class WorkerError(DriftlineError):
    """The worker cannot continue."""


class CheckpointError(WorkerError):
    """A stored checkpoint cannot be loaded; the worker refuses the partition rather than
    silently starting it from scratch."""


class CheckpointTooNewError(CheckpointError):
    """The checkpoint was written by a build with a newer checkpoint format."""


def redact(path: str, value: Any) -> Any:
    """Hide values of secret-looking keys (and whole URLs with credentials)."""
    if value in (None, ""):
        return value
    if _SECRET_KEY.search(path.rsplit(".", 1)[-1]):
        return "***"
    if isinstance(value, str) and re.match(r"^[a-z]+://[^/@]*:[^/@]+@", value):
        return re.sub(r"://([^/:@]*):[^/@]+@", r"://\1:***@", value)
    return value

"""Exceptions raised by :mod:`detectors`.

Hierarchy::

    DetectorError                    root of every error raised here
    ├── DetectorConfigError          bad hyperparameter or settings value (also a ValueError)
    └── DetectorStateError           a snapshot cannot be taken or restored (also a ValueError)

None of them is retriable: they describe a programming or configuration mistake,
or a snapshot written by an incompatible build, so retrying the same call gives the same error.
"""

from __future__ import annotations

__all__ = ["DetectorConfigError", "DetectorError", "DetectorStateError"]


class DetectorError(Exception):
    """Root of every exception raised by the detectors package."""

    retriable = False


class DetectorConfigError(DetectorError, ValueError):
    """A hyperparameter or a settings key has a bad value.

    The message names the parameter (or the YAML key path), the bad value and
    what was expected, e.g. ``bins: 1 is out of range (expected an int in [2, 1000])``.
    When one parameter is at fault, ``key``, ``value`` and ``expected`` carry the same
    facts unformatted, so the settings layer can report them under the full key path.
    """

    def __init__(self, message: str, *, key: str | None = None, value: object = None,
                 expected: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.value = value
        self.expected = expected


class DetectorStateError(DetectorError, ValueError):
    """A snapshot holds something this build does not know: a malformed array, an attribute
    or a type outside the allowlist. The message names the path of the offending value."""

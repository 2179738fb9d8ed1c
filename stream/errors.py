"""Exceptions of the stream package.

    DriftlineError
    └── WorkerError          the worker cannot go on

A config problem is a :class:`driftline.settings.ConfigError`, raised before the worker starts.
"""

from __future__ import annotations

__all__ = ["DriftlineError", "WorkerError"]


class DriftlineError(Exception):
    """Root of every error raised by driftline's stream package."""

    retriable = False


class WorkerError(DriftlineError):
    """The worker cannot continue."""

"""Exceptions of the stream package.

    DriftlineError
    └── WorkerError              the worker cannot go on
        └── CheckpointError      a partition's checkpoint cannot be loaded (malformed)
            └── CheckpointTooNewError  written by a newer build (names both versions)

A config problem is a :class:`driftline.settings.ConfigError`, raised before the worker starts;
a schema newer than this build is a :class:`driftline.sinks.SchemaError`.
"""

from __future__ import annotations

__all__ = ["CheckpointError", "CheckpointTooNewError", "DriftlineError", "WorkerError"]


class DriftlineError(Exception):
    """Root of every error raised by driftline's stream package."""

    retriable = False


class WorkerError(DriftlineError):
    """The worker cannot continue."""


class CheckpointError(WorkerError):
    """A stored checkpoint cannot be loaded; the worker refuses the partition rather than
    silently starting it from scratch."""


class CheckpointTooNewError(CheckpointError):
    """The checkpoint was written by a build with a newer checkpoint format."""

"""Exceptions of the alerting layer.

    AlertingError                       root; never retriable (policy, not I/O)
    └── RuleConfigError (ValueError)    an ``alerts.rules`` entry is invalid; names the key path
"""

from __future__ import annotations

__all__ = ["AlertingError", "RuleConfigError"]


class AlertingError(Exception):
    """Root of every error raised by :mod:`driftline.alerting`."""

    retriable = False


class RuleConfigError(AlertingError, ValueError):
    """A rule in ``alerts.rules`` is invalid; the message names the key path."""

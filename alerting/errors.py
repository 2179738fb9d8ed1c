"""Exceptions of the alerting layer.

    AlertingError                       root; never retriable (policy, not I/O)

Rules are validated by :mod:`driftline.settings` before they get here, so the policy
itself raises nothing of its own today; the root is kept for what the engine may need.
"""

from __future__ import annotations

__all__ = ["AlertingError"]


class AlertingError(Exception):
    """Root of every error raised by :mod:`driftline.alerting`."""

    retriable = False

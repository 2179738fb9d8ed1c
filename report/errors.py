"""The report package's errors.

Hierarchy::

    ReportError                 a dossier could not be made (bad arguments, nothing to report on)
    └── ChromiumMissing         the PDF needs headless Chromium, which is not installed
"""

from __future__ import annotations

__all__ = ["ChromiumMissing", "ReportError"]


class ReportError(Exception):
    """A dossier could not be made; the message says why and what to do."""


class ChromiumMissing(ReportError):
    """No Chromium to print the PDF with; the message says how to install it."""

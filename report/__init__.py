"""The governance dossier of a model version (``driftline report``): an audit-ready document built
from what driftline recorded.

Beside the worker like the status page (the worker never imports it); every read is a function of
:mod:`driftline.sinks.queries.report`. :func:`build_dossier` assembles the nine sections into a
:class:`Dossier` (JSON content and its SHA-256), :func:`render_html` makes the self-contained HTML,
:func:`print_pdf` the PDF through headless Chromium, :func:`write_dossier` writes the files and
:func:`verify_file` checks one.
"""

from .dossier import FORMAT, SECTION_KEYS, Dossier, build_dossier
from .errors import ChromiumMissing, ReportError
from .html import render_html
from .pdf import find_chromium, print_pdf
from .verify import verify_bytes, verify_file
from .write import Written, write_dossier

__all__ = ["FORMAT", "SECTION_KEYS", "ChromiumMissing", "Dossier", "ReportError", "Written", "build_dossier",
           "find_chromium", "print_pdf", "render_html", "verify_bytes", "verify_file", "write_dossier"]

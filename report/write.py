"""Writing a dossier's files: the HTML, and on request its JSON and its PDF."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from driftline.detectors import ReferenceProfile
from driftline.settings import Settings
from driftline.sinks.store import Store

from .dossier import Dossier, build_dossier
from .errors import ChromiumMissing
from .html import render_html
from .pdf import print_pdf

__all__ = ["Written", "write_dossier"]


@dataclass(frozen=True)
class Written:
    dossier: Dossier
    paths: tuple[str, ...]
    pdf_problem: str | None = None  # why no PDF was printed (Chromium missing)


def write_dossier(store: Store, settings: Settings, model: str, html_path: str | Path, *, version: str | None = None,
                  json_path: str | Path | None = None, pdf_path: str | Path | None = None,
                  since_s: int | None = None, until_s: int | None = None, profile: ReferenceProfile | None = None,
                  generated_at: str | None = None, chromium: str | None = None) -> Written:
    """Build the dossier and write its files (parents created). Without Chromium the HTML and JSON are
    written and :attr:`Written.pdf_problem` says how to get it; any other failure raises ReportError."""
    dossier = build_dossier(store, settings, model, version=version, since_s=since_s, until_s=until_s,
                            profile=profile, generated_at=generated_at)
    paths = []
    for path, data in ((html_path, render_html(dossier)), (json_path, dossier.to_json() if json_path else b"")):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_bytes(data)
            paths.append(str(path))
    problem = None
    if pdf_path:
        Path(pdf_path).parent.mkdir(parents=True, exist_ok=True)
        try:
            paths.append(str(print_pdf(html_path, pdf_path, chromium=chromium)))
        except ChromiumMissing as exc:
            problem = str(exc)
    return Written(dossier, tuple(paths), problem)

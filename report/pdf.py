"""The PDF of a dossier, printed by headless Chromium from the HTML file.

Chromium runs with no network (a proxy that does not exist, no background traffic) and prints
the page without its header and footer; the HTML needs nothing from the network anyway.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .errors import ChromiumMissing, ReportError

__all__ = ["CANDIDATES", "find_chromium", "print_pdf"]

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--proxy-server=127.0.0.1:9",
         "--proxy-bypass-list=<-loopback>", "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw")
HOW_TO_GET = ("the PDF needs headless Chromium, which was not found (looked for: " + ", ".join(CANDIDATES) + "). "
              "Install it (Debian/Ubuntu: `apt-get install chromium`; macOS: `brew install --cask chromium`) or "
              "give its path with --chromium PATH; the HTML and JSON were written.")


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium executable: ``explicit`` when given, else the first of :data:`CANDIDATES` on the PATH."""
    if explicit:
        found = shutil.which(explicit)
        if found is None:
            raise ChromiumMissing(f"--chromium {explicit}: not an executable. " + HOW_TO_GET)
        return found
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise ChromiumMissing(HOW_TO_GET)


def print_pdf(html_path: str | Path, pdf_path: str | Path, *, chromium: str | None = None,
              profile_dir: str | Path | None = None, timeout_s: float = 120) -> Path:
    """Print ``html_path`` to ``pdf_path``; :class:`ChromiumMissing` without Chromium, :class:`ReportError` when
    it fails. ``profile_dir``: Chromium's user data directory (default: one beside the PDF, removed after)."""
    exe = find_chromium(chromium)
    pdf = Path(pdf_path).resolve()
    profile = Path(profile_dir) if profile_dir else pdf.parent / f".{pdf.name}.chromium"
    own = profile_dir is None
    try:
        done = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={pdf}",
                               Path(html_path).resolve().as_uri()], capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise ReportError(f"chromium did not print {html_path} within {timeout_s:.0f}s") from exc
    finally:
        if own:
            shutil.rmtree(profile, ignore_errors=True)
    if done.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise ReportError(f"chromium could not print {html_path} (exit {done.returncode}): {' '.join(tail)}")
    return pdf

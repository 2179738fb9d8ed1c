"""Checking a dossier file: does its content still hash to the SHA-256 it carries?

An HTML dossier embeds its content (``#dossier-content``) and shows the hash in its footer
(``#content-sha256``); a JSON dossier holds ``content`` and ``content_sha256``. Editing either
the content or the hash breaks the match.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .canonical import canonical_json, sha256_hex
from .errors import ReportError

__all__ = ["verify_bytes", "verify_file"]

_EMBEDDED = re.compile(rb'<script type="application/json" id="dossier-content">(.*?)</script>', re.DOTALL)
_FOOTER = re.compile(rb'<code id="content-sha256">([0-9a-f]{64})</code>')


def verify_bytes(data: bytes) -> tuple[bool, str, str]:
    """``(matches, claimed hash, hash of the content)`` of an HTML or JSON dossier's bytes."""
    if data.lstrip().startswith(b"{"):
        doc = json.loads(data)
        claimed, content = str(doc.get("content_sha256", "")), doc.get("content")
    else:
        embedded, footer = _EMBEDDED.search(data), _FOOTER.search(data)
        if embedded is None or footer is None:
            raise ReportError("not a driftline dossier: no embedded content or no SHA-256 in its footer")
        claimed, content = footer.group(1).decode(), json.loads(embedded.group(1))
    if content is None:
        raise ReportError("not a driftline dossier: no content")
    actual = sha256_hex(canonical_json(content))
    return actual == claimed, claimed, actual


def verify_file(path: str | Path) -> tuple[bool, str, str]:
    return verify_bytes(Path(path).read_bytes())

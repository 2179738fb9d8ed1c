"""The dossier in headless Chromium: the HTML renders its nine sections with no network request and no
console error, the screenshot is a real picture, and the PDF printed by ``driftline report --pdf``'s
code path is a document of at least one page per section."""

from __future__ import annotations

import asyncio
import base64
import re
import struct
import zlib

from driftline.report import build_dossier, print_pdf, render_html
from driftline.settings import parse_settings

from tests.support.browser import Browser
from tests.support.stores import sample_store

TITLES = ["1. Identity and lineage", "2. Reference and assumptions", "3. Validation and performance over time",
          "4. Drift history", "5. Data quality", "6. Bias analysis", "7. Incidents and actions", "8. Recommendations",
          "9. Sign-off"]


def _png_pixels(png: bytes) -> tuple[int, int, bytes]:
    """(width, height, the decompressed scanlines) of a PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", data[:8])
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    return size[0], size[1], zlib.decompress(idat)


async def _look(url: str, profile) -> tuple[list[str], str, list[dict], bytes]:
    async with Browser(profile) as page:
        await page.send("Runtime.enable")
        await page.send("Log.enable")
        await page.send("Emulation.setDeviceMetricsOverride", width=1100, height=1400, deviceScaleFactor=1, mobile=False)
        await page.navigate(url)
        await page.wait_for("document.readyState === 'complete' && document.querySelectorAll('section').length === 9",
                            what="the dossier")
        titles = await page.evaluate("[...document.querySelectorAll('section > h2')].map(h => h.textContent)")
        text = await page.evaluate("document.body.innerText")
        shot = await page.send("Page.captureScreenshot", format="png")
        return titles, text, list(page.events), base64.b64decode(shot["data"])


def test_the_dossier_renders_and_prints_without_network(tmp_path):
    with sample_store(tmp_path / "store") as store:
        dossier = build_dossier(store, parse_settings({"models": [
            {"name": "credit", "features": {"income": "numeric", "age": "numeric", "country": "categorical"}}]}),
            "credit")
    html = tmp_path / "dossier.html"
    html.write_bytes(render_html(dossier))

    titles, text, events, png = asyncio.run(_look(html.as_uri(), tmp_path / "chrome"))
    assert titles == TITLES
    assert "Bias analysis: not configured." in text and "investigate `income`: ks p 0.001" in text
    assert dossier.content_sha256 in text
    requests = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    assert requests == [html.as_uri()], requests  # the document itself, nothing else
    errors = [e for e in events if e["method"] == "Runtime.exceptionThrown"
              or (e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
              or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert errors == []
    (tmp_path / "dossier.png").write_bytes(png)
    width, height, pixels = _png_pixels(png)
    assert (width, height) == (1100, 1400)
    assert len(set(pixels[::7])) > 20  # text, tables and headings, not a blank page

    pdf = print_pdf(html, tmp_path / "dossier.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    assert pages >= 9, pages  # @media print starts every section on a new page

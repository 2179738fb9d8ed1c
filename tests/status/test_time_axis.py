"""The status page's time axis (issue 18): with short windows its labels repeated ("03:25, 03:25, ...");
they now carry seconds when ticks are under a minute apart, the date when they span days, and never repeat.
Run in Chromium, as the page runs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.browser import Browser

CHARTS = Path(__file__).resolve().parents[2] / "status" / "static" / "charts.js"
T0 = "Date.UTC(2026, 10, 25, 3, 25, 0)"


async def labels(page, step_ms: int, every: int, n: int = 30) -> list[str]:
    xs = f"Array.from({{length: {n}}}, (_, i) => {T0} + i * {step_ms})"
    return json.loads(await page.evaluate(f"JSON.stringify(DriftlineCharts.tickLabels({xs}, {every}))"))


async def test_tick_labels_never_repeat_and_show_seconds_or_dates_when_needed(tmp_path):
    page_file = tmp_path / "axis.html"
    page_file.write_text(f'<!doctype html><script>{CHARTS.read_text()}</script>')
    async with Browser(tmp_path / "profile") as page:
        await page.send("Emulation.setTimezoneOverride", timezoneId="UTC")
        await page.navigate(page_file.as_uri())
        await page.wait_for("typeof window.DriftlineCharts === 'object'", what="charts.js")
        ten_seconds = await labels(page, 10_000, 3)
        shown = [label for label in ten_seconds if label]
        assert shown[:3] == ["03:25:00", "03:25:30", "03:26:00"] and len(shown) == len(set(shown)) == 10
        one_minute = [label for label in await labels(page, 60_000, 2) if label]
        assert one_minute[:2] == ["03:25", "03:27"] and len(one_minute) == len(set(one_minute))
        hours = [label for label in await labels(page, 3_600_000, 5) if label]
        assert hours == ["11/25 03:25", "08:25", "13:25", "18:25", "23:25", "11/26 04:25"]
        # Ticks closer than their labels' precision: a repeated label is left out, not drawn twice.
        assert await labels(page, 20_000, 1, n=4) == ["03:25:00", "03:25:20", "03:25:40", "03:26:00"]
        assert [label for label in await labels(page, 1_000, 1, n=3)] == ["03:25:00", "03:25:01", "03:25:02"]

"""The demo's live view (issue 18): it cut its columns short at 80 characters ("Canary credi…", "psi on dist…").
Rendered at 80 and 160 columns, every scheduled change, detection and alert is shown whole, within the width;
piped output gets plain progress lines instead of a live view laid out for 80 columns."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from driftline.demo.cli import bundled_scenario
from driftline.demo.detections import Detection
from driftline.demo.display import DemoDisplay
from driftline.demo.scenario import load_scenario
from driftline.sinks.metrics import WorkerMetrics
from driftline.sinks.queries.demo import RecentAlert
from prometheus_client import CollectorRegistry
from rich.console import Console

SCENARIO = load_scenario(bundled_scenario())
START_MS = 1_795_600_800_000


def display(width: int, *, terminal: bool = True) -> tuple[DemoDisplay, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=terminal, color_system=None, legacy_windows=False)
    metrics = WorkerMetrics(CollectorRegistry())
    metrics.events.labels("credit", "v1", "predictions").inc(39_598)
    runtime = SimpleNamespace(metrics=metrics, settings=None, read_store=None)
    pump = SimpleNamespace(started_at=1.0, generator=SimpleNamespace(start_ms=START_MS),
                           event_time_ms=lambda: START_MS + 42 * 60_000)
    shown = DemoDisplay(runtime, pump, SCENARIO, speed=120, rate=2000, wall_start=0.0,
                        url="http://127.0.0.1:8000/", log_path="/tmp/demo-worker.log", console=console)
    for i, change in enumerate(SCENARIO.changes):
        shown.tracker.alert[i] = Detection(f"critical performance alert ({change.model}/v1)", START_MS, 1.0)
        if change.feature:
            shown.tracker.drift[i] = Detection(f"psi on {change.feature} ({change.model}/v1, 0.22)", START_MS, 1.0)
    shown._recent = [RecentAlert(datetime(2026, 11, 25, 10, 0, tzinfo=UTC), "firing", "warning", "covariate_shift",
                                 "credit", "v2", "Covariate shift on credit/v2: error rate changed with drift in "
                                 "`debt_ratio`, `income` (adwin signalled drift at error index 40)")]
    return shown, out


@pytest.mark.parametrize("width", [80, 160])
def test_the_live_view_shows_every_cell_whole_within_the_width(width):
    shown, out = display(width)
    shown.console.print(shown.render())
    text = out.getvalue()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "…" not in text
    words = set(text.replace("│", " ").split())
    cells = [c.name for c in SCENARIO.changes] + [d.what for d in (*shown.tracker.drift.values(),
                                                                   *shown.tracker.alert.values())]
    cells += [shown._recent[0].summary, "39,598 predictions"]
    missing = [w for cell in cells for w in cell.split() if w not in words]
    assert missing == [], f"cut short at {width} columns: {missing}\n{text}"

def test_piped_output_gets_progress_lines_not_a_live_view():
    assert display(80, terminal=False)[0].live is False
    assert display(80, terminal=True)[0].live is True

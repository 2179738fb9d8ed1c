"""What ``driftline demo`` shows in the terminal: live progress, then a summary.

:class:`DemoDisplay` renders what :class:`~driftline.demo.detections.DetectionTracker`
found in the store, with the worker's counters, in a ``rich`` Live view refreshed
once a second. It uses the terminal's whole width and cuts no text: in a terminal
narrower than :data:`WIDE` columns the counters take two rows and long cells wrap; when
the output is no terminal (piped, redirected) it prints plain progress lines instead.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from driftline.sinks.queries.demo import RecentAlert, recent_alerts
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .detections import DetectionTracker
from .scenario import Scenario

__all__ = ["DemoDisplay", "print_summary"]

log = logging.getLogger("driftline.demo")

RECENT_ALERTS = 6  # lines of the "Recent alerts" panel
WIDE = 120  # columns from which the live view lays everything on one line per row


def _counter_total(metric, **match: str) -> float:
    total = 0.0
    for family in metric.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and all(sample.labels.get(k) == v for k, v in match.items()):
                total += sample.value
    return total


def _offset(ms: int) -> str:
    minutes, seconds = divmod(int(ms // 1000), 60)
    hours, minutes = divmod(minutes, 60)
    return f"+{hours}h{minutes:02d}m" if hours else f"+{minutes}m{seconds:02d}s" if seconds else f"+{minutes}m"


class DemoDisplay(threading.Thread):
    """The live terminal view. ``live=False`` prints a progress line every 10 s instead."""

    def __init__(self, runtime, pump, scenario: Scenario, *, speed: float, rate: float, wall_start: float,
                 url: str, log_path: Path, live: bool = True, console: Console | None = None) -> None:
        super().__init__(name="driftline-demo-display", daemon=True)
        self.runtime = runtime
        self.pump = pump
        self.scenario = scenario
        self.speed = speed
        self.rate = rate
        self.wall_start = wall_start
        self.url = url
        self.log_path = log_path
        self.console = console or Console()
        # Not a terminal (piped, redirected): a live view cannot redraw and rich would lay it out at 80 columns.
        self.live = live and self.console.is_terminal
        self.tracker = DetectionTracker(scenario, wall_start)
        self.stopping = threading.Event()
        self.traffic_started_s: float | None = None
        self._rates: list[tuple[float, float]] = []
        self._recent: list[RecentAlert] = []
        self._store = None  # own ClickHouse connection: a clickhouse-driver client is not thread-safe

    @property
    def store(self):
        """A store connection of the display's own, opened once the worker has migrated the schema."""
        url = self.runtime.settings.clickhouse.url
        if url.startswith("chdb://"):
            # chdb is one engine per process and EmbeddedStore locks its session: share the worker's.
            return self.runtime.read_store
        if self._store is None and self.runtime.read_store is not None:
            from driftline.stream.wiring import build_store

            store = build_store(url)
            store.use_database()
            self._store = store
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def traffic_started(self) -> None:
        self.traffic_started_s = time.monotonic() - self.wall_start

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(5)

    def run(self) -> None:
        if not self.live:
            return self._run_plain()
        with Live(self.render(), console=self.console, auto_refresh=False, transient=False) as live:
            while not self.stopping.wait(1.0):
                self.refresh()
                live.update(self.render(), refresh=True)
            self.refresh()
            live.update(self.render(), refresh=True)

    def _run_plain(self) -> None:
        last = 0.0
        while not self.stopping.wait(1.0):
            self.refresh()
            if time.monotonic() - last >= 10:
                last = time.monotonic()
                self.console.print(self.status_line(), highlight=False, soft_wrap=True)

    def refresh(self) -> None:
        now = time.monotonic()
        consumed = _counter_total(self.runtime.metrics.events, stream="predictions")
        self._rates = [(t, v) for t, v in self._rates if now - t <= 5] + [(now, consumed)]
        if self.pump.started_at is None:
            return
        try:
            store = self.store
            if store is None:
                return
            self.tracker.poll(store, self.pump.generator.start_ms)
            for i in self.tracker.rolled_back:  # the demo's router acts on the rollback: the canary stops
                self.pump.generator.end_change(self.scenario.changes[i], self.pump.event_time_ms())
            self._recent = recent_alerts(store, RECENT_ALERTS)
        except Exception as exc:  # noqa: BLE001 - the store may be starting; the next poll retries
            log.debug("demo display poll failed: %s", exc)

    # -- rendering -----------------------------------------------------------------------------
    def counters(self) -> dict[str, float]:
        m = self.runtime.metrics
        consumed = _counter_total(m.events, stream="predictions")
        rates = self._rates or [(time.monotonic(), consumed)]
        (t0, v0), (t1, v1) = rates[0], rates[-1]
        return {
            "consumed": consumed,
            "labels": _counter_total(m.events, stream="feedback"),
            "rate": (v1 - v0) / (t1 - t0) if t1 > t0 else 0.0,
            "windows": _counter_total(m.windows_closed),
            "firing": _counter_total(m.alerts, status="firing"),
            "resolved": _counter_total(m.alerts, status="resolved"),
        }

    def status_line(self) -> str:
        c = self.counters()
        elapsed = time.monotonic() - self.wall_start
        event = self.pump.event_time_ms() - self.pump.generator.start_ms
        return (f"[{elapsed:5.0f}s] event time {_offset(event)}  {c['rate']:,.0f} events/s  "
                f"windows {c['windows']:,.0f}  drifts {self.tracker.drifted_results}  "
                f"alerts firing {c['firing']:.0f} resolved {c['resolved']:.0f}")

    def render(self):
        elapsed = time.monotonic() - self.wall_start
        if self.pump.started_at is None:
            return Panel(Text(f"starting broker and worker... {elapsed:.0f}s   (worker log: {self.log_path})"),
                         title="driftline demo", border_style="cyan")
        c = self.counters()
        event = self.pump.event_time_ms() - self.pump.generator.start_ms
        wide = self.console.width >= WIDE
        stats = [
            _stat("event time", _offset(event), f"{self.speed:g}x"),
            _stat("events/s", f"{c['rate']:,.0f}", f"{c['consumed']:,.0f} predictions"),
            _stat("labels", f"{c['labels']:,.0f}", "joined late"),
            _stat("windows closed", f"{c['windows']:,.0f}", ""),
            _stat("drifts found", f"{self.tracker.drifted_results:,}", "feature x window"),
            _stat("alerts", f"{c['firing']:.0f} firing", f"{c['resolved']:.0f} resolved"),
        ]
        per_row = 6 if wide else 3
        head = Table.grid(padding=(0, 3))
        for _ in range(per_row):
            head.add_column(justify="left", no_wrap=True)
        for i in range(0, len(stats), per_row):
            head.add_row(*stats[i:i + per_row])
        changes = self.changes_table(event)
        alerts = Table(box=None, show_header=False, pad_edge=False, expand=True)
        alerts.add_column(width=8)
        alerts.add_column(width=9)
        alerts.add_column(ratio=1, overflow="fold")
        for a in self._recent:
            colour = "green" if a.status == "resolved" else "red" if a.severity == "critical" else "yellow"
            alerts.add_row(a.ts.strftime("%H:%M:%S"), Text(a.status.upper(), style=f"bold {colour}"),
                           f"{a.kind} {a.model}/{a.version}: {a.summary}")
        if not self._recent:
            alerts.add_row("", "", Text("none yet", style="dim"))
        footer = Text.assemble(("Status page ", "dim"), (self.url, "bold cyan underline"),
                               ("   worker log ", "dim"), (str(self.log_path), "cyan"), ("   Ctrl-C to stop", "dim"))
        return Panel(Group(head, Text(""), changes, Text(""), Text("Recent alerts", style="bold"), alerts,
                           Text(""), footer),
                     title=f"driftline demo  [dim]{elapsed:.0f}s[/]", border_style="cyan")

    def changes_table(self, event_offset_ms: int | None = None) -> Table:
        # Long cells wrap (a narrow terminal makes the table taller, never cuts a name short).
        table = Table(expand=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("at", width=8)
        table.add_column("scheduled change", ratio=3, overflow="fold")
        table.add_column("model", width=7)
        table.add_column("first drift / verdict", ratio=3, overflow="fold")
        table.add_column("first alert", ratio=3, overflow="fold")
        table.add_column("delay", width=14, justify="right")
        for i, change in enumerate(self.scenario.changes):
            drift = self.tracker.drift.get(i) or self.tracker.verdict.get(i)
            alert = self.tracker.alert.get(i)
            if event_offset_ms is not None and event_offset_ms < change.at_ms:
                status = Text("upcoming", style="dim")
                table.add_row(_offset(change.at_ms), Text(change.name, style="dim"), change.model, status, "", "")
                continue
            first = min((d for d in (drift, alert) if d), key=lambda d: d.window_end_ms, default=None)
            delay = Text("waiting...", style="yellow") if first is None else Text(
                _offset(first.window_end_ms - self.pump.generator.start_ms - change.at_ms), style="green")
            table.add_row(_offset(change.at_ms), change.name, change.model,
                          Text(drift.what, style="green") if drift else Text("-" if change.feature is None else "...", style="dim"),
                          Text(alert.what, style="red") if alert else Text("...", style="dim"), delay)
        return table


def _stat(label: str, value: str, sub: str) -> Text:
    return Text.assemble((label + "\n", "dim"), (value, "bold"), ("\n" + sub, "dim"))


def print_summary(runtime, pump, scenario: Scenario, display: DemoDisplay, *, speed: float) -> None:
    """The end-of-run table: each change, when it happened, what caught it and how late."""
    console = display.console
    if pump.started_at is None or runtime.read_store is None:
        console.print(f"[red]The worker did not start.[/] Last lines of {display.log_path}:")
        try:
            console.print(Text("\n".join(display.log_path.read_text().splitlines()[-25:])))
        except OSError:
            pass
        return
    display.refresh()
    start_ms = pump.generator.start_ms
    table = Table(title="What happened, and what caught it", header_style="bold", title_justify="left")
    table.add_column("scheduled change")
    table.add_column("happened at (event time)")
    table.add_column("first detected by")
    table.add_column("detection delay", justify="right")
    for i, change in enumerate(scenario.changes):
        happened = datetime.fromtimestamp((start_ms + change.at_ms) / 1000, tz=UTC).strftime("%H:%M:%S")
        reached = pump.event_time_ms() - start_ms >= change.at_ms
        found = [d for d in (display.tracker.drift.get(i), display.tracker.alert.get(i),
                             display.tracker.verdict.get(i)) if d]
        if not reached:
            table.add_row(change.name, f"{_offset(change.at_ms)} (not reached)", "-", "-")
            continue
        if not found:
            table.add_row(change.name, f"{happened} ({_offset(change.at_ms)})", Text("not detected", style="red"), "-")
            continue
        lines = [d.what for d in sorted(found, key=lambda d: d.window_end_ms)]
        delays = [f"{_offset(d.window_end_ms - start_ms - change.at_ms)} event time"
                  f" ({(d.window_end_ms - start_ms - change.at_ms) / 1000 / speed:.1f}s wall)"
                  for d in sorted(found, key=lambda d: d.window_end_ms)]
        table.add_row(change.name, f"{happened} ({_offset(change.at_ms)})", "\n".join(lines), "\n".join(delays))
    console.print(table)
    display.close()
    t = display.tracker
    started = display.traffic_started_s or 0.0
    parts = [f"traffic started {started:.1f}s after launch"]
    if t.first_drift_s is not None:
        parts.append(f"first drift detected at {t.first_drift_s:.1f}s")
    if t.first_alert_s is not None:
        parts.append(f"first alert at {t.first_alert_s:.1f}s")
    console.print(", ".join(parts) + f"; {pump.produced:,} predictions and {pump.labels:,} labels sent.")
    if pump.error is not None:
        console.print(f"[red]traffic generator failed:[/] {pump.error!r}")

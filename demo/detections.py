"""Which scheduled change of a demo scenario has been caught yet, by what, and how late.

:class:`DetectionTracker` polls the store (through :mod:`driftline.sinks.queries.demo`)
for the first drift result and the first alert after each change, and for a canary the
experiment's first verdict (``rollback``, with its action); the terminal view shows what
it found.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from driftline.sinks.queries import demo as reads
from driftline.sinks.store import Store

from .scenario import Change, Scenario

__all__ = ["ALERT_KINDS", "Detection", "DetectionTracker"]

# Which alerts count as catching a change of each kind.
ALERT_KINDS = {
    "covariate_shift": ("data_drift", "covariate_shift"),
    "new_category": ("data_drift",),
    "concept_drift": ("concept_drift", "performance"),
    "latency_regression": ("latency",),
    "canary": ("performance", "concept_drift"),
}


@dataclass(frozen=True)
class Detection:
    """What caught a change, the event time of the window that showed it, and when the demo saw it."""

    what: str
    window_end_ms: int  # event time of the window that showed it
    seen_s: float  # wall-clock seconds since the demo started, when the terminal first saw it


class DetectionTracker:
    """First drift result and first alert after each scheduled change. Polls; never blocks the worker."""

    def __init__(self, scenario: Scenario, wall_start: float, clock=time.monotonic) -> None:
        self.scenario = scenario
        self.wall_start = wall_start
        self.clock = clock
        self.drift: dict[int, Detection] = {}
        self.alert: dict[int, Detection] = {}
        self.verdict: dict[int, Detection] = {}  # canaries: the experiment's decision
        self.rolled_back: set[int] = set()  # canaries whose experiment decided to roll them back
        self.first_drift_s: float | None = None
        self.first_alert_s: float | None = None
        self.drifted_results = 0  # drifted (window, feature) results so far

    def poll(self, store: Store, start_ms: int) -> None:
        now = self.clock() - self.wall_start
        self.drifted_results = reads.drifted_result_count(store)
        if self.first_drift_s is None and self.drifted_results:
            self.first_drift_s = now
        if self.first_alert_s is None and reads.firing_alert_count(store):
            self.first_alert_s = now
        for i, change in enumerate(self.scenario.changes):
            at_s = (start_ms + change.at_ms) // 1000
            if i not in self.drift and change.feature is not None:
                found = self._first_drift(store, change, at_s)
                if found:
                    self.drift[i] = Detection(found[0], found[1], now)
            if i not in self.alert:
                found = self._first_alert(store, change, at_s)
                if found:
                    self.alert[i] = Detection(found[0], found[1], now)
            if i not in self.verdict and change.kind == "canary":
                verdict = reads.first_verdict_after(store, change.model, change.params["version"], at_s)
                if verdict:
                    if verdict.verdict == "rollback":
                        self.rolled_back.add(i)
                    self.verdict[i] = Detection(f"{verdict.verdict} verdict of {verdict.experiment}, action "
                                                f"{verdict.action} ({change.model}/{change.params['version']})",
                                                verdict.window_end_s * 1000, now)

    @staticmethod
    def _first_drift(store: Store, change: Change, at_s: int) -> tuple[str, int] | None:
        found = reads.first_drift_after(store, change.model, change.feature, at_s)
        if found is None:
            return None
        value = f"p={found.p_value:.2g}" if found.p_value is not None else f"{found.statistic:.2f}"
        return (f"{found.test} on {change.feature} ({change.model}/{found.version}, {value})",
                found.window_end_s * 1000)

    @staticmethod
    def _first_alert(store: Store, change: Change, at_s: int) -> tuple[str, int] | None:
        version = change.params.get("version") if change.kind == "canary" else "v1"
        found = reads.first_alert_after(store, change.model, version, ALERT_KINDS[change.kind], at_s)
        if found is None:
            return None
        return f"{found.severity} {found.kind} alert ({change.model}/{version})", found.window_end_s * 1000

"""Stage 2 of the two-stage aggregation: the one owner of a model version merges and closes its windows.

A :class:`WindowOwner` receives the :class:`~driftline.stream.partials.Partial` states every
partition publishes for one (model, version) and closes a window into the same
:class:`~driftline.detectors.WindowReport` one partition holding all the events computes: the
merged state goes through the version's :class:`~driftline.stream.monitor.ModelMonitor`
(drift tests and their correction, persistence, quality, performance, segments, fairness).

Rules (see docs/deployment.md, "Two-stage aggregation"):

* **complete**: a window closes when every one of the ``partitions`` input partitions has reported
  a watermark at or past its end (a partial or :meth:`WindowOwner.mark` carries it; a partition's
  newest mark replaces its earlier ones, as they arrive in the order it sent them);
* **idle rule**: a partition with no event of the version for ``idle_close`` says so itself (its
  mark is past every end, see :mod:`~driftline.stream.two_stage`), so a silent partition (its
  worker dead, stalled or restarting) is never taken for an idle one. A partition never heard from
  (it carries none of the version's events) holds a window ``idle_ms`` after its first partial;
* **bounded wait**: no window waits more than ``wait_ms`` after its first partial arrived (a
  worker's restart must take less, or its partitions' partials come late);
* **late partials**: a partial of a window already closed is counted (``late_partials``), never
  merged into a published result;
* **replace, never add**: a partial is identified by (side, window, partition); delivered again
  (at-least-once transport, a stage-1 worker replaying after kill -9) it replaces the earlier one;
* **label windows** close after the prediction window of the same start, as in one partition,
  so label coverage is known;
* **sequential detectors**: the concept detector runs here on each label window's error (error
  rate, or mean absolute error of a regressor), one value per window in window order, stamped
  with the window's end; each streaming feature detector (``streaming:``) likewise on each prediction
  window's mean of its feature (the merged exact sum over the count, so the mean is the same bits
  whatever the keying; a window without a value of the feature feeds nothing). Stage 1's per-event
  concept events and river change points are dropped. A prediction window closed after a later one
  (only the bounded wait can do that) feeds no streaming detector: its mean would come out of order.

The owner's state (:meth:`WindowOwner.snapshot`) is JSON-safe with ``"format": 1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from driftline.detectors import CBPEWindow, DriftResult, WindowReport

from .errors import CheckpointError
from .monitor import ModelMonitor
from .partials import SIDES, Partial, merge_partials
from .windows import LabelWindow, OpenWindow

__all__ = ["OWNER_FORMAT", "WindowOwner"]

OWNER_FORMAT = 1
NEVER = -(2**62)


class WindowOwner:
    def __init__(self, monitor: ModelMonitor, *, wait_ms: int, idle_ms: int, partitions: int) -> None:
        if wait_ms <= 0:
            raise ValueError(f"wait_ms: {wait_ms} is not positive")
        if idle_ms <= 0:
            raise ValueError(f"idle_ms: {idle_ms} is not positive")
        if partitions <= 0:
            raise ValueError(f"partitions: {partitions} is not positive")
        self.partitions = partitions
        self.monitor = monitor
        self.wait_ms = wait_ms
        self.idle_ms = idle_ms
        self.pending: dict[tuple[str, int], dict[int, Partial]] = {}  # (side, start) -> partition -> partial
        self.first_seen: dict[tuple[str, int], int] = {}  # (side, start) -> processing time of its first partial
        self.marks: dict[str, dict[int, list[int]]] = {side: {} for side in SIDES}  # partition -> [watermark, seen]
        self.closed_through: dict[str, int] = {side: NEVER for side in SIDES}
        self.late_partials = 0

    def mark(self, side: str, partition: int, watermark_ms: int, now_ms: int) -> None:
        """A partition's watermark of ``side`` (a partial carries one, a mark message too)."""
        self.marks[side][partition] = [watermark_ms, now_ms]

    def add(self, partial: Partial, now_ms: int) -> None:
        if (partial.model, partial.version) != (self.monitor.model, self.monitor.version):
            raise ValueError(f"partial: of {partial.model}/{partial.version}, not of this owner's version")
        self.mark(partial.side, partial.partition, partial.watermark_ms, now_ms)
        key = (partial.side, partial.window.start_ms)
        if key not in self.pending and partial.window.end_ms <= self.closed_through[partial.side]:
            self.late_partials += 1
            return
        self.pending.setdefault(key, {})[partial.partition] = partial
        self.first_seen.setdefault(key, now_ms)

    def _complete(self, side: str, end_ms: int, key: tuple[str, int], now_ms: int) -> bool:
        waited = now_ms - self.first_seen[key]
        if waited >= self.wait_ms:
            return True
        marks = self.marks[side]
        for p in range(max(self.partitions, len(marks))):
            mark = marks.get(p)
            if mark is None:
                if waited < self.idle_ms:
                    return False
            elif mark[0] < end_ms:
                return False
        return True

    def close_ready(self, now_ms: int) -> list[WindowReport]:
        """Close every complete window (predictions first, then labels), oldest first."""
        reports = []
        for side in SIDES:
            for key in sorted(k for k in self.pending if k[0] == side):
                partials = self.pending[key]
                end_ms = next(iter(partials.values())).window.end_ms
                if not self._complete(side, end_ms, key, now_ms):
                    continue
                if side == "labels" and ("predictions", key[1]) in self.pending:
                    continue  # its prediction window first: label coverage needs its count
                del self.pending[key]
                del self.first_seen[key]
                merged = self._merge(list(partials.values()))
                reports.append(self._close(merged))
                self.closed_through[side] = max(self.closed_through[side], end_ms)
        return reports

    def _merge(self, partials: list[Partial]) -> Partial:
        m = self.monitor
        profile = m.segments.drift.profile if m.segments is not None and m.segments.drift is not None \
            else (lambda key, group: None)
        return merge_partials(sorted(partials, key=lambda p: p.partition), m.reference, profile)

    def _close(self, merged: Partial) -> WindowReport:
        m = self.monitor
        start = merged.window.start_ms
        if m.segments is not None and merged.groups is not None:
            (m.segments.windows if merged.side == "predictions" else m.segments.label_windows)[start] = merged.groups
        if merged.side == "predictions":
            window = merged.window
            window.change_points = self._change_points(window)
            # Estimators as the monitor runs them now (its CBPE has the normalised positive label; a
            # setting turned off drops them), as a restored checkpoint's open windows get them.
            if window.cbpe is not None:
                window.cbpe = None if m.cbpe is None else CBPEWindow.restore(m.cbpe, window.cbpe.snapshot())
            if m.dle is None:
                window.dle = None
            return m._close(window)
        window = merged.window
        assert isinstance(window, LabelWindow)
        window.concept = []
        error = _window_error(window)
        if error is not None:
            window.concept = list(m.concept.update(np.array([error]), np.array([window.end_ms], dtype=np.int64)))
        return m._close_labels(window)

    def _change_points(self, window: OpenWindow) -> list[DriftResult]:
        """The streaming detectors fed this window's feature means, stamped with its end."""
        if window.end_ms <= self.closed_through["predictions"]:
            return []
        out = []
        for feature, detector in self.monitor.streaming:
            total = window.sums.get(feature)
            mean = None if total is None else total.mean
            if mean is None:
                continue
            for event in detector.update(np.array([mean]), window.end_ms):
                out.append(DriftResult(feature, f"{detector.name}_stream", 1.0, 1.0, event.state == "drift"))
        return out

    # -- checkpoints -------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state: pending partials, marks, what closed, and the version's result state."""
        m = self.monitor
        return {"format": OWNER_FORMAT, "model": m.model, "version": m.version,
                "pending": [p.snapshot() for partials in self.pending.values() for p in partials.values()],
                "first_seen": [[side, start, t] for (side, start), t in self.first_seen.items()],
                "marks": {side: [[p, w, s] for p, (w, s) in marks.items()] for side, marks in self.marks.items()},
                "closed_through": dict(self.closed_through), "late_partials": self.late_partials,
                "monitor": m.snapshot()}

    @classmethod
    def restore(cls, s: Mapping[str, Any], monitor: ModelMonitor, *, wait_ms: int, idle_ms: int,
                partitions: int) -> WindowOwner:
        """``monitor`` is a fresh one for the version, under the current settings and reference."""
        if s.get("format") != OWNER_FORMAT:
            raise CheckpointError(f"window owner: format {s.get('format')!r} is not {OWNER_FORMAT}")
        restored = ModelMonitor.restore(s["monitor"], monitor.settings, monitor.reference, monitor.pca)
        owner = cls(restored, wait_ms=wait_ms, idle_ms=idle_ms, partitions=partitions)
        profile = restored.segments.drift.profile if restored.segments is not None and restored.segments.drift \
            is not None else (lambda key, group: None)
        for p in s["pending"]:
            partial = Partial.restore(p, restored.reference, profile)
            owner.pending.setdefault((partial.side, partial.window.start_ms), {})[partial.partition] = partial
        owner.first_seen = {(str(side), int(start)): int(t) for side, start, t in s["first_seen"]}
        owner.marks = {side: {int(p): [int(w), int(t)] for p, w, t in s["marks"].get(side, ())} for side in SIDES}
        owner.closed_through = {side: int(s["closed_through"][side]) for side in SIDES}
        owner.late_partials = int(s["late_partials"])
        return owner


def _window_error(window: LabelWindow) -> float | None:
    """A label window's error: 1 - accuracy of a classifier, the mean absolute error of a regressor."""
    for metric in window.performance.compute():
        if metric.name == "accuracy":
            return 1.0 - metric.value
        if metric.name == "mae":
            return metric.value
    return None

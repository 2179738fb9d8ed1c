"""The open windows of a model version and their checkpoint form.

An :class:`OpenWindow` accumulates the prediction side of one event-time window (counts, latency
sketch, drift sketch, PCA error sums, the exact sums of the features a streaming detector reads,
change points); a :class:`LabelWindow` the label side (performance, concept drift events). Both are
snapshotted as JSON-safe dicts and restored against the monitor's reference.

mergeable: the state of one window over several partitions is the :meth:`OpenWindow.merge` /
:meth:`LabelWindow.merge` of each partition's, in any order: counts and sums add (the features'
exact sums as integers, to the bit), sketches merge (see
:meth:`~driftline.detectors.WindowSketch.merge`), change points and concept events are kept
sorted, so no arrival order shows.

>>> w = OpenWindow(0, 60_000, n=3, missing={"x": 1})
>>> w.change_points.append(DriftResult("x", "adwin_stream", 1.0, 1.0, True))
>>> again = OpenWindow.restore(w.snapshot(), reference=None)
>>> (again.n, again.missing, again.change_points) == (w.n, w.missing, w.change_points)
True
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from driftline.detectors import (
    CBPEWindow,
    ConceptDriftEvent,
    DetectorStateError,
    DLEWindow,
    DriftResult,
    PerformanceWindow,
    QuantileSketch,
    ReferenceProfile,
    WindowSketch,
    decode_float,
    encode_float,
)
from driftline.detectors.exact_sum import ExactSum

__all__ = ["LabelWindow", "OpenWindow", "concept_event", "drift_result", "event_dict", "result_dict"]

log = logging.getLogger("driftline.monitor")


@dataclass
class OpenWindow:
    start_ms: int
    end_ms: int
    n: int = 0
    sketch: WindowSketch | None = None
    latency: QuantileSketch = field(default_factory=QuantileSketch)
    missing: dict[str, int] = field(default_factory=dict)
    type_errors: dict[str, int] = field(default_factory=dict)
    pca_sum: float = 0.0
    pca_n: int = 0
    change_points: list = field(default_factory=list)  # DriftResults of streaming feature detectors
    cbpe: CBPEWindow | None = None  # performance estimated from the scores (reference with scores and labels)
    dle: DLEWindow | None = None  # a regression model's loss estimated from its inputs (reference with labels)
    # The exact sum of each streaming-detected feature: under two stages its detector reads the window's mean.
    sums: dict[str, ExactSum] = field(default_factory=dict)

    def add_values(self, feature: str, column: np.ndarray) -> None:
        """Count ``column`` (this window's values of ``feature``; NaN skipped) in the feature's exact sum."""
        total = self.sums.get(feature)
        if total is None:
            total = self.sums[feature] = ExactSum()
        total.update(column)

    def merge(self, other: OpenWindow) -> None:
        """Add ``other``, the same window's state from other rows (binned on the same reference)."""
        _same_window(self, other)
        self.n += other.n
        if other.sketch is not None:
            if self.sketch is None:
                self.sketch = WindowSketch(other.sketch.profile)
            self.sketch.merge(other.sketch)
        self.latency.merge(other.latency)
        _add_counts(self.missing, other.missing)
        _add_counts(self.type_errors, other.type_errors)
        self.pca_sum += other.pca_sum
        self.pca_n += other.pca_n
        for name in ("cbpe", "dle"):  # issue 15's estimators (integer sums with a merge()), where present
            theirs = getattr(other, name, None)
            if theirs is not None:
                mine = getattr(self, name, None)
                if mine is None:
                    setattr(self, name, copy.deepcopy(theirs))
                else:
                    mine.merge(theirs)
        for feature, theirs in other.sums.items():
            self.sums.setdefault(feature, ExactSum()).merge(theirs)
        self.change_points = sorted(self.change_points + other.change_points,
                                    key=lambda r: (r.feature, r.test, r.drifted))

    def snapshot(self) -> dict[str, Any]:
        return {"start_ms": self.start_ms, "end_ms": self.end_ms, "n": self.n,
                "sketch": None if self.sketch is None else self.sketch.snapshot(),
                "latency": self.latency.snapshot(), "missing": dict(self.missing),
                "type_errors": dict(self.type_errors), "pca_sum": encode_float(self.pca_sum), "pca_n": self.pca_n,
                "change_points": [result_dict(r) for r in self.change_points],
                "cbpe": None if self.cbpe is None else self.cbpe.snapshot(),
                "dle": None if self.dle is None else self.dle.snapshot(),
                "sums": {feature: total.snapshot() for feature, total in self.sums.items()}}

    @classmethod
    def restore(cls, s: Mapping[str, Any], reference: ReferenceProfile | None) -> OpenWindow:
        """``reference=None`` drops the drift sketch and PCA sums (the reference they were built
        against is gone); the counts, latencies and change points are kept."""
        window = cls(int(s["start_ms"]), int(s["end_ms"]), int(s["n"]),
                     latency=QuantileSketch.restore(s["latency"]),
                     missing={str(k): int(v) for k, v in s["missing"].items()},
                     type_errors={str(k): int(v) for k, v in s["type_errors"].items()},
                     change_points=[drift_result(r) for r in s["change_points"]],
                     # absent before issue 17's stage-2 streaming detectors
                     sums={str(f): ExactSum.restore(t) for f, t in s.get("sums", {}).items()})
        if reference is not None:
            window.sketch = None if s["sketch"] is None else _sketch(reference, s["sketch"], window.start_ms)
            window.pca_sum, window.pca_n = decode_float(s["pca_sum"], "pca_sum"), int(s["pca_n"])
            if reference.cbpe is not None and s.get("cbpe") is not None:  # absent before CBPE
                window.cbpe = CBPEWindow.restore(reference.cbpe, s["cbpe"])
            if reference.dle is not None and s.get("dle") is not None:  # absent before DLE
                window.dle = DLEWindow.restore(reference.dle, s["dle"])
        return window


def _sketch(reference: ReferenceProfile, saved: Mapping[str, Any], start_ms: int) -> WindowSketch | None:
    """The saved drift sketch, or None for one of an earlier build (a reservoir sample where the
    grid counts are now): the window's drift then covers only the events after the restart."""
    try:
        return WindowSketch.restore(reference, saved)
    except DetectorStateError as exc:
        log.warning("window at %d ms: its drift sketch cannot be restored (%s); its drift restarts", start_ms, exc)
        return None


@dataclass
class LabelWindow:
    """Label-side state of a window: labels are attributed to the event time of the join
    (the later of prediction and feedback) and the window closes on the *label* watermark,
    so a label delay never makes labels late for the prediction-side window."""

    start_ms: int
    end_ms: int
    performance: PerformanceWindow
    labels: int = 0
    concept: list = field(default_factory=list)

    def merge(self, other: LabelWindow) -> None:
        """Add ``other``, the same label window's state from other labels."""
        _same_window(self, other)
        self.performance.merge(other.performance)
        self.labels += other.labels
        self.concept = sorted(self.concept + other.concept, key=lambda e: (e.ts_ms, e.detector, e.state, e.index))

    def snapshot(self) -> dict[str, Any]:
        return {"start_ms": self.start_ms, "end_ms": self.end_ms, "performance": self.performance.snapshot(),
                "labels": self.labels, "concept": [event_dict(e) for e in self.concept]}

    @classmethod
    def restore(cls, s: Mapping[str, Any]) -> LabelWindow:
        return cls(int(s["start_ms"]), int(s["end_ms"]), PerformanceWindow.restore(s["performance"]),
                   int(s["labels"]), [concept_event(e) for e in s["concept"]])


def _same_window(a: OpenWindow | LabelWindow, b: OpenWindow | LabelWindow) -> None:
    if (a.start_ms, a.end_ms) != (b.start_ms, b.end_ms):
        raise ValueError(f"other: window [{b.start_ms}, {b.end_ms}) is not [{a.start_ms}, {a.end_ms})")


def _add_counts(into: dict[str, int], other: Mapping[str, int]) -> None:
    for name, n in other.items():
        into[name] = into.get(name, 0) + n


def result_dict(r: DriftResult) -> dict[str, Any]:
    return {"feature": r.feature, "test": r.test, "statistic": encode_float(r.statistic),
            "threshold": encode_float(r.threshold), "drifted": r.drifted,
            "p_value": None if r.p_value is None else encode_float(r.p_value), "raw_drifted": r.raw_drifted,
            "corrected": r.corrected, "importance": None if r.importance is None else encode_float(r.importance),
            "adjusted_p_value": None if r.adjusted_p_value is None else encode_float(r.adjusted_p_value),
            "baseline": r.baseline}


def drift_result(d: Mapping[str, Any]) -> DriftResult:
    def opt(name: str) -> float | None:
        return None if d[name] is None else decode_float(d[name], name)

    return DriftResult(str(d["feature"]), str(d["test"]), decode_float(d["statistic"], "statistic"),
                       decode_float(d["threshold"], "threshold"), bool(d["drifted"]), opt("p_value"),
                       None if d["raw_drifted"] is None else bool(d["raw_drifted"]), str(d["corrected"]),
                       opt("importance"), opt("adjusted_p_value"), str(d.get("baseline", "reference")))


def event_dict(e: ConceptDriftEvent) -> dict[str, Any]:
    return {"detector": e.detector, "state": e.state, "ts_ms": e.ts_ms, "index": e.index}


def concept_event(d: Mapping[str, Any]) -> ConceptDriftEvent:
    return ConceptDriftEvent(str(d["detector"]), str(d["state"]), int(d["ts_ms"]), int(d["index"]))

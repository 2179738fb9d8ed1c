"""Window state of one model version: reference, open event-time windows, concept detector.

A :class:`ModelMonitor` is fed numpy columns and joined labels and, when the
watermark passes a window's end (or the model has been idle for
``idle_close``), closes the window into a :class:`~detectors.WindowReport`.
It does no I/O and reads no clock: processing time comes in as ``now_ms``.

The watermark follows a :class:`~driftline.stream.watermark.HighMark` (the
sixth-highest event time seen, not the highest), so a few future-dated events
neither close windows early nor make the rest late; for the same reason a
window closed on ``idle_close`` only advances what counts as late up to the
high mark's window.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any

import numpy as np
from driftline.detectors import (
    BaselineHistory,
    CBPEReference,
    CBPEWindow,
    ConceptDriftMonitor,
    DataQualityCheck,
    DLEWindow,
    DriftResult,
    DriftSuite,
    LossModel,
    MetricValue,
    PCAReconstructionDrift,
    PerformanceWindow,
    ReferenceBuilder,
    ReferenceProfile,
    StreamingFeatureDetector,
    WindowReport,
    WindowSketch,
    label_coverage,
    throughput,
)
from driftline.settings import ModelSettings

from .columns import PREDICTION_COLUMNS, FeatureColumns, label_key, monitored_kinds
from .join import JoinedLabel
from .monitor_state import reference_snapshot, restore_detectors, restore_reference
from .segments import SegmentMonitor
from .watermark import HighMark
from .windows import LabelWindow, OpenWindow, concept_event, event_dict

ASK_AT = (0.2, 0.6)  # shares of a window passed (event time) when its null fits are asked for

__all__ = ["ModelMonitor"]

MAX_OPEN_WINDOWS = 32
# Scalar state carried by a checkpoint as is.
_COUNTERS = ("watermark_ms", "closed_through_ms", "last_event_at_ms", "late_events", "late_labels",
             "label_watermark_ms", "labels_closed_through_ms", "last_label_at_ms", "_label_clock_ms")


def _cbpe(settings: ModelSettings, reference: ReferenceProfile | None) -> CBPEReference | None:
    """The CBPE calibration to estimate with: the configured reference's, for the model's task,
    unless ``estimate_performance: false``."""
    if settings.estimate_performance is False or reference is None or reference.cbpe is None:
        return None
    if reference.cbpe.task != settings.task:
        return None
    # Predictions are compared as label keys ("1" for 1, 1.0 and true).
    return replace(reference.cbpe, positive_label=label_key(reference.cbpe.positive_label))


def _dle(settings: ModelSettings, reference: ReferenceProfile | None) -> LossModel | None:
    """The DLE loss model of a regression model's configured reference, when its inputs are the model's."""
    if settings.estimate_performance is False or settings.task != "regression" or reference is None:
        return None
    dle = reference.dle
    return dle if dle is not None and set(dle.bins) <= {*settings.features, "prediction"} else None


class ModelMonitor:
    def __init__(self, settings: ModelSettings, version: str, reference: ReferenceProfile | None = None,
                 multivariate: PCAReconstructionDrift | None = None) -> None:
        self.settings = settings
        self.model = settings.name
        self.version = version
        self.kinds = dict(settings.features)
        # Prediction drift: the prediction (and the score of a binary classifier) are monitored
        # like features, with the same tests and the same multiple-testing correction.
        self.drift_kinds = monitored_kinds(self.kinds, settings.task)
        self.reference = reference
        self._reference_from_config = reference is not None
        self._reference_state: dict | None = None  # its checkpoint form, cached
        self.reference_replaced: str | None = None  # the checkpointed reference the configured one replaced
        self.builder = None if reference else ReferenceBuilder(self.drift_kinds, warmup_events=settings.warmup_events or 5000)
        self.suite = DriftSuite(reference, settings.drift) if reference else None
        self.cbpe = _cbpe(settings, reference)
        self.dle = _dle(settings, reference)
        self.history = _history(reference, settings.drift)
        self.concept = ConceptDriftMonitor(settings.concept.detector, **settings.concept.params)
        self.quality = DataQualityCheck(**asdict(settings.quality))
        # Multivariate drift: a PCA fitted on the reference rows (given, or the warm-up rows).
        self.pca = multivariate
        self._pca_in_stream = False
        self.numeric = [n for n, k in self.kinds.items() if k == "numeric"]
        self._pca_warmup: list[dict[str, np.ndarray]] | None = (
            [] if settings.multivariate is not None and multivariate is None and self.builder is not None else None)
        self.streaming = [(spec.feature, StreamingFeatureDetector(spec.type, **spec.params))
                          for spec in settings.streaming]
        self.windows: dict[int, OpenWindow] = {}
        self.watermark_ms = -(2**62)
        self.closed_through_ms = -(2**62)
        self.last_event_at_ms = 0  # processing time of the last prediction
        self.late_events = 0
        self.late_labels = 0
        self.pending_concept: deque = deque(maxlen=64)
        self.label_windows: dict[int, LabelWindow] = {}
        self.label_watermark_ms = -(2**62)
        self.labels_closed_through_ms = -(2**62)
        self.last_label_at_ms = 0
        self._label_clock_ms = -(2**62)
        self.prediction_counts: dict[int, int] = {}  # window start -> predictions, for label coverage
        # window start -> input features that drifted there: a label window's error-rate change is
        # told apart from one the inputs explain (covariate shift); windows without drift are not kept.
        # Mergeable: derived from closed windows' results, never from arrival order.
        self.input_drift: dict[int, tuple[str, ...]] = {}
        self.high = HighMark()  # of prediction event times
        self.label_high = HighMark()  # of label join times
        self.segments = SegmentMonitor(settings, reference) if settings.segments is not None else None
        # False on a stage-1 monitor (worker.aggregation: two_stage): stage 2 runs the streaming
        # detectors on each window's mean, so the per-event ones would be work thrown away.
        self.per_event_streaming = True
        # Asks for the null fits of the open window's expected size while it fills (stream/fit_prefetch.py);
        # set by the processor of a one-stage worker. Results never depend on it, only the close's time.
        self.prefetch = None
        self._fits_asked: dict[int, int] = {}  # open window start -> asks made for it

    # -- input ---------------------------------------------------------------------------------
    def add_predictions(self, cols: FeatureColumns, now_ms: int, segments=None) -> list[tuple] | None:
        """Add a batch; with ``segments`` (each event's ``segment`` object, for a model with ``segments:``)
        returns each event's segment groups, which its label will be counted in."""
        self.last_event_at_ms = now_ms
        ts = cols.ts_ms
        self.high.update(ts)
        if self.high.value is not None:
            self.watermark_ms = max(self.watermark_ms, self.high.value - self.settings.allowed_lateness_ms)
        columns = {**cols.columns, **self._prediction_columns(cols)}
        offset = 0
        if self.builder is not None:
            offset = self.builder.update(columns)
            if self._pca_warmup is not None:
                self._pca_warmup.append({n: cols.columns[n][:offset] for n in self.numeric})
            if self.builder.ready:
                self._reference_ready(self.builder.build())
        size = self.settings.window_ms
        starts = ts - ts % size
        self._change_points(cols, starts)
        late = starts < self.closed_through_ms
        self.late_events += int(late.sum())
        groups = None
        if self.segments is not None:
            groups = self.segments.add_predictions(segments or [None] * len(ts), cols.columns, columns["prediction"],
                                                   starts, ~late, cols.columns if self.reference is not None else None,
                                                   offset)
        for start in np.unique(starts[~late]).tolist():
            mask = starts == start
            whole = bool(mask.all())  # the common case: the batch is one window; no masked copies
            window = self._window(int(start))
            window.n += int(mask.sum())
            latency = cols.latency_ms[mask]
            latency = latency[~np.isnan(latency)]
            if latency.size:
                window.latency.update(latency)
            sub = cols.columns if whole else {name: col[mask] for name, col in cols.columns.items()}
            for feature, _ in self.streaming:  # what stage 2's streaming detectors read (the window's mean)
                window.add_values(feature, sub[feature])
            for name, col in sub.items():
                missing = int(np.count_nonzero(np.isnan(col) if col.dtype.kind == "f" else col == None))  # noqa: E711
                if missing:
                    window.missing[name] = window.missing.get(name, 0) + missing
            for name, count in cols.type_errors.items():
                window.type_errors[name] = window.type_errors.get(name, 0) + count
            if self.cbpe is not None:
                window.cbpe = window.cbpe or CBPEWindow(self.cbpe)
                window.cbpe.update(cols.score[mask], columns["prediction"][mask])
            if self.dle is not None:
                window.dle = window.dle or DLEWindow(self.dle)
                window.dle.update({name: col[mask] for name, col in cols.columns.items()}, columns["prediction"][mask])
            if self.reference is not None:
                # Rows consumed by the reference warm-up are not monitored against themselves.
                keep = mask.copy()
                keep[:offset] = False
                if keep.any():
                    window.sketch = window.sketch or WindowSketch(self.reference)
                    window.sketch.update(columns if whole and not offset else
                                         {name: col[keep] for name, col in columns.items()})
                    if self.pca is not None:
                        errors = self.pca.reconstruction_error({n: cols.columns[n][keep] for n in self.numeric})
                        window.pca_sum += float(errors.sum())
                        window.pca_n += len(errors)
        if self.prefetch is not None and self.suite is not None:
            self._ask_fits(ts, starts, late)
        return groups

    def _ask_fits(self, ts: np.ndarray, starts: np.ndarray, late: np.ndarray) -> None:
        """Ask for the fits of each window of this batch at its expected size: once a fifth of it has
        passed in event time and again at three fifths (a rate that changed early)."""
        asked = self._fits_asked
        for start in np.unique(starts[~late]).tolist():
            window = self.windows.get(start)
            done = asked.get(start, 0)
            if window is None or window.sketch is None or not window.sketch.n or done >= len(ASK_AT):
                continue
            through = (int(ts[starts == start].max()) - start + 1) / self.settings.window_ms
            if through >= ASK_AT[done]:
                asked[start] = done + 1
                self.prefetch(self.suite, max(round(window.sketch.n / through), 1))
        for start in [s for s in asked if s not in self.windows]:  # closed: bounded by the open windows
            del asked[start]

    def _change_points(self, cols: FeatureColumns, starts: np.ndarray) -> None:
        """River detectors on raw feature values; a change point flags its event-time window."""
        if not self.per_event_streaming:
            return
        for feature, detector in self.streaming:
            values = cols.columns[feature]
            finite = ~np.isnan(values)
            for event in detector.update(values[finite], cols.ts_ms[finite]):
                start = event.ts_ms - event.ts_ms % self.settings.window_ms
                window = self.windows.get(start) if start >= self.closed_through_ms else None
                if window is None and start >= self.closed_through_ms:
                    window = self._window(int(start))
                if window is not None:
                    window.change_points.append(DriftResult(feature, f"{detector.name}_stream", 1.0, 1.0,
                                                            event.state == "drift"))

    def _prediction_columns(self, cols: FeatureColumns) -> dict[str, np.ndarray]:
        if self.drift_kinds["prediction"] == "numeric":
            extra = {"prediction": np.array([p if type(p) is float else np.nan for p in cols.prediction])}
        else:
            labels = np.empty(len(cols.prediction), dtype=object)
            labels[:] = [label_key(p) for p in cols.prediction]
            extra = {"prediction": labels}
        if "score" in self.drift_kinds:
            extra["score"] = cols.score
        return extra

    def add_labels(self, joined: list[JoinedLabel], now_ms: int = 0) -> None:
        if not joined:
            return
        task = self.settings.task
        size = self.settings.window_ms
        if task == "regression":
            y_true = np.array([float(j.label) for j in joined])
            y_pred = np.array([float(j.prediction) for j in joined])
            errors = np.abs(y_true - y_pred)
        else:
            y_true = np.array([label_key(j.label) for j in joined], dtype=object)
            y_pred = np.array([label_key(j.prediction) for j in joined], dtype=object)
            errors = (y_true != y_pred).astype(np.float64)
        scores = np.array([np.nan if j.score is None else j.score for j in joined])
        ts = np.array([j.ts_ms for j in joined], dtype=np.int64)
        self.last_label_at_ms = now_ms
        # The error stream is in label arrival order; a change point is stamped with the label
        # stream's clock at that moment (the highest join time seen so far), which is monotonic
        # even when late labels for old predictions arrive between new ones.
        clock = np.maximum.accumulate(np.maximum(ts, self._label_clock_ms))
        self._label_clock_ms = int(clock[-1])
        self.label_high.update(ts)
        if self.label_high.value is not None:
            self.label_watermark_ms = max(self.label_watermark_ms,
                                          self.label_high.value - self.settings.allowed_lateness_ms)
        starts = ts - ts % size
        accepted = []
        for start in np.unique(starts).tolist():
            mask = starts == start
            if start < self.labels_closed_through_ms:
                self.late_labels += int(mask.sum())
                continue
            accepted.append(start)
            window = self.label_windows.get(start)
            if window is None:
                performance = PerformanceWindow(task, positive_label=label_key(self.settings.positive_label))
                window = self.label_windows[start] = LabelWindow(start, start + size, performance)
            window.labels += int(mask.sum())
            score = scores[mask] if task == "binary_classification" and not np.isnan(scores[mask]).any() else None
            window.performance.update(y_true[mask], y_pred[mask], score)
        if self.segments is not None and accepted:
            all_scored = task == "binary_classification" and not np.isnan(scores).any()
            self.segments.add_labels([j.segments for j in joined], starts, y_true, y_pred,
                                     scores if all_scored else None, accepted)
        for event in self.concept.update(errors, clock):
            # A change point belongs to the label window of its clock time (open: the clock is the
            # latest join time); were it closed, it is reported with the next label window.
            window = self.label_windows.get(event.ts_ms - event.ts_ms % size)
            (window.concept if window else self.pending_concept).append(event)

    # -- output --------------------------------------------------------------------------------
    def close_ready(self, now_ms: int) -> list[WindowReport]:
        """Close windows the watermark has passed, or all of them after ``idle_close``."""
        reports = [self._close(self.windows.pop(s)) for s in self._ready(self.windows, self.watermark_ms,
                                                                      self.last_event_at_ms, now_ms)]
        # A label window also waits for its prediction-side window, so that its label coverage
        # (labels / predictions of the same window) is always known when it closes.
        # It also waits while predictions may still open that window (labels can run ahead of
        # predictions in event time), unless the prediction stream is idle.
        predictions_idle = now_ms - self.last_event_at_ms >= self.settings.idle_close_ms
        reports += [self._close_labels(self.label_windows.pop(s)) for s in self._ready(
            self.label_windows, self.label_watermark_ms, self.last_label_at_ms, now_ms)
            if s not in self.windows and (predictions_idle or self.closed_through_ms >= self.label_windows[s].end_ms)]
        return reports

    def _ready(self, windows: dict, watermark_ms: int, last_at_ms: int, now_ms: int) -> list[int]:
        idle = now_ms - last_at_ms >= self.settings.idle_close_ms
        ready = sorted(s for s, w in windows.items() if idle or w.end_ms <= watermark_ms)
        while len(windows) - len(ready) > MAX_OPEN_WINDOWS:  # bound memory: force the oldest out
            ready.append(min(s for s in windows if s not in ready))
        return sorted(ready)

    def _closed_through(self, closed_through_ms: int, window_end_ms: int, high: HighMark) -> int:
        """What counts as late after closing a window: up to its end, but never past the high
        mark's window (an outlier's window closed on ``idle_close`` must not make the rest late)."""
        ceiling = -(2**62) if high.value is None else high.value - high.value % self.settings.window_ms \
            + self.settings.window_ms
        return max(closed_through_ms, min(window_end_ms, ceiling))

    def _close_labels(self, window: LabelWindow) -> WindowReport:
        self.labels_closed_through_ms = self._closed_through(self.labels_closed_through_ms, window.end_ms,
                                                             self.label_high)
        metrics = [MetricValue("labels", float(window.labels), window.labels)]
        predicted = self.prediction_counts.get(window.start_ms, 0)
        if predicted:
            metrics.append(label_coverage(predicted, window.labels))
        metrics.extend(window.performance.compute())
        concept = tuple(self.pending_concept) + tuple(window.concept)
        self.pending_concept.clear()
        size = self.settings.window_ms
        inputs = self.input_drift.get(window.start_ms, ()) + self.input_drift.get(window.start_ms - size, ())
        segments, fairness = self.segments.close_labels(window.start_ms) if self.segments is not None else ((), ())
        return WindowReport(self.model, self.version, window.start_ms, window.end_ms, 0, window.labels,
                            (), tuple(metrics), concept, tuple(dict.fromkeys(inputs)), segments=segments,
                            fairness=fairness)

    def _close(self, window: OpenWindow) -> WindowReport:
        self.closed_through_ms = self._closed_through(self.closed_through_ms, window.end_ms, self.high)
        self.prediction_counts[window.start_ms] = window.n
        while len(self.prediction_counts) > 4 * MAX_OPEN_WINDOWS:
            del self.prediction_counts[next(iter(self.prediction_counts))]
        metrics = [
            MetricValue("predictions", float(window.n), window.n),
            throughput(window.n, window.start_ms, window.end_ms),
        ]
        if window.latency.n:
            for q, name in ((0.5, "latency_p50_ms"), (0.95, "latency_p95_ms"), (0.99, "latency_p99_ms")):
                metrics.append(MetricValue(name, float(window.latency.quantile(q)), window.latency.n))
        for name in self.kinds:
            if window.n:
                metrics.append(MetricValue(f"missing_rate:{name}", window.missing.get(name, 0) / window.n, window.n))
            if window.type_errors.get(name):
                metrics.append(MetricValue(f"type_errors:{name}", float(window.type_errors[name]), window.n))
        drift = list(self.suite.evaluate(window.sketch)) if self.suite and window.sketch and window.sketch.n else []
        if self.history is not None and self.suite is not None and window.sketch is not None and window.sketch.n:
            index = window.start_ms // self.settings.window_ms
            for name, base in self.history.baselines(index).items():
                drift.extend(self.suite.evaluate(window.sketch, base, name))
            self.history.push(index, window.sketch)
        if window.sketch is not None and window.sketch.n:
            for q in self.quality.evaluate(window.sketch, window.type_errors):
                if q.check != "missing_rate":  # counted above, also before the reference exists
                    metrics.append(MetricValue(f"{q.check}:{q.feature}", q.value, q.n))
        if self.pca is not None and window.pca_n:
            mean = window.pca_sum / window.pca_n
            drift.append(DriftResult("multivariate", "pca_reconstruction", mean, self.pca.upper,
                                     not self.pca.lower <= mean <= self.pca.upper))
        for estimator in (window.cbpe, window.dle):  # estimated before labels: CBPE, DLE
            if estimator is not None and estimator.n:
                metrics.extend(m for estimate in estimator.estimate() for m in estimate.metrics())
        drift.extend(window.change_points)
        segments, fairness = self.segments.close(window.start_ms) if self.segments is not None else ((), ())
        report = WindowReport(self.model, self.version, window.start_ms, window.end_ms, window.n,
                              0, tuple(drift), tuple(metrics), segments=segments, fairness=fairness)
        inputs = tuple(dict.fromkeys(r.feature for r in report.drifted_features if r.feature not in PREDICTION_COLUMNS))
        if inputs:
            self.input_drift[window.start_ms] = inputs
            while len(self.input_drift) > 4 * MAX_OPEN_WINDOWS:
                del self.input_drift[next(iter(self.input_drift))]
        return report

    def _window(self, start: int) -> OpenWindow:
        window = self.windows.get(start)
        if window is None:
            window = self.windows[start] = OpenWindow(start, start + self.settings.window_ms)
            if self.reference is not None:
                window.sketch = WindowSketch(self.reference)
        return window

    # -- checkpoints: settings are not state; they come back from the config on restore ----------
    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state of this model version (see :meth:`restore`)."""
        return {
            "model": self.model, "version": self.version, "kinds": dict(self.drift_kinds),
            "reference": reference_snapshot(self),
            "suite": None if self.suite is None else self.suite.snapshot(),
            "baselines": None if self.history is None else self.history.snapshot(),
            "concept": self.concept.snapshot(),
            "streaming": [[feature, detector.snapshot()] for feature, detector in self.streaming],
            "windows": [w.snapshot() for w in self.windows.values()],
            "label_windows": [w.snapshot() for w in self.label_windows.values()],
            "pending_concept": [event_dict(e) for e in self.pending_concept],
            "prediction_counts": [[start, n] for start, n in self.prediction_counts.items()],
            "input_drift": [[start, list(features)] for start, features in self.input_drift.items()],
            "counters": {name: getattr(self, name) for name in _COUNTERS},
            "high_marks": {"predictions": self.high.snapshot(), "labels": self.label_high.snapshot()},
            "segments": None if self.segments is None else self.segments.snapshot(),
        }

    @classmethod
    def restore(cls, snapshot: Mapping[str, Any], settings: ModelSettings, reference: ReferenceProfile | None = None,
                multivariate: PCAReconstructionDrift | None = None) -> ModelMonitor:
        """The monitor a :meth:`snapshot` describes, under the current ``settings``.

        ``reference``/``multivariate`` are the configured ones, as for a new monitor. State built
        under other settings is not reused: drift state (window sketches, persistence, PCA sums)
        restarts when the features or the configured reference changed, a river detector starts
        fresh when its type or parameters changed or its state does not fit this river.
        """
        m = cls(settings, str(snapshot["version"]), reference, multivariate)
        kept = restore_reference(m, snapshot["reference"], snapshot["kinds"])
        if kept and snapshot["suite"] is not None and m.suite is not None:
            m.suite = DriftSuite.restore(m.reference, settings.drift, snapshot["suite"])
        saved = snapshot.get("baselines")  # absent from checkpoints of earlier builds
        m.history = _history(m.reference, settings.drift)
        if kept and saved is not None and m.history is not None and \
                (saved["previous"], saved["period"]) == settings.drift.baselines:
            m.history = BaselineHistory.restore(m.reference, saved)
        restore_detectors(m, snapshot["concept"], snapshot["streaming"])
        m.windows = {w.start_ms: w for w in (OpenWindow.restore(w, m.reference if kept else None)
                                             for w in snapshot["windows"])}
        for w in m.windows.values():  # estimate as configured now (estimate_performance may be off)
            if w.cbpe is not None:
                w.cbpe = None if m.cbpe is None else CBPEWindow.restore(m.cbpe, w.cbpe.snapshot())
            w.dle = w.dle if m.dle is not None else None
        m.label_windows = {w.start_ms: w for w in (LabelWindow.restore(w) for w in snapshot["label_windows"])}
        m.pending_concept.extend(concept_event(e) for e in snapshot["pending_concept"])
        m.prediction_counts = {int(start): int(n) for start, n in snapshot["prediction_counts"]}
        # Absent from checkpoints of earlier builds: label windows then see no input drift until it recurs.
        m.input_drift = {int(start): tuple(features) for start, features in snapshot.get("input_drift", ())}
        for name in _COUNTERS:
            setattr(m, name, int(snapshot["counters"][name]))
        marks = snapshot.get("high_marks")  # absent from checkpoints of earlier builds: the marks refill
        if marks is not None:
            m.high, m.label_high = HighMark.restore(marks["predictions"]), HighMark.restore(marks["labels"])
        if m.segments is not None:  # absent from checkpoints of earlier builds: segments start fresh
            m.segments = SegmentMonitor.restore(snapshot.get("segments"), settings, m.reference)
        return m

    def _reference_ready(self, profile: ReferenceProfile) -> None:
        self.reference = profile
        self.builder = None
        if self._pca_warmup is not None:
            rows = {n: np.concatenate([part[n] for part in self._pca_warmup]) for n in self.numeric}
            self.pca = PCAReconstructionDrift(**asdict(self.settings.multivariate)).fit(rows)
            self._pca_warmup = None
            self._pca_in_stream = True
        self.suite = DriftSuite(profile, self.settings.drift)
        if self.segments is not None:
            self.segments.reference_ready(profile)
        self.history = _history(profile, self.settings.drift)


def _history(reference: ReferenceProfile | None, drift: Any) -> BaselineHistory | None:
    """The rolling baselines' window history, when the settings ask for one."""
    return BaselineHistory(reference, *drift.baselines) if reference is not None and any(drift.baselines) else None

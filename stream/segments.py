"""Segments of one model version: per-group metrics of its windows, and fairness between groups.

A :class:`SegmentMonitor` lives inside a :class:`~driftline.stream.monitor.ModelMonitor`
whose model has ``segments:``. For each monitored key (from the event's ``segment`` object,
from a categorical or boolean feature, or a combination of keys) a
:class:`~driftline.detectors.SegmentVocabulary` decides which values get a group of their
own (at most ``max_values``; the rest are ``__other__``). Per window and group it reports:

* prediction side: ``predictions``, ``selection_rate`` (binary classifiers), drift of the
  chosen features (``drift:<feature>:<test>`` and ``drifted:...``);
* label side: ``labels``, ``label_coverage`` and the model task's performance metrics.

Fairness measures (:func:`~driftline.detectors.fairness_measures`) compare the groups of the
keys under ``fairness:``: demographic parity from the prediction side, TPR/FPR/precision
gaps (binary) or MAE (regression) from the label side. A label is counted in the group its
prediction had when it was made (the groups travel with the prediction through the join).

mergeable: the window state is :mod:`~driftline.stream.segment_windows` (sums per key and
group); the results are a pure function of it, the reference and the vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from driftline.detectors import (
    FairnessResult,
    GroupCounts,
    MetricValue,
    PerformanceWindow,
    ReferenceProfile,
    SegmentMetric,
    SegmentVocabulary,
    boolean_key,
    fairness_measures,
    label_key,
)
from driftline.settings import ModelSettings

from .segment_drift import SegmentDrift
from .segment_windows import GroupLabelWindow, GroupWindow

__all__ = ["SegmentMonitor"]

MAX_COUNTED_WINDOWS = 128  # closed windows whose group counts are kept for label coverage


class SegmentMonitor:
    def __init__(self, settings: ModelSettings, reference: ReferenceProfile | None = None) -> None:
        seg = settings.segments
        assert seg is not None
        self.settings = settings
        self.keys = seg.names()
        self.sources = {k.name: k.source for k in seg.keys}
        self.combinations = {"+".join(c): c for c in seg.combinations}
        self.vocab = {key: SegmentVocabulary(seg.max_values(key)) for key in self.keys}
        self.task = settings.task
        self.positive = label_key(settings.positive_label)
        self.fairness = settings.fairness
        self.drift = SegmentDrift(settings, reference) if seg.drift is not None else None
        self.windows: dict[int, GroupWindow] = {}
        self.label_windows: dict[int, GroupLabelWindow] = {}
        self.predicted: dict[int, dict[str, dict[str, int]]] = {}  # closed window -> key -> group -> predictions

    def reference_ready(self, reference: ReferenceProfile) -> None:
        if self.drift is not None:
            self.drift.reference_ready(reference)

    # -- values and groups -----------------------------------------------------------------------
    def raw_values(self, segments: Sequence[Mapping[str, str] | None],
                   columns: Mapping[str, np.ndarray]) -> dict[str, list]:
        """Each key's value per row (``None`` where the row has none)."""
        out: dict[str, list] = {}
        for key, source in self.sources.items():
            if source == "feature":
                out[key] = columns[key].tolist()
            else:
                out[key] = [s.get(key) if s else None for s in segments]
        for name, parts in self.combinations.items():
            out[name] = [None if None in vs else "+".join(vs) for vs in zip(*(out[p] for p in parts), strict=True)]
        return out

    def lookup(self, segment: Mapping[str, str] | None, features: Mapping[str, Any]) -> tuple:
        """The groups of one stored prediction under the current vocabularies (no admission, nothing counted):
        what a label waiting in the join is counted in after a restart."""
        kinds = self.settings.features
        columns = {k: np.array([_category(features.get(k), kinds.get(k))], dtype=object)
                   for k, s in self.sources.items() if s == "feature"}
        values = self.raw_values([segment], columns)
        groups = []
        for key in self.keys:
            v = values[key][0]
            groups.append(None if v is None else v if v in self.vocab[key].values else "__other__")
        return tuple(groups)

    # -- input -------------------------------------------------------------------------------------
    def add_predictions(self, segments: Sequence[Mapping[str, str] | None], columns: Mapping[str, np.ndarray],
                        predictions: np.ndarray, starts: np.ndarray, keep: np.ndarray,
                        drift_columns: Mapping[str, np.ndarray] | None = None, drift_offset: int = 0) -> list[tuple]:
        """Count a batch's rows in their windows (``starts``; rows where ``keep`` is false are late) and
        return each row's groups, in key order, for the label join. Rows before ``drift_offset`` (the
        reference's warm-up) are not tested for drift."""
        raw = self.raw_values(segments, columns)
        groups = {key: self.vocab[key].assign(raw[key]) for key in self.keys}
        positive = None
        if self.task == "binary_classification":  # ``predictions``: the label keys (an object array)
            positive = np.asarray(predictions == self.positive, dtype=bool)
        windows = [(start, (starts == start) & keep) for start in np.unique(starts[keep]).tolist()]
        for key in self.keys:
            names: dict[str, int] = {}
            codes = np.fromiter((-1 if g is None else names.setdefault(g, len(names)) for g in groups[key]),
                                dtype=np.int64, count=len(starts))
            labels = list(names)
            for start, mask in windows:
                window = self.windows.get(start) or self.windows.setdefault(start, GroupWindow())
                window.add(key, labels, codes[mask], None if positive is None else positive[mask])
                if self.drift is not None and drift_columns is not None:
                    self._drift(key, labels, np.where(mask, codes, -1), drift_columns, window, drift_offset)
        return list(zip(*(groups[key] for key in self.keys), strict=True))

    def _drift(self, key: str, labels: list[str], codes: np.ndarray, columns: Mapping[str, np.ndarray],
               window: GroupWindow, offset: int) -> None:
        """``codes``: each row's group in the window (-1: not in it, or no value)."""
        codes = codes.copy()
        codes[:offset] = -1  # the reference's warm-up rows are not tested against it
        sketches = window.sketches.setdefault(key, {})
        for code in np.unique(codes[codes >= 0]).tolist():
            rows = np.flatnonzero(codes == code)
            self.drift.update(key, labels[code], {f: columns[f][rows] for f in self.drift.features}, sketches)

    def add_labels(self, groups: Sequence[tuple | None], starts: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                   scores: np.ndarray | None, window_starts: Sequence[int]) -> None:
        """Labelled rows (their groups as the prediction carried them) into the open label windows."""
        windows = [(start, starts == start) for start in window_starts]
        for i, key in enumerate(self.keys):
            # Groups as small integer codes (-1: none), so each group's rows are one vectorised mask.
            names: dict[str, int] = {}
            codes = np.fromiter((-1 if g is None or i >= len(g) or g[i] is None else names.setdefault(g[i], len(names))
                                 for g in groups), dtype=np.int64, count=len(groups))
            if not names:
                continue
            labels = list(names)
            for start, in_window in windows:
                window = self.label_windows.get(start) or self.label_windows.setdefault(start, GroupLabelWindow())
                present = np.unique(codes[in_window & (codes >= 0)])
                if not len(present):
                    continue
                # Codes of the groups present in this window only: a group gets state when it has rows.
                local = np.full(len(labels) + 1, -1, dtype=np.int64)  # local[-1] is -1: no group stays none
                local[present] = np.arange(len(present))
                performance = [window.group(key, labels[code], self.task, self.positive) for code in present.tolist()]
                PerformanceWindow.update_groups(performance, np.where(in_window, local[codes], -1), y_true, y_pred,
                                                scores)

    # -- output ------------------------------------------------------------------------------------
    def close(self, start: int) -> tuple[tuple[SegmentMetric, ...], tuple[FairnessResult, ...]]:
        """Close the prediction side of a window: its metrics, fairness, and the vocabularies' rebalance."""
        window = self.windows.pop(start, None) or GroupWindow()
        metrics: list[SegmentMetric] = []
        fairness: list[FairnessResult] = []
        self.predicted[start] = window.counts
        while len(self.predicted) > MAX_COUNTED_WINDOWS:
            del self.predicted[min(self.predicted)]
        for key in self.keys:
            counts = window.counts.get(key, {})
            selected = window.selected.get(key, {})
            for group, n in sorted(counts.items()):
                metrics.append(SegmentMetric(key, group, "predictions", float(n), n))
                if self.task == "binary_classification":
                    metrics.append(SegmentMetric(key, group, "selection_rate", selected.get(group, 0) / n, n))
            if self.drift is not None:
                metrics += self.drift.evaluate(key, window.sketches.get(key, {}))
            if self._fair(key) and self.task == "binary_classification":
                groups = {g: GroupCounts(predictions=n, selected=selected.get(g, 0)) for g, n in counts.items()}
                fairness += fairness_measures(key, groups, self.fairness.thresholds)
            for dropped, _ in self.vocab[key].rebalance(counts):
                if self.drift is not None:
                    self.drift.forget(key, dropped)
        return tuple(metrics), tuple(fairness)

    def close_labels(self, start: int) -> tuple[tuple[SegmentMetric, ...], tuple[FairnessResult, ...]]:
        window = self.label_windows.pop(start, None) or GroupLabelWindow()
        predicted = self.predicted.get(start, {})
        metrics: list[SegmentMetric] = []
        fairness: list[FairnessResult] = []
        for key in self.keys:
            groups = window.performance.get(key, {})
            for group, pw in sorted(groups.items()):
                metrics.append(SegmentMetric(key, group, "labels", float(pw.n), pw.n))
                n_predicted = predicted.get(key, {}).get(group, 0)
                if n_predicted:
                    metrics.append(SegmentMetric(key, group, "label_coverage", pw.n / n_predicted, n_predicted))
                metrics += [_metric(key, group, m) for m in pw.compute()]
            if self._fair(key) and self.task != "multiclass_classification":
                fairness += fairness_measures(key, {g: pw.group_counts() for g, pw in groups.items()},
                                              self.fairness.thresholds)
        return tuple(metrics), tuple(fairness)

    def _fair(self, key: str) -> bool:
        return self.fairness is not None and key in self.fairness.keys

    # -- checkpoints -----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"keys": list(self.keys), "vocab": {k: v.snapshot() for k, v in self.vocab.items()},
                "windows": [[s, w.snapshot()] for s, w in self.windows.items()],
                "label_windows": [[s, w.snapshot()] for s, w in self.label_windows.items()],
                "predicted": [[s, c] for s, c in self.predicted.items()],
                "drift": None if self.drift is None else self.drift.snapshot()}

    @classmethod
    def restore(cls, s: Mapping[str, Any] | None, settings: ModelSettings,
                reference: ReferenceProfile | None) -> SegmentMonitor:
        """A monitor under the current settings; the snapshot's state is kept per key still monitored."""
        m = cls(settings, reference)
        if not s:
            return m
        for key, v in s["vocab"].items():
            if key in m.vocab:
                m.vocab[key] = SegmentVocabulary.restore(v, m.vocab[key].max_values)
        if m.drift is not None and s.get("drift"):
            m.drift.restore(s["drift"])
        profile = m.drift.profile if m.drift is not None else (lambda key, group: None)
        keys = set(m.keys)
        for start, w in s["windows"]:
            window = GroupWindow.restore(w, profile)
            m.windows[int(start)] = _only(window, keys)
        for start, w in s["label_windows"]:
            window = GroupLabelWindow.restore(w)
            window.performance = {k: v for k, v in window.performance.items() if k in keys}
            m.label_windows[int(start)] = window
        m.predicted = {int(start): {str(k): {str(g): int(n) for g, n in v.items()} for k, v in c.items()}
                       for start, c in s["predicted"]}
        return m


def _only(window: GroupWindow, keys: set[str]) -> GroupWindow:
    for part in (window.counts, window.selected, window.sketches):
        for key in [k for k in part if k not in keys]:
            del part[key]
    return window


def _metric(key: str, group: str, m: MetricValue) -> SegmentMetric:
    return SegmentMetric(key, group, m.name, m.value, m.n)


def _category(value: Any, kind: str | None) -> str | None:
    """A feature value as the feature's column holds it (see :func:`~driftline.stream.columns.build_columns`)."""
    if value is None:
        return None
    if kind == "boolean":
        return boolean_key(value)
    return value if isinstance(value, str) else label_key(value)

"""The experiments of one partition: events routed to arms, windows of mergeable statistics, verdicts.

An :class:`ExperimentTracker` follows one configured experiment. Each prediction and each joined
label of its model goes to an arm (the champion, or a challenger: a ``version``, or a ``variant``;
an event matching a challenger and the champion counts for the challenger) and into the open
window of its event time (labels: of the join, as for the label windows). A window closes once
the model's windows have closed past it (the prediction or label watermark, whichever is
further); closed windows are handed, in window order, to one
:class:`~driftline.detectors.ChampionChallenger` per challenger, which returns the verdict.
Statistics that arrive for a window already closed go to the oldest open one: nothing is lost,
since the comparison reads totals.

Paired comparisons: a labelled event with a ``request_id`` waits (bounded) for the other arm's
labelled event of the same request; the pair's difference goes to the window of the later one.
Window-level metrics (``data_drift_count``, any other metric of a version's window report; arms
given by version only) pair the two arms' values of the same report window.

Mergeable: window state is counts, sums, sums of squares, confusion counts and latency sketches;
the pending pairs and report values are join state, checkpointed with a cap.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from driftline.detectors import (
    ArmStats,
    ChampionChallenger,
    ExperimentResult,
    ExperimentWindow,
    Moments,
    WindowReport,
    label_key,
    label_values,
)
from driftline.detectors.experiment_design import DATA_DRIFT_COUNT
from driftline.settings import ExperimentSettings, ModelSettings

from .columns import FeatureColumns
from .join import JoinedLabel

__all__ = ["ExperimentTracker"]

MAX_OPEN_WINDOWS = 64
MAX_PENDING_PAIRS = 10_000
MAX_REPORT_VALUES = 256
_PREDICTION_FEATURES = frozenset({"prediction", "score"})


class _Window:
    """One open window: every arm's statistics, paired differences and window-metric pairs per challenger."""

    def __init__(self, start_ms: int, end_ms: int, comparisons: Sequence[ChampionChallenger]) -> None:
        self.start_ms, self.end_ms = start_ms, end_ms
        self.arms: list[ArmStats] = [comparisons[0].new_arm() for _ in range(len(comparisons) + 1)]
        self.pairs: list[dict[str, Moments]] = [{m: Moments() for m in c.pairs} for c in comparisons]
        self.window_pairs: list[dict[str, list[list[float]]]] = [{} for _ in comparisons]

    def snapshot(self) -> dict[str, Any]:
        return {"start_ms": self.start_ms, "end_ms": self.end_ms, "arms": [a.snapshot() for a in self.arms],
                "pairs": [{k: v.to_list() for k, v in p.items()} for p in self.pairs],
                "window_pairs": self.window_pairs}


class ExperimentTracker:
    def __init__(self, settings: ExperimentSettings, model: ModelSettings) -> None:
        self.settings = settings
        self.model = model
        self.arms = (settings.champion, *settings.challengers)
        self.comparisons = [ChampionChallenger(settings.design) for _ in settings.challengers]
        self.label_metrics = tuple(m for m in settings.design.metrics("label") if m != "f1")
        self.f1 = "f1" in settings.design.metrics("label")
        self.window_metrics = settings.design.metrics("window")
        self.positive = label_key(model.positive_label)
        self.windows: dict[int, _Window] = {}
        self.closed_through_ms = -(2**62)
        self.pending_pairs: OrderedDict[str, dict[int, tuple[int, list[float]]]] = OrderedDict()
        self.report_values: OrderedDict[str, dict[int, float]] = OrderedDict()  # "start|metric" -> arm -> value
        self.versions: list[list[str]] = [[] for _ in self.arms]  # versions seen per arm (variant arms)

    # -- routing -------------------------------------------------------------------------------------
    def arm_of(self, version: str, variant: str | None) -> int | None:
        for i in range(1, len(self.arms)):
            if self.arms[i].matches(version, variant):
                return i
        return 0 if self.arms[0].matches(version, variant) else None

    def _window(self, ts_ms: int) -> _Window:
        size = self.model.window_ms
        start = max(ts_ms - ts_ms % size, self.closed_through_ms)
        if start in self.windows:
            return self.windows[start]
        if start == self.closed_through_ms and self.windows:  # late: the oldest open window takes it
            return self.windows[min(self.windows)]
        window = self.windows[start] = _Window(start, start + size, self.comparisons)
        return window

    def add_predictions(self, events: Sequence[Any], ts_ms: Sequence[int], version: str, cols: FeatureColumns) -> None:
        """Predictions of one version (``cols`` built from ``events``)."""
        arms = np.array([-1 if (a := self.arm_of(version, e.variant)) is None else a for e in events])
        if not (arms >= 0).any():
            return
        ts = cols.ts_ms
        missing = np.zeros(len(events))
        for col in cols.columns.values():
            missing += np.isnan(col) if col.dtype.kind == "f" else np.equal(col, None)
        missing /= max(1, len(cols.columns))
        if self.model.task == "regression":
            prediction = np.array([p if type(p) is float else np.nan for p in cols.prediction])
        else:
            prediction = np.array([float(label_key(p) == self.positive) for p in cols.prediction])
        starts = ts - ts % self.model.window_ms
        for arm in np.unique(arms[arms >= 0]).tolist():
            if version not in self.versions[arm] and len(self.versions[arm]) < 20:
                self.versions[arm].append(version)
            for start in np.unique(starts[arms == arm]).tolist():
                mask = (arms == arm) & (starts == start)
                self._window(int(start)).arms[arm].add_predictions(missing[mask], prediction[mask],
                                                                   cols.latency_ms[mask])

    def add_labels(self, joined: Sequence[JoinedLabel]) -> None:
        """Joined labels of this experiment's model (any version)."""
        arms = np.array([-1 if (a := self.arm_of(j.version, j.tag[0] if j.tag else None)) is None else a
                         for j in joined])
        if not (arms >= 0).any():
            return
        task = self.model.task
        if task == "regression":
            truth = np.array([float(j.label) for j in joined])
            predicted = np.array([float(j.prediction) for j in joined])
        else:
            truth = np.array([label_key(j.label) for j in joined], dtype=object)
            predicted = np.array([label_key(j.prediction) for j in joined], dtype=object)
        scores = np.array([np.nan if j.score is None else j.score for j in joined])
        values = label_values(task, self.positive, truth, predicted, scores, self.label_metrics)
        ts = np.array([j.ts_ms for j in joined], dtype=np.int64)
        starts = ts - ts % self.model.window_ms
        for arm in np.unique(arms[arms >= 0]).tolist():
            for start in np.unique(starts[arms == arm]).tolist():
                mask = (arms == arm) & (starts == start)
                confusion = None
                if self.f1:
                    t, p = truth[mask] == self.positive, predicted[mask] == self.positive
                    confusion = [int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum()), int((~t & ~p).sum())]
                self._window(int(start)).arms[arm].add_labels({k: v[mask] for k, v in values.items()}, confusion)
        if self.comparisons and self.comparisons[0].pairs:
            for i, j in enumerate(joined):
                if arms[i] >= 0 and j.tag and j.tag[1]:
                    self._pair(j.tag[1], int(arms[i]), int(ts[i]),
                               [float(values[m][i]) if m in values else np.nan for m in self.label_metrics])

    def _pair(self, request_id: str, arm: int, ts_ms: int, values: list[float]) -> None:
        waiting = self.pending_pairs.setdefault(request_id, {})
        self.pending_pairs.move_to_end(request_id)
        for other, (other_ts, other_values) in waiting.items():
            if (arm == 0) == (other == 0):
                continue  # two challengers, or the champion twice: not a comparison
            challenger, champion_values, challenger_values = (arm, other_values, values) if arm else \
                (other, values, other_values)
            window = self._window(max(ts_ms, other_ts))
            pairs = window.pairs[challenger - 1]
            for name, a, b in zip(self.label_metrics, champion_values, challenger_values, strict=True):
                if np.isfinite(a) and np.isfinite(b):
                    pairs[name] = pairs[name] + Moments(1, b - a, (b - a) ** 2)
        waiting[arm] = (ts_ms, values)
        while len(self.pending_pairs) > MAX_PENDING_PAIRS:
            self.pending_pairs.popitem(last=False)

    def add_report(self, report: WindowReport) -> None:
        """A closed window report of one of the model's versions: its window-level metrics."""
        if not self.window_metrics:
            return
        arm = self.arm_of(report.version, None)
        if arm is None:
            return
        found = {m.name: m.value for m in report.metrics}
        if report.n_predictions:
            found[DATA_DRIFT_COUNT] = float(sum(r.drifted for r in report.drift if r.feature not in _PREDICTION_FEATURES))
        for metric in self.window_metrics:
            if metric not in found or not np.isfinite(found[metric]):
                continue
            # arm -> value; -arm marks a challenger already paired with the champion for this window
            values = self.report_values.setdefault(f"{report.window_start_ms}|{metric}", {})
            values[arm] = found[metric]
            for challenger in range(1, len(self.arms)):
                if 0 in values and challenger in values and -challenger not in values:
                    values[-challenger] = 1.0
                    self._window(report.window_start_ms).window_pairs[challenger - 1].setdefault(metric, []).append(
                        [values[0], values[challenger]])
            while len(self.report_values) > MAX_REPORT_VALUES:
                self.report_values.popitem(last=False)

    # -- closing -------------------------------------------------------------------------------------
    def close_ready(self, clock_ms: int) -> list[ExperimentResult]:
        """Close the windows that end at or before ``clock_ms`` (and the oldest beyond the cap), in order."""
        ready = sorted(s for s, w in self.windows.items() if w.end_ms <= clock_ms)
        while len(self.windows) - len(ready) > MAX_OPEN_WINDOWS:
            ready.append(min(s for s in self.windows if s not in ready))
        results = []
        for start in sorted(ready):
            window = self.windows.pop(start)
            self.closed_through_ms = max(self.closed_through_ms, window.end_ms)
            for i, (comparison, arm) in enumerate(zip(self.comparisons, self.settings.challengers, strict=True)):
                view = ExperimentWindow(window.start_ms, window.end_ms, window.arms[0], window.arms[i + 1],
                                        window.pairs[i], window.window_pairs[i])
                evaluation = comparison.close(view)
                results.append(ExperimentResult(self.settings.name, self.model.name, self.settings.champion.label,
                                                arm.label, evaluation,
                                                self.settings.actions.get(evaluation.verdict, "notify")))
        return results

    def challenger_versions(self, index: int) -> list[str]:
        """The versions seen in challenger ``index`` (0-based): its version, or those of its variant."""
        arm = self.settings.challengers[index]
        return [arm.version] if arm.version is not None else list(self.versions[index + 1])

    # -- checkpoints ---------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"comparisons": [c.snapshot() for c in self.comparisons],
                "windows": [w.snapshot() for w in self.windows.values()], "closed_through_ms": self.closed_through_ms,
                "pending_pairs": [[r, [[a, t, v] for a, (t, v) in arms.items()]] for r, arms in self.pending_pairs.items()],
                "report_values": [[k, [[a, v] for a, v in arms.items()]] for k, arms in self.report_values.items()],
                "versions": self.versions}

    @classmethod
    def restore(cls, snapshot: Mapping[str, Any], settings: ExperimentSettings, model: ModelSettings
                ) -> ExperimentTracker:
        """The tracker a :meth:`snapshot` describes under the current settings; a changed list of
        challengers starts the experiment afresh."""
        t = cls(settings, model)
        if len(snapshot["comparisons"]) != len(t.comparisons) or len(snapshot["versions"]) != len(t.arms):
            return t
        t.comparisons = [ChampionChallenger.restore(settings.design, c) for c in snapshot["comparisons"]]
        for w in snapshot["windows"]:
            window = _Window(int(w["start_ms"]), int(w["end_ms"]), t.comparisons)
            for arm, s in zip(window.arms, w["arms"], strict=True):
                arm.merge(ArmStats.restore(s))
            for pairs, s in zip(window.pairs, w["pairs"], strict=True):
                for name in pairs:
                    if name in s:
                        pairs[name] = Moments.from_list(s[name])
            window.window_pairs = [{str(k): [[float(a), float(b)] for a, b in v] for k, v in p.items()}
                                   for p in w["window_pairs"]]
            t.windows[window.start_ms] = window
        t.closed_through_ms = int(snapshot["closed_through_ms"])
        for request_id, arms in snapshot["pending_pairs"]:
            t.pending_pairs[str(request_id)] = {int(a): (int(ts), [float(v) for v in values]) for a, ts, values in arms}
        for key, arms in snapshot["report_values"]:
            t.report_values[str(key)] = {int(a): float(v) for a, v in arms}
        t.versions = [[str(v) for v in vs] for vs in snapshot["versions"]]
        return t

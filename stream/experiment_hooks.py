"""Where the hot path hands events, labels and closed windows to the experiments and the lifecycle.

The :class:`~driftline.stream.processor.Processor` calls an :class:`ExperimentHooks` at four
points of a partition's batch: predictions of one version (:meth:`predictions`), joined labels
(:meth:`labels`), each closed window report (:meth:`report`), and after the windows closed
(:meth:`close`). It keeps a partition's :class:`~driftline.stream.experiments.ExperimentTracker`
per configured experiment, its :class:`~driftline.stream.lifecycle.Lifecycle` and its lifecycle
alert engine (experiment verdicts, ineffective rollbacks: :func:`~driftline.alerting.lifecycle_rules`).
A model in no experiment costs one dictionary lookup per batch group.

A verdict of ``rollback`` sets the challenger's versions ``rolled_back``, ``promote`` sets them
``promoted`` (``changed_by: verdict:<experiment>``), at the event time of the deciding window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from driftline.alerting import AlertEngine, lifecycle_rules
from driftline.detectors import WindowReport
from driftline.settings import ExperimentSettings, Settings
from driftline.sinks.lifecycle import VersionRecord

from .columns import FeatureColumns
from .experiments import ExperimentTracker
from .lifecycle import Lifecycle

__all__ = ["DEFAULT_ROLLBACK_GRACE_MS", "ExperimentHooks"]

DEFAULT_ROLLBACK_GRACE_MS = 600_000  # for versions in no experiment (set by the CLI or a webhook)
_DECIDED_STATES = {"rollback": "rolled_back", "promote": "promoted"}


class ExperimentHooks:
    """The experiments and the version lifecycle of every partition, under ``settings``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.models = {m.name: m for m in settings.models}
        self.by_model: dict[str, list[ExperimentSettings]] = defaultdict(list)
        for e in settings.experiments:
            self.by_model[e.model].append(e)
        self.rules = lifecycle_rules(settings.alert_rules)
        self.grace = {model: min(e.rollback_grace_ms for e in es) for model, es in self.by_model.items()}
        self.known: dict[tuple[str, str], VersionRecord] = {}  # the model_versions table, last read

    def grace_ms(self, model: str) -> int:
        return self.grace.get(model, DEFAULT_ROLLBACK_GRACE_MS)

    def tags(self, model: str, events: Sequence[Any]) -> list[tuple[str, str]] | None:
        """What the label join keeps of each prediction of an experiment's model: (variant, request_id)."""
        if model not in self.by_model:
            return None
        return [(e.variant or "", e.request_id or "") for e in events]

    def _trackers(self, state: Any, model: str) -> list[ExperimentTracker]:
        experiments = self.by_model.get(model)
        if not experiments:
            return []
        trackers = state.experiments
        for e in experiments:
            if e.name not in trackers:
                trackers[e.name] = ExperimentTracker(e, self.models[model])
        return [trackers[e.name] for e in experiments]

    # -- the four hooks ------------------------------------------------------------------------------
    def predictions(self, state: Any, model: str, version: str, events: Sequence[Any], ts_ms: Sequence[int],
                    cols: FeatureColumns, *, admitted: bool = True) -> None:
        """Predictions of one version; ``admitted=False`` when they are monitored as ``_other`` (past the
        version cap: not in the lifecycle either, which stays as bounded as the monitors)."""
        if admitted:
            state.lifecycle.saw(model, version, int(cols.ts_ms.min()), int(cols.ts_ms.max()),
                                self._initial_state(model, version, events[0].variant if model in self.by_model else None),
                                self.known.get((model, version)),
                                max_per_model=self.settings.worker.versions.max_per_model)
        for tracker in self._trackers(state, model):
            tracker.add_predictions(events, ts_ms, version, cols)

    def labels(self, state: Any, model: str, joined: Sequence[Any]) -> None:
        for tracker in self._trackers(state, model):
            tracker.add_labels(joined)

    def report(self, state: Any, report: WindowReport, now_ms: int, out: Any) -> None:
        state.lifecycle.window_closed(report)
        for traffic in state.lifecycle.traffic(report, self.grace_ms):
            out.alerts.extend(self._engine(state).evaluate(traffic, now_ms))
        for tracker in self._trackers(state, report.model):
            tracker.add_report(report)

    def close(self, state: Any, now_ms: int, out: Any) -> None:
        """Close the experiments' windows the model's windows have passed; verdicts, alerts, lifecycle rows."""
        for name, tracker in state.experiments.items():
            model = tracker.model.name
            clocks = [max(m.closed_through_ms, m.labels_closed_through_ms)
                      for (m_name, _), m in state.monitors.items() if m_name == model]
            if not clocks:
                continue
            labels = [a.label for a in tracker.settings.challengers]
            for result in tracker.close_ready(max(clocks)):
                out.experiments.append((state.partition, result))
                out.alerts.extend(self._engine(state).evaluate(result, now_ms))
                e = result.evaluation
                if e.changed and e.verdict in _DECIDED_STATES:
                    for version in tracker.challenger_versions(labels.index(result.challenger)):
                        state.lifecycle.decided(model, version, _DECIDED_STATES[e.verdict], e.reason[:500],
                                                f"verdict:{name}", e.window_end_ms)
        out.versions.extend(state.lifecycle.rows())

    def adopt(self, states: Mapping[int, Any], records: Sequence[VersionRecord]) -> None:
        """The ``model_versions`` table as last read: changes made elsewhere reach every partition."""
        self.known = {(r.model, r.version): r for r in records}
        for state in states.values():
            state.lifecycle.adopt(self.known)

    def _initial_state(self, model: str, version: str, variant: str | None) -> str:
        for e in self.by_model.get(model, ()):
            if any(arm.matches(version, variant) for arm in e.challengers):
                return e.challenger_state
        return "active"

    def _engine(self, state: Any) -> AlertEngine:
        if state.lifecycle_engine is None:
            state.lifecycle_engine = AlertEngine(self.rules)
        return state.lifecycle_engine

    # -- checkpoints -----------------------------------------------------------------------------------
    def restore(self, state: Any, doc: Mapping[str, Any]) -> None:
        """Put a checkpoint's experiments and lifecycle back into ``state`` (absent from checkpoints of
        earlier builds: they start empty); experiments no longer configured are dropped."""
        configured = {e.name: e for e in self.settings.experiments}
        for entry in doc.get("experiments", ()):
            e = configured.get(entry["name"])
            if e is not None:
                state.experiments[e.name] = ExperimentTracker.restore(entry["state"], e, self.models[e.model])
        state.lifecycle = Lifecycle.restore(doc.get("lifecycle", ()))
        if doc.get("lifecycle_engine") is not None:
            self._engine(state).restore(doc["lifecycle_engine"])

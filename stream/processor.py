"""The hot path without I/O: decoded batches in, rows, window reports and alerts out.

State is partition-local (Kafka Streams style): producers key predictions and
feedback by model, so partition ``p`` of both topics holds every event of the
models it carries, and a :class:`PartitionState` holds their monitors, the
label join and the alert engine. The whole state of a partition is
checkpointed as one blob together with its offsets; after a crash the worker
restores it and replays from those offsets, so every window is computed from
exactly the events it would have seen without the crash.
"""

from __future__ import annotations

import copy
import pickle
from collections import defaultdict
from dataclasses import dataclass, field

from driftline.alerting import Alert, AlertEngine, build_rules
from driftline.detectors import ReferenceProfile, WindowReport
from driftline.settings import Settings
from driftline.sinks.rows import FeedbackRows, PredictionRows

from .columns import build_columns
from .events import DeadLetter, EventDecoder, FeedbackEvent, PredictionEvent
from .join import LabelJoin
from .monitor import ModelMonitor

__all__ = ["BatchOutput", "PartitionState", "Processor"]


@dataclass
class PartitionState:
    partition: int
    monitors: dict[tuple[str, str], ModelMonitor]
    join: LabelJoin
    engines: dict[tuple[str, str], AlertEngine]
    offsets: dict[str, int] = field(default_factory=dict)  # topic -> next offset to read

    def snapshot(self) -> bytes:
        state = {
            "partition": self.partition, "monitors": self.monitors, "join": self.join, "offsets": self.offsets,
            "engines": {key: engine.snapshot() for key, engine in self.engines.items()},
        }
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


@dataclass
class BatchOutput:
    predictions: PredictionRows = field(default_factory=PredictionRows)
    feedback: FeedbackRows = field(default_factory=FeedbackRows)
    dead: list[DeadLetter] = field(default_factory=list)
    reports: list[WindowReport] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    counts: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))


class Processor:
    def __init__(self, settings: Settings, references: dict[str, ReferenceProfile] | None = None,
                 multivariate: dict | None = None) -> None:
        self.settings = settings
        self.models = {m.name: m for m in settings.models}
        self.references = references or {}
        self.multivariate = multivariate or {}  # model -> PCAReconstructionDrift fitted on its reference file
        self.known = frozenset(self.models)
        self.rules = build_rules(settings.alert_rules)
        k = settings.kafka
        limits = dict(known_models=self.known, max_bytes=k.max_message_bytes,
                      max_features=settings.worker.max_features)
        self.prediction_decoder = EventDecoder(PredictionEvent, topic=k.predictions_topic, **limits)
        self.feedback_decoder = EventDecoder(FeedbackEvent, topic=k.feedback_topic, **limits)

    def new_partition(self, partition: int) -> PartitionState:
        w = self.settings.worker
        return PartitionState(partition, {}, LabelJoin(max_delay_ms=w.join_max_delay_ms, max_pending=w.join_max_pending), {})

    def process(self, state: PartitionState, predictions: list, feedback: list, now_ms: int, out: BatchOutput) -> None:
        """``predictions``/``feedback`` are ``(partition, offset, value, broker_ts)`` tuples of one partition."""
        k = self.settings.kafka
        if predictions:
            batch = self.prediction_decoder.decode(predictions)
            out.dead.extend(batch.dead)
            self._predictions(state, batch, now_ms, out)
            state.offsets[k.predictions_topic] = predictions[-1][1] + 1
        if feedback:
            batch = self.feedback_decoder.decode(feedback)
            out.dead.extend(batch.dead)
            self._feedback(state, batch, now_ms, out)
            state.offsets[k.feedback_topic] = feedback[-1][1] + 1

    def restore_partition(self, blob: bytes, pending_loader=None) -> PartitionState:
        """Rebuild a partition's state from :meth:`PartitionState.snapshot` with the current settings.

        ``pending_loader(partition, offsets, horizon_ms, limit)`` returns the label join's pending
        rows at the checkpoint (see :func:`driftline.sinks.join_state.load_pending_join`).
        """
        raw = pickle.loads(blob)
        for key in [k for k in raw["monitors"] if k[0] not in self.models]:
            del raw["monitors"][key]  # a model removed from the config since the checkpoint
        for (model, _version), monitor in raw["monitors"].items():
            monitor.attach(self.models[model])
        join = raw["join"]
        if pending_loader is not None:
            watermark = max((m.watermark_ms for m in raw["monitors"].values()), default=0)
            join.load_pending(*pending_loader(raw["partition"], raw["offsets"],
                                              watermark - join.max_delay_ms, join.max_pending))
        engines = {}
        for key, snap in raw["engines"].items():
            if key[0] not in self.models:
                continue
            engines[key] = AlertEngine(self.rules)
            engines[key].restore(snap)
        return PartitionState(raw["partition"], raw["monitors"], raw["join"], engines, raw["offsets"])

    def close_windows(self, state: PartitionState, now_ms: int, out: BatchOutput) -> None:
        watermark = max((m.watermark_ms for m in state.monitors.values()), default=None)
        if watermark is not None:
            state.join.expire(watermark)
        for key, monitor in state.monitors.items():
            for report in monitor.close_ready(now_ms):
                out.reports.append(report)
                engine = state.engines.get(key)
                if engine is None:
                    engine = state.engines[key] = AlertEngine(self.rules)
                out.alerts.extend(engine.evaluate(report, now_ms))

    def _monitor(self, state: PartitionState, model: str, version: str) -> ModelMonitor:
        monitor = state.monitors.get((model, version))
        if monitor is None:
            fitted = self.multivariate.get(model)
            monitor = ModelMonitor(self.models[model], version, self.references.get(model),
                                   copy.deepcopy(fitted) if fitted is not None else None)
            state.monitors[(model, version)] = monitor
        return monitor

    def _predictions(self, state: PartitionState, batch, now_ms: int, out: BatchOutput) -> None:
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, event in enumerate(batch.events):
            groups[(event.model, event.version)].append(i)
        for (model, version), idx in groups.items():
            if len(idx) == len(batch.events):
                events, ts, origins, maps = batch.events, batch.ts_ms, batch.origins, batch.features
            else:
                events = [batch.events[i] for i in idx]
                ts = [batch.ts_ms[i] for i in idx]
                origins = [batch.origins[i] for i in idx]
                maps = [batch.features[i] for i in idx]
            monitor = self._monitor(state, model, version)
            monitor.add_predictions(build_columns(events, ts, monitor.kinds, maps), now_ms)
            monitor.add_labels(state.join.add_predictions(events, ts, model, version), now_ms)
            out.predictions.add(events, ts, origins, model, version,
                                classification=monitor.settings.task != "regression")
            out.counts[("predictions", model, version)] += len(idx)

    def _feedback(self, state: PartitionState, batch, now_ms: int, out: BatchOutput) -> None:
        joined_by_model: dict[tuple[str, str], list] = defaultdict(list)
        add_feedback, counts = state.join.add_feedback, out.counts
        for e, t in zip(batch.events, batch.ts_ms, strict=True):
            for j in add_feedback(e.event_id, e.model, e.label, t):
                joined_by_model[(j.model, j.version)].append(j)
            counts[("feedback", e.model, e.version or "")] += 1
        out.feedback.add(batch.events, batch.ts_ms, batch.origins)
        for (model, version), joined in joined_by_model.items():
            self._monitor(state, model, version).add_labels(joined, now_ms)


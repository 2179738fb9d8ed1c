"""The hot path without I/O: decoded batches in, rows, window reports and alerts out.

The state of a partition (:class:`~driftline.stream.partition.PartitionState`) is
checkpointed as one versioned document together with its offsets; after a crash the
worker restores it and replays from those offsets, so every window is computed from
exactly the events it would have seen without the crash.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from driftline.alerting import AlertEngine, build_rules
from driftline.detectors import ReferenceProfile
from driftline.settings import Settings

from .checkpoint_format import decode_checkpoint, is_legacy_checkpoint
from .columns import build_columns
from .errors import CheckpointError
from .events import EventDecoder, FeedbackEvent, PredictionEvent
from .experiment_hooks import ExperimentHooks
from .fit_prefetch import FitPrefetch
from .join import LabelJoin
from .join_exchange import JoinExchange
from .join_topic import JoinInbox, JoinRelay, pending_restore
from .monitor import ModelMonitor
from .partition import BatchOutput, PartitionState
from .replay import rebuild_partition
from .segment_join import pending_groups
from .two_stage import TwoStage
from .versions import admit_version

__all__ = ["BatchOutput", "PartitionState", "Processor"]



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
        w = settings.worker
        limits = dict(known_models=self.known, max_bytes=k.max_message_bytes, max_features=w.max_features,
                      limits=w.limits, event_time=w.event_time)
        self.prediction_decoder = EventDecoder(PredictionEvent, topic=k.predictions_topic, **limits)
        self.feedback_decoder = EventDecoder(FeedbackEvent, topic=k.feedback_topic, **limits)
        self.experiments = ExperimentHooks(settings)  # experiments and the version lifecycle
        self.two_stage = TwoStage(self._new_monitor, self.rules, wait_ms=w.aggregation_wait_ms) \
            if w.aggregation == "two_stage" else None
        # Under two stages labels join through the join topic, whatever the keying (stream/join_topic.py).
        self.join_exchange = JoinExchange(self.models, lambda: self.two_stage.partitions, self._join_monitor) \
            if self.two_stage is not None else None
        # Null fits made while windows fill, not in their close (stream/fit_prefetch.py). One stage only:
        # a stage-1 window holds a share of the events, and stage 2 sees a window only at its close.
        self.fit_prefetch = FitPrefetch() if self.two_stage is None else None

    def new_partition(self, partition: int) -> PartitionState:
        w = self.settings.worker
        state = PartitionState(partition, {}, LabelJoin(max_delay_ms=w.join_max_delay_ms,
                                                        max_pending=w.join_max_pending), {})
        if self.join_exchange is not None:
            state.relay, state.inbox = JoinRelay(), JoinInbox()
        return state

    def process(self, state: PartitionState, predictions: list, feedback: list, now_ms: int, out: BatchOutput) -> None:
        """``predictions``/``feedback`` are ``(partition, offset, value, broker_ts)`` tuples of one partition."""
        k = self.settings.kafka
        if predictions:
            batch = self.prediction_decoder.decode(predictions, now_ms)
            out.dead.extend(batch.dead)
            self._predictions(state, batch, now_ms, out)
            state.offsets[k.predictions_topic] = predictions[-1][1] + 1
        if feedback:
            batch = self.feedback_decoder.decode(feedback, now_ms)
            out.dead.extend(batch.dead)
            self._feedback(state, batch, now_ms, out)
            state.offsets[k.feedback_topic] = feedback[-1][1] + 1

    def restore_partition(self, blob: bytes, pending_loader=None, *, partition: int | None = None,
                          offsets: Mapping[str, int] | None = None, history_loader=None) -> PartitionState:
        """Rebuild a partition's state from its stored checkpoint, with the current settings.

        ``pending_loader(partition, offsets, horizon_ms, limit)`` returns the label join's pending
        rows at the checkpoint (see :func:`driftline.sinks.join_state.load_pending_join`).

        A version-1 checkpoint (a pickle, from the previous release) is never unpickled: the state
        is rebuilt from the stored events below ``offsets`` (the checkpoint row's ``offsets``
        column) of ``partition``, read by ``history_loader`` (see
        :func:`driftline.stream.replay.rebuild_partition`). A document newer than this build raises
        :class:`~driftline.stream.errors.CheckpointTooNewError`; a malformed one
        :class:`~driftline.stream.errors.CheckpointError`.
        """
        if is_legacy_checkpoint(blob):
            if partition is None or offsets is None or history_loader is None:
                raise CheckpointError("a version-1 checkpoint is rebuilt from the event tables: partition, offsets "
                                      "and history_loader are needed")
            return rebuild_partition(self, partition, offsets, history_loader, pending_loader)
        doc = decode_checkpoint(blob)
        try:
            state = self._restore(doc)
        except (KeyError, TypeError, ValueError) as exc:  # DetectorStateError is a ValueError
            raise CheckpointError(f"checkpoint of partition {doc.get('partition')} is malformed: "
                                  f"{type(exc).__name__}: {exc}") from exc
        self.load_pending(state, pending_loader)
        return state

    def _restore(self, doc: Mapping[str, Any]) -> PartitionState:
        monitors = {}
        for snap in doc["monitors"]:
            model = snap["model"]
            if model not in self.models:
                continue  # a model removed from the config since the checkpoint
            fitted = self.multivariate.get(model)
            monitor = ModelMonitor.restore(snap, self.models[model], self.references.get(model),
                                           copy.deepcopy(fitted) if fitted is not None else None)
            monitor.per_event_streaming = self.two_stage is None
            monitor.prefetch = self.fit_prefetch.ask if self.fit_prefetch is not None else None
            monitors[(model, monitor.version)] = monitor
        w = self.settings.worker
        limits = dict(max_delay_ms=w.join_max_delay_ms, max_pending=w.join_max_pending)
        exchange = doc.get("join_topic") if self.join_exchange is not None else None
        join = pending_restore(doc["join"], **limits) if exchange else LabelJoin.restore(doc["join"], **limits)
        engines = {}
        for entry in doc["engines"]:
            if entry["model"] in self.models:
                engine = engines[(entry["model"], entry["version"])] = AlertEngine(self.rules)
                engine.restore(entry["state"])
        offsets = {str(topic): int(offset) for topic, offset in doc["offsets"].items()}
        state = PartitionState(int(doc["partition"]), monitors, join, engines, offsets)
        if self.two_stage is not None:
            state.owners = self.two_stage.restore(doc.get("owners", ()))
            state.relay = JoinRelay.restore(exchange["relay"]) if exchange else JoinRelay()
            state.inbox = JoinInbox.restore(exchange["inbox"]) if exchange else JoinInbox()
        self.experiments.restore(state, doc)
        return state

    def load_pending(self, state: PartitionState, pending_loader) -> None:
        """Refill the label join with its pending entries at the state's offsets, read back from the tables.

        With segments configured, the loader is asked for each prediction's stored ``segment`` and
        ``features`` too, and the groups its label will count in are looked up again. Under two
        stages the join's entries are in the checkpoint itself (stream/join_topic.py)."""
        if pending_loader is not None and self.join_exchange is None:
            join = state.join
            watermark = max((m.watermark_ms for m in state.monitors.values()), default=0)
            args = (state.partition, state.offsets, watermark - join.max_delay_ms, join.max_pending)
            if any(m.segments is not None for m in self.models.values()):
                predictions, feedback = pending_loader(*args, segments=True)
                predictions = [pending_groups(state, row) for row in predictions]
            else:
                predictions, feedback = pending_loader(*args)
            join.load_pending(predictions, feedback)

    def close_windows(self, state: PartitionState, now_ms: int, out: BatchOutput) -> None:
        watermark = max((m.watermark_ms for m in state.monitors.values()), default=None)
        if watermark is not None:
            state.join.expire(watermark)
        if self.two_stage is not None:  # stage 1 publishes, stage 2 closes (stream/two_stage.py)
            self.join_exchange.relay(state, now_ms, out)
            self.two_stage.publish(state, now_ms, out)
            self.two_stage.close(state, now_ms, out,
                                 on_report=lambda report: self.experiments.report(state, report, now_ms, out))
            self.experiments.close(state, now_ms, out)
            return
        for key, monitor in state.monitors.items():
            for report in monitor.close_ready(now_ms):
                out.add_report(state.partition, report)
                engine = state.engines.get(key)
                if engine is None:
                    engine = state.engines[key] = AlertEngine(self.rules)
                out.alerts.extend(engine.evaluate(report, now_ms))
                self.experiments.report(state, report, now_ms, out)
        self.experiments.close(state, now_ms, out)

    def _monitor(self, state: PartitionState, model: str, version: str) -> ModelMonitor:
        """The monitor of ``version``, created if it is new; ``version`` is an admitted one."""
        monitor = state.monitors.get((model, version))
        if monitor is None:
            monitor = state.monitors[(model, version)] = self._new_monitor(model, version)
            if monitor is not None:  # stage 2 runs them per window
                monitor.per_event_streaming = self.two_stage is None
                monitor.prefetch = self.fit_prefetch.ask if self.fit_prefetch is not None else None
        return monitor

    def _join_monitor(self, state: PartitionState, model: str, version: str, now_ms: int) -> ModelMonitor:
        """The monitor a label joined on this (join) partition counts in. Made for a label, its
        prediction side starts its idle clock now: this partition's own predictions of the version
        may still wait in Kafka."""
        monitored = admit_version(state, model, version, now_ms, self.settings.worker.versions)
        new = (model, monitored) not in state.monitors
        monitor = self._monitor(state, model, monitored)
        if new:
            monitor.last_event_at_ms = now_ms
        return monitor

    def _new_monitor(self, model: str, version: str) -> ModelMonitor | None:
        if model not in self.models:
            return None
        fitted = self.multivariate.get(model)
        return ModelMonitor(self.models[model], version, self.references.get(model),
                            copy.deepcopy(fitted) if fitted is not None else None)

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
            monitored = admit_version(state, model, version, now_ms, self.settings.worker.versions)
            if monitored != version:
                out.folded[model] += len(idx)
            monitor = self._monitor(state, model, monitored)
            late_before = monitor.late_events
            cols = build_columns(events, ts, monitor.kinds, maps)
            segments = [e.segment for e in events] if monitor.segments is not None else None
            groups = monitor.add_predictions(cols, now_ms, segments)
            if monitor.late_events != late_before:
                out.late[model] += monitor.late_events - late_before
            self.experiments.predictions(state, model, version, events, ts, cols, admitted=monitored == version)
            if self.join_exchange is not None:  # joined on the event id's join partition
                self.join_exchange.predictions(state, events, ts, origins, model, monitored, groups, out)
            else:
                self._join_predictions(state, monitor, model, monitored, events, ts, groups, now_ms)
            out.predictions.add(events, ts, origins, model, version,
                                classification=monitor.settings.task != "regression")
            out.counts[("predictions", model, version)] += len(idx)

    def _join_predictions(self, state, monitor, model, monitored, events, ts, groups, now_ms) -> None:
        """The partition's own join (``per_partition``): the labels these predictions complete."""
        joined = state.join.add_predictions(events, ts, model, monitored, self.experiments.tags(model, events), groups)
        monitor.add_labels(joined, now_ms)
        if joined:
            self.experiments.labels(state, model, joined)

    def _feedback(self, state: PartitionState, batch, now_ms: int, out: BatchOutput) -> None:
        counts = out.counts
        for e in batch.events:
            counts[("feedback", e.model, e.version or "")] += 1
        out.feedback.add(batch.events, batch.ts_ms, batch.origins)
        if self.join_exchange is not None:
            self.join_exchange.feedback(state, batch.events, batch.ts_ms, batch.origins, now_ms, out)
            return
        joined_by_model: dict[tuple[str, str], list] = defaultdict(list)
        for j in state.join.add_feedbacks(batch.events, batch.ts_ms):
            joined_by_model[(j.model, j.version)].append(j)
        for (model, version), joined in joined_by_model.items():
            monitored = admit_version(state, model, version, now_ms, self.settings.worker.versions)
            self._monitor(state, model, monitored).add_labels(joined, now_ms)
            self.experiments.labels(state, model, joined)

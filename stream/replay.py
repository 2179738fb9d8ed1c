"""Rebuilding a partition's state from its stored events (for version-1 checkpoints).

The previous release stored a pickle; loading it would run whatever code the row holds,
so it is never loaded. Its row still says where the partition stood (the ``offsets``
column), and every event below those offsets is in the ``predictions`` and ``feedback``
tables (the writer is flushed before each checkpoint). The state is rebuilt by replaying
those rows through the processor with its outputs discarded: no row, report or alert is
emitted again, the alert engines only relearn what they had already sent.

What is replayed (the bound): the warm-up predictions of the models whose reference is
built in-stream (so the same reference, PCA included, comes out), then the newest
:func:`replay_horizon_ms` of event time of both topics: ``history + 3`` windows of the
model with the largest window, plus its allowed lateness, where ``history`` is the longest
memory a closed window leaves behind (the drift persistence ``n`` and the alert rules'
``for_windows`` / ``resolve_after_windows``). The 3 windows cover the open windows, the
label window that waits for its predictions, and a first window the horizon cuts in two.
At 1-minute windows and default rules that is 4 minutes of events, so the rebuild takes
seconds, whatever the partition's age. The label join is then refilled from the tables like
for any checkpoint.

Not rebuilt exactly: state older than the horizon that outlives windows (the river detectors
on the error stream and on feature values see only the horizon; an alert still firing from
before the horizon is re-learnt from the windows replayed), labels within the horizon whose
prediction is older than it, and the order of events that shared one Kafka message.
Predictions and feedback are interleaved by event time, and processing time is stood in for
by the newest event time replayed, as a live stream has it.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

import msgspec
from driftline.alerting import build_rules

from .errors import CheckpointError
from .join import LabelJoin
from .partition import BatchOutput, PartitionState

__all__ = ["REPLAY_EXTRA_WINDOWS", "rebuild_partition", "replay_horizon_ms"]

log = logging.getLogger("driftline.replay")

REPLAY_EXTRA_WINDOWS = 3
_encode = msgspec.json.encode


def replay_horizon_ms(settings: Any) -> int:
    """Event time replayed back from the newest stored prediction (see the module docstring)."""
    memory = [1] + [m.drift.persistence[1] for m in settings.models]
    memory += [n for rule in build_rules(settings.alert_rules) for n in (rule.for_windows, rule.resolve_after_windows)]
    history = max(memory)
    return max((m.window_ms * (history + REPLAY_EXTRA_WINDOWS) + m.allowed_lateness_ms for m in settings.models),
               default=0)


def rebuild_partition(processor: Any, partition: int, offsets: Mapping[str, int],
                      history_loader: Callable, pending_loader: Callable | None) -> PartitionState:
    """The state of ``partition`` at ``offsets``, replayed from ``history_loader``'s rows.

    ``history_loader(partition, offsets, horizon_ms, warmup)`` returns the prediction and
    feedback rows (:func:`driftline.sinks.history.read_partition_history`); ``warmup`` maps
    each model whose reference is built in-stream to its warm-up size.
    """
    if not (isinstance(offsets, Mapping) and all(type(o) is int and o >= 0 for o in offsets.values())):
        raise CheckpointError(f"checkpoint of partition {partition}: offsets {offsets!r} are not topic -> offset")
    settings = processor.settings
    k = settings.kafka
    warmup = {m.name: m.warmup_events or 5000 for m in settings.models if m.name not in processor.references}
    horizon = replay_horizon_ms(settings)
    predictions, feedback = history_loader(partition, dict(offsets), horizon, warmup)
    state = processor.new_partition(partition)
    clock = replayed = 0
    events = heapq.merge(((row[4], 0, row) for row in predictions), ((row[3], 1, row) for row in feedback),
                         key=lambda item: item[0])
    for chunk in _chunks(events, k.batch_size):
        preds = [(partition, row[0], _prediction_message(row), 0) for _, topic, row in chunk if topic == 0]
        labels = [(partition, row[0], _feedback_message(row), 0) for _, topic, row in chunk if topic == 1]
        clock = max(clock, max(item[0] for item in chunk))  # topics merge by time, each in offset order
        out = BatchOutput()  # discarded: everything in it was emitted before the checkpoint
        processor.process(state, preds, labels, clock, out)
        processor.close_windows(state, clock, out)
        replayed += len(chunk)
    state.offsets = {str(topic): offset for topic, offset in offsets.items()}
    w = settings.worker
    # The replayed join holds only what the horizon saw; the tables know every pending entry.
    state.join = LabelJoin(max_delay_ms=w.join_max_delay_ms, max_pending=w.join_max_pending)
    processor.load_pending(state, pending_loader)
    log.warning("partition %d: version-1 checkpoint (a pickle, not loaded) rebuilt from %d stored events "
                "below offsets %s (%d ms of event time and the reference warm-up)", partition, replayed,
                state.offsets, horizon)
    return state


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _prediction_message(row: tuple) -> bytes:
    offset, event_id, model, version, ts_ms, features, prediction, prediction_num, score, latency, variant, segment = row
    event = {"event_id": event_id, "model": model, "version": version, "ts": ts_ms,
             "features": msgspec.Raw(features.encode()),
             "prediction": prediction if math.isnan(prediction_num) else prediction_num}
    if score is not None:
        event["score"] = score
    if latency is not None:
        event["latency_ms"] = latency
    if variant:
        event["variant"] = variant
    if segment and segment != "{}":
        event["segment"] = msgspec.Raw(segment.encode())
    return _encode(event)


def _feedback_message(row: tuple) -> bytes:
    offset, event_id, model, ts_ms, label, label_num = row
    return _encode({"event_id": event_id, "model": model, "ts": ts_ms,
                    "label": label if math.isnan(label_num) else label_num})

"""The segment groups of a prediction waiting in the label join, found again after a restart.

The join's pending entries are read back from the ``predictions`` table on restore
(:mod:`driftline.sinks.join_state`); for a model with ``segments:`` the row brings the
prediction's stored ``segment`` object and ``features``, and the groups its label will be
counted in are looked up under the restored vocabularies (a value no longer tracked is
``__other__``).
"""

from __future__ import annotations

import json

from .partition import PartitionState

__all__ = ["pending_groups"]


def pending_groups(state: PartitionState, row: tuple) -> tuple:
    """``(event_id, model, version, prediction, score, ts_ms, variant, request_id, segment_json,
    features_json)`` -> ``(event_id, model, version, prediction, score, ts_ms, variant, request_id,
    groups)``; other rows as they are."""
    if len(row) != 10:
        return row
    event_id, model, version, prediction, score, ts_ms, variant, request_id, segment, features = row
    monitor = state.monitors.get((model, version)) or state.monitors.get((model, "_other"))
    if monitor is None or monitor.segments is None:
        return (event_id, model, version, prediction, score, ts_ms, variant, request_id)
    try:
        seg, feats = json.loads(segment or "{}"), json.loads(features or "{}")
    except ValueError:
        seg, feats = {}, {}
    seg = {k: v for k, v in seg.items() if isinstance(v, str)} if isinstance(seg, dict) else {}
    feats = feats if isinstance(feats, dict) else {}
    return (event_id, model, version, prediction, score, ts_ms, variant, request_id,
            monitor.segments.lookup(seg or None, feats))

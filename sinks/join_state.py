"""Rebuilding the label join of a partition from the event tables, instead of checkpointing it.

At a checkpoint every event the worker processed is already in ``predictions`` and
``feedback`` (the writer is flushed first), each row carrying its Kafka partition and
offset. So the join's pending entries at that checkpoint are exactly: the predictions of
the partition below the checkpoint offset whose feedback was not yet read, and the feedback
below its offset whose prediction was not yet read, within the join's event-time horizon.
Reading them back on restore keeps every checkpoint small however many labels are pending.
"""

from __future__ import annotations

from .store import Store

__all__ = ["load_pending_join"]

_PREDICTIONS = """
SELECT event_id, model, version, prediction, prediction_num, score, ts_ms, variant, request_id{extra}
FROM predictions FINAL
WHERE kafka_partition = %(p)s AND kafka_offset < %(po)s AND ts_ms >= %(horizon)s
  AND event_id NOT IN (
      SELECT event_id FROM feedback FINAL WHERE kafka_partition = %(p)s AND kafka_offset < %(fo)s)
ORDER BY kafka_offset DESC
LIMIT %(limit)s
"""

_FEEDBACK = """
SELECT event_id, model, label, ts_ms
FROM feedback FINAL
WHERE kafka_partition = %(p)s AND kafka_offset < %(fo)s AND ts_ms >= %(horizon)s
  AND event_id NOT IN (
      SELECT event_id FROM predictions FINAL WHERE kafka_partition = %(p)s AND kafka_offset < %(po)s)
ORDER BY kafka_offset DESC
LIMIT %(limit)s
"""


def load_pending_join(store: Store, *, partition: int, predictions_offset: int, feedback_offset: int,
                      horizon_ms: int, limit: int, segments: bool = False) -> tuple[list[tuple], list[tuple]]:
    """Pending ``(event_id, model, version, prediction, score, ts_ms, variant, request_id)`` and
    ``(event_id, model, label, ts_ms)`` rows of a partition at the given checkpoint offsets, oldest first.
    With ``segments``, each prediction row also holds its stored ``segment`` and ``features`` JSON texts
    (the groups its label counts in)."""
    params = {"p": partition, "po": predictions_offset, "fo": feedback_offset, "horizon": horizon_ms,
              "limit": limit}
    sql = _PREDICTIONS.format(extra=", segment, features" if segments else "")
    predictions = [
        (event_id, model, version, prediction if prediction != "" else prediction_num, score, ts_ms, *extra)
        for event_id, model, version, prediction, prediction_num, score, ts_ms, *extra in store.execute(sql, params)
    ]
    feedback = [tuple(row) for row in store.execute(_FEEDBACK, params)]
    predictions.reverse()
    feedback.reverse()
    return predictions, feedback

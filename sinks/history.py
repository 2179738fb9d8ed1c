"""Reading a partition's stored events back, oldest offset first, to rebuild its state.

A version-1 checkpoint (a pickle) is never loaded; the worker rebuilds the partition by
replaying what the event tables hold below the checkpoint's offsets. Two slices are read:

* the **warm-up**: the first ``warmup[model]`` predictions (by offset) of each version of
  the models whose reference is built in-stream, so the same reference comes out;
* the **horizon**: every prediction and every feedback row of the newest ``horizon_ms`` of
  event time (measured back from the newest stored prediction below the offsets), enough
  for the open windows and the history the drift and alert state depend on.

Rows come in pages of ``page_rows`` so memory stays bounded however long the horizon is.
Prediction rows are ``(kafka_offset, event_id, model, version, ts_ms, features, prediction,
prediction_num, score, latency_ms, variant, segment)``; feedback rows are ``(kafka_offset,
event_id, model, ts_ms, label, label_num)``. Events that shared one Kafka message share its
offset and come in ``event_id`` order.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from typing import Any

from .store import Store

__all__ = ["PREDICTION_COLUMNS", "FEEDBACK_COLUMNS", "read_partition_history"]

PREDICTION_COLUMNS = ("kafka_offset", "event_id", "model", "version", "ts_ms", "features", "prediction",
                      "prediction_num", "score", "latency_ms", "variant", "segment")
FEEDBACK_COLUMNS = ("kafka_offset", "event_id", "model", "ts_ms", "label", "label_num")

_NEWEST = """
SELECT max(ts_ms), count()
FROM predictions
WHERE kafka_partition = %(p)s AND kafka_offset < %(end)s
"""

_PAGE = """
SELECT {columns}
FROM {table} FINAL
WHERE kafka_partition = %(p)s AND kafka_offset >= %(start)s AND kafka_offset < %(end)s AND ts_ms >= %(since)s
ORDER BY kafka_offset, event_id
LIMIT %(limit)s
"""

_WARMUP = """
SELECT {columns}
FROM predictions FINAL
WHERE kafka_partition = %(p)s AND kafka_offset < %(end)s AND ts_ms < %(since)s AND model IN %(models)s
ORDER BY kafka_offset, event_id
LIMIT %(n)s BY model, version
"""


def read_partition_history(store: Store, *, partition: int, predictions_offset: int, feedback_offset: int,
                           horizon_ms: int, warmup: Mapping[str, int], page_rows: int = 50_000,
                           ) -> tuple[Iterator[tuple], Iterator[tuple]]:
    """Prediction and feedback rows of ``partition`` below the given offsets, each in offset order."""
    (newest, count), = store.execute(_NEWEST, {"p": partition, "end": predictions_offset})
    if not count:
        return iter(()), iter(())
    since = int(newest) - horizon_ms
    predictions = _pages(store, "predictions", PREDICTION_COLUMNS, partition, predictions_offset, since, page_rows)
    if warmup:
        early = _warmup(store, partition, predictions_offset, since, warmup)
        predictions = heapq.merge(early, predictions, key=lambda row: row[0])
    feedback = _pages(store, "feedback", FEEDBACK_COLUMNS, partition, feedback_offset, since, page_rows)
    return predictions, feedback


def _pages(store: Store, table: str, columns: tuple[str, ...], partition: int, end: int, since: int,
           page_rows: int) -> Iterator[tuple]:
    sql = _PAGE.format(columns=", ".join(columns), table=table)
    start = 0
    while start < end:
        rows = store.execute(sql, {"p": partition, "start": start, "end": end, "since": since, "limit": page_rows})
        if len(rows) < page_rows:
            yield from rows
            return
        last = rows[-1][0]
        if rows[0][0] == last:  # one message holds a whole page of events: take that offset in full
            yield from store.execute(sql, {"p": partition, "start": last, "end": last + 1, "since": since,
                                           "limit": 2**62})
            start = last + 1
        else:  # the last offset may continue on the next page: the next page starts with it
            yield from (row for row in rows if row[0] < last)
            start = last


def _warmup(store: Store, partition: int, end: int, since: int, warmup: Mapping[str, int]) -> list[tuple[Any, ...]]:
    rows = store.execute(_WARMUP.format(columns=", ".join(PREDICTION_COLUMNS)),
                         {"p": partition, "end": end, "since": since, "models": tuple(warmup), "n": max(warmup.values())})
    taken: dict[tuple[str, str], int] = {}
    out = []
    for row in rows:  # LIMIT BY took the largest warm-up of all models: trim each to its own
        key = (row[2], row[3])
        taken[key] = taken.get(key, 0) + 1
        if taken[key] <= warmup[row[2]]:
            out.append(row)
    return out

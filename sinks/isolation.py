"""Finding the rows a store refuses, so that the rest of their batch is stored.

When an insert raises :class:`~driftline.sinks.errors.StoreRejected`, the batch is split and
its parts are inserted again:

* **too many partitions** for one insert: the rows are split by the month their table is
  partitioned by, half of the months in each part, until each part is accepted. Every row
  is stored; only the batch was at fault.
* **anything else**: the rows are split in halves, down to the single rows the store
  refuses. Finding ``k`` bad rows among ``n`` takes about ``2k·log2(n/k)`` inserts.

The work is bounded: after ``max_inserts`` inserts, each part still pending is tried once
more and, if refused again, all its rows are rejected with the store's message (good rows
among them too). A retriable error stops the search and propagates: the caller retries the
whole batch later, and the rows already stored are stored again, which the
ReplacingMergeTree tables absorb.

A refused row becomes a dead letter (:func:`rejected_letter`) with reason ``store_rejected``:
an event row keeps its topic, partition and offset; a result row (``window_metrics``,
``drift_results``, ``alerts``) has no topic and its partition is the one that computed it.
The payload is the row as JSON (column -> value), the detail names the table, the row's key
and the store's message.

>>> from driftline.sinks.errors import StoreRejected
>>> stored = []
>>> def insert(table, columns):
...     if -1 in columns["ts"]:
...         raise StoreRejected("Code: 321. Value out of range", code=321)
...     stored.extend(columns["ts"])
>>> rejected = insert_isolating(insert, "feedback", {"ts": [10, 20, -1, 40]})
>>> sorted(stored), [(r.row, r.code) for r in rejected]
([10, 20, 40], [({'ts': -1}, 321)])
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import StoreRejected

__all__ = ["MAX_ISOLATION_INSERTS", "PARTITION_COLUMNS", "RejectedLetter", "RejectedRow", "insert_isolating",
           "partition_month", "rejected_letter"]

MAX_ISOLATION_INSERTS = 256
# The column whose toYYYYMM() partitions each table (sinks/schema).
PARTITION_COLUMNS = {
    "predictions": "ts", "feedback": "ts", "dead_letters": "ts", "alert_deliveries": "ts",
    "window_metrics": "window_start", "drift_results": "window_start", "alerts": "window_start",
    "segment_metrics": "window_start", "fairness_results": "window_start",
}
# The columns that identify a row (the tables' ReplacingMergeTree keys), named in its dead letter.
KEY_COLUMNS = {
    "predictions": ("model", "event_id"), "feedback": ("model", "event_id"),
    "window_metrics": ("model", "version", "metric", "window_start", "kafka_partition"),
    "drift_results": ("model", "version", "feature", "test", "window_start", "kafka_partition"),
    "alerts": ("model", "version", "alert_id"),
    "segment_metrics": ("model", "version", "segment_key", "metric", "window_start", "segment_value",
                        "kafka_partition"),
    "fairness_results": ("model", "version", "sensitive_key", "measure", "window_start", "kafka_partition"),
}
MAX_KEY_VALUE_CHARS = 200


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """One row the store refused, as column -> value, with the store's message."""

    table: str
    row: dict[str, Any]
    message: str
    code: int | None


def insert_isolating(insert: Callable[[str, Mapping[str, Sequence[Any]]], None], table: str,
                     columns: Mapping[str, Sequence[Any]], *,
                     max_inserts: int = MAX_ISOLATION_INSERTS) -> list[RejectedRow]:
    """Insert ``columns`` into ``table`` through ``insert``; returns the rows the store refused."""
    if max_inserts < 1:
        raise ValueError(f"max_inserts must be >= 1, got {max_inserts}")
    n = len(next(iter(columns.values()))) if columns else 0
    pending: deque[Sequence[int]] = deque([range(n)])
    rejected: list[RejectedRow] = []
    inserts = 0
    while pending:
        chunk = pending.popleft()
        inserts += 1
        try:
            insert(table, columns if len(chunk) == n else _take(columns, chunk))
            continue
        except StoreRejected as exc:
            error = exc
        parts = _by_month(columns, chunk, PARTITION_COLUMNS.get(table)) if error.too_many_partitions else None
        if parts is None and len(chunk) > 1 and inserts < max_inserts:
            parts = (chunk[:len(chunk) // 2], chunk[len(chunk) // 2:])
        if parts is not None and inserts < max_inserts:
            pending.extend(parts)
        else:
            message = str(error)
            rejected += [RejectedRow(table, {name: values[i] for name, values in columns.items()}, message,
                                     error.code) for i in chunk]
    return rejected


def partition_month(value: Any) -> int | None:
    """``year * 12 + month`` of an epoch-seconds int or a datetime (the table's toYYYYMM), else None.

    >>> divmod(partition_month(1_700_000_000) - 1, 12), divmod(partition_month(-86_400) - 1, 12)
    ((2023, 10), (1969, 11))
    """
    if isinstance(value, datetime):
        return value.year * 12 + value.month
    if isinstance(value, int):
        # Days to the civil calendar (H. Hinnant's algorithm): exact for any int, unlike gmtime().
        z = value // 86_400 + 719_468
        era = z // 146_097
        doe = z - era * 146_097
        yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
        doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
        mp = (5 * doy + 2) // 153
        month = mp + 3 if mp < 10 else mp - 9
        return (yoe + era * 400 + (month <= 2)) * 12 + month
    return None


def _by_month(columns: Mapping[str, Sequence[Any]], chunk: Sequence[int],
              column: str | None) -> tuple[list[int], list[int]] | None:
    """The chunk's rows in two parts, each holding half of its partition months; None if it has one."""
    if column is None or column not in columns:
        return None
    values = columns[column]
    months = {i: partition_month(values[i]) for i in chunk}
    distinct = sorted(set(months.values()), key=lambda m: (m is None, m or 0))
    if len(distinct) < 2:
        return None
    first = set(distinct[:len(distinct) // 2])
    return [i for i in chunk if months[i] in first], [i for i in chunk if months[i] not in first]


def _take(columns: Mapping[str, Sequence[Any]], chunk: Sequence[int]) -> dict[str, list]:
    if isinstance(chunk, range) and chunk.step == 1:
        return {name: list(values[chunk.start:chunk.stop]) for name, values in columns.items()}
    return {name: [values[i] for i in chunk] for name, values in columns.items()}


@dataclass(frozen=True, slots=True)
class RejectedLetter:
    """A refused row as a dead letter (a :class:`~driftline.sinks.rows.DeadLetterRecord`)."""

    topic: str
    partition: int
    offset: int
    reason: str
    detail: str
    payload: bytes
    ts_ms: int
    table: str


def rejected_letter(rejected: RejectedRow, *, topics: Mapping[str, str]) -> RejectedLetter:
    """The dead letter of a refused row; ``topics`` maps an event table to the topic its rows come from.

    >>> row = RejectedRow("feedback", {"event_id": "e1", "model": "m", "kafka_partition": 2,
    ...                   "kafka_offset": 7, "ts": -1}, "Code: 321. out of range", 321)
    >>> letter = rejected_letter(row, topics={"feedback": "driftline.feedback"})
    >>> letter.topic, letter.partition, letter.offset, letter.reason, letter.table
    ('driftline.feedback', 2, 7, 'store_rejected', 'feedback')
    >>> letter.detail
    "feedback row model='m' event_id='e1' refused: Code: 321. out of range"
    """
    row = rejected.row
    key = " ".join(f"{name}={_short(row[name])}" for name in KEY_COLUMNS.get(rejected.table, ()) if name in row)
    detail = f"{rejected.table} row {key} refused: {rejected.message}" if key else \
        f"{rejected.table} row refused: {rejected.message}"
    payload = json.dumps({name: _plain(value) for name, value in row.items()}, default=str,
                         ensure_ascii=False).encode()
    partition = row.get("kafka_partition")
    return RejectedLetter(topic=topics.get(rejected.table, ""), partition=partition if isinstance(partition, int) else 0,
                          offset=row.get("kafka_offset", 0) if rejected.table in topics else 0,
                          reason="store_rejected", detail=detail, payload=payload, ts_ms=0, table=rejected.table)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_KEY_VALUE_CHARS else text[:MAX_KEY_VALUE_CHARS] + "..."


def _plain(value: Any) -> Any:
    """Strict JSON has no NaN or Infinity: a non-finite float is written as its name."""
    return str(value) if isinstance(value, float) and not math.isfinite(value) else value

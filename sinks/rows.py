"""Rows of the event tables (``predictions``, ``feedback``, ``dead_letters``), built column by column.

The hot path appends whole batches: one list comprehension per column beats a
loop of per-row appends, and no per-row dict is ever built. A builder holds one
consumed batch; :meth:`~driftline.sinks.writer.EventWriter.add_rows` moves it into
the writer's buffer. The column names and how a value is stored (a class label
as its canonical string, a timestamp as seconds and milliseconds) live here only.

>>> from types import SimpleNamespace
>>> dead = SimpleNamespace(topic="p", partition=0, offset=7, reason="invalid_json", detail="bad",
...                        payload=b"{", ts_ms=0)
>>> rows = DeadLetterRows()
>>> rows.add([dead], now_s=1_700_000_000)
>>> len(rows), rows.columns()["ts"], rows.columns()["payload_bytes"], rows.columns()["truncated"]
(1, [1700000000], [1], [0])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import msgspec
from driftline.detectors import label_key

__all__ = ["DeadLetterRecord", "DeadLetterRows", "FeedbackRecord", "FeedbackRows", "PredictionRecord",
           "PredictionRows", "TableRows"]

MAX_DEAD_LETTER_STORED_BYTES = 65_536
MAX_DEAD_LETTER_STORED_DETAIL = 2_000

_NAN = float("nan")
_json = msgspec.json.Encoder()


class TableRows(Protocol):
    """A batch of rows of one table, as columns of equal length."""

    table: str

    def columns(self) -> dict[str, list]: ...

    def __len__(self) -> int: ...


class PredictionRecord(Protocol):
    """The fields of a decoded prediction event the ``predictions`` table stores."""

    event_id: str
    features: Any  # the producer's JSON text (msgspec.Raw), stored as is
    prediction: float | str
    score: float | None
    latency_ms: float | None
    variant: str | None
    segment: dict[str, str] | None
    request_id: str | None


class FeedbackRecord(Protocol):
    event_id: str
    model: str
    label: float | str


class DeadLetterRecord(Protocol):
    """A dead letter: an event the worker could not take (or a row the store refused, which also
    has a ``table`` attribute naming the table)."""

    topic: str
    partition: int
    offset: int
    reason: str
    detail: str
    payload: bytes
    ts_ms: int  # broker timestamp, 0 when unknown


class PredictionRows:
    table = "predictions"
    __slots__ = ("event_id", "model", "version", "ts", "ts_ms", "features", "prediction", "prediction_num",
                 "score", "latency_ms", "variant", "segment", "kafka_partition", "kafka_offset", "request_id")

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, [])

    def __len__(self) -> int:
        return len(self.event_id)

    def add(self, events: Sequence[PredictionRecord], ts_ms: list[int], origins: Sequence[tuple[int, int]],
            model: str, version: str, *, classification: bool) -> None:
        """Events of one model version with their event times (ms) and ``(partition, offset)`` origins.

        A classifier's prediction is stored as its label key; a regressor's in ``prediction_num`` only.
        """
        n = len(events)
        encode = _json.encode
        predictions = [e.prediction for e in events]
        self.event_id += [e.event_id for e in events]
        self.model += [model] * n
        self.version += [version] * n
        self.ts += [t // 1000 for t in ts_ms]
        self.ts_ms += ts_ms
        self.features += [bytes(e.features).decode() for e in events]
        self.prediction += [label_key(p) for p in predictions] if classification else [""] * n
        self.prediction_num += [p if type(p) is float else _NAN for p in predictions]
        self.score += [e.score for e in events]
        self.latency_ms += [e.latency_ms for e in events]
        self.variant += [e.variant or "" for e in events]
        self.segment += [encode(e.segment).decode() if e.segment else "{}" for e in events]
        self.kafka_partition += [o[0] for o in origins]
        self.kafka_offset += [o[1] for o in origins]
        self.request_id += [e.request_id or "" for e in events]

    def columns(self) -> dict[str, list]:
        return {name: getattr(self, name) for name in self.__slots__}


class FeedbackRows:
    table = "feedback"
    __slots__ = ("event_id", "model", "ts", "ts_ms", "label", "label_num", "kafka_partition", "kafka_offset")

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, [])

    def __len__(self) -> int:
        return len(self.event_id)

    def add(self, events: Sequence[FeedbackRecord], ts_ms: list[int], origins: Sequence[tuple[int, int]]) -> None:
        labels = [e.label for e in events]
        self.event_id += [e.event_id for e in events]
        self.model += [e.model for e in events]
        self.ts += [t // 1000 for t in ts_ms]
        self.ts_ms += ts_ms
        self.label += [label_key(v) for v in labels]
        self.label_num += [v if isinstance(v, float) else _NAN for v in labels]
        self.kafka_partition += [o[0] for o in origins]
        self.kafka_offset += [o[1] for o in origins]

    def columns(self) -> dict[str, list]:
        return {name: getattr(self, name) for name in self.__slots__}


class DeadLetterRows:
    """Dead letters as stored: payload and detail cut (the topic keeps the payload whole, unless
    it is over the broker's limit: then ``truncated`` is 1 and so is the topic's copy)."""

    table = "dead_letters"
    __slots__ = ("topic", "kafka_partition", "kafka_offset", "reason", "detail", "payload", "payload_bytes", "ts",
                 "truncated", "store_table")

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, [])

    def __len__(self) -> int:
        return len(self.topic)

    def add(self, dead: Sequence[DeadLetterRecord], *, now_s: int, truncated: Sequence[bool] = ()) -> None:
        """``now_s`` stands in for the broker timestamp where it is unknown; ``truncated`` says, per
        dead letter, whether its message on the topic holds a cut payload (default: none does)."""
        self.topic += [d.topic for d in dead]
        self.kafka_partition += [d.partition for d in dead]
        self.kafka_offset += [d.offset for d in dead]
        self.reason += [d.reason for d in dead]
        self.detail += [d.detail[:MAX_DEAD_LETTER_STORED_DETAIL] for d in dead]
        self.payload += [d.payload[:MAX_DEAD_LETTER_STORED_BYTES].decode("utf-8", errors="backslashreplace")
                         for d in dead]
        self.payload_bytes += [len(d.payload) for d in dead]
        self.ts += [d.ts_ms // 1000 if d.ts_ms else now_s for d in dead]
        self.truncated += [int(bool(t)) for t in truncated] if truncated else [0] * len(dead)
        self.store_table += [getattr(d, "table", "") for d in dead]

    def columns(self) -> dict[str, list]:
        return {name: getattr(self, name) for name in self.__slots__}

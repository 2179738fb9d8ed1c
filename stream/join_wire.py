"""The join topic's message: one per (source partition, join partition) and batch, records as binary rows.

Format 2 (format 1, JSON lists per record, was never released)::

    byte 0         the format, 2: a message with another first byte is dead-lettered, never guessed
    bytes 1-4      h, the header's length (little-endian uint32)
    bytes 5..5+h   the header, JSON: {"source": s, "p": n_p, "l": n_l, "mv": [[model, version], ...],
                   "models": [model, ...], "values": [value, ...], "groups": [[group, ...], ...],
                   "marks": {model: mark}}
    then           n_p rows of PREDICTION, then n_l rows of LABEL (packed, little-endian)

A row's ``k1, k2`` is the 128-bit key (:func:`~driftline.stream.join_topic.join_keys`), ``offset``
its event's offset in the source partition (duplicates are dropped by it), ``mv``/``model``/``groups``
index the header's tables (``groups`` -1: none). A prediction or label is ``kind, num, obj`` as the
join keeps it (:mod:`~driftline.stream.join_values`): a float, an int (exact to 2^53) or a bool in
``num``, anything else in the header's ``values`` (``obj``); a score is a float, NaN for none.
61 bytes per prediction and 49 per label, against about 100 and 70 as JSON lists; the per-record
Python work of format 1 (a list built, encoded, decoded, filtered) is a few numpy operations per message.

>>> batch = JoinBatch()
>>> rows = prediction_rows(np.array([7]), np.array([8]), np.array([1_000]), np.array([42]), [1.0], [None])
>>> batch.add_predictions(rows, np.array([0]), "m", "v1", None)
>>> batch.marks = {"m": 0}
>>> message = decode(batch.encode(3))
>>> message.source, message.mv, message.predictions["offset"].tolist(), message.marks
(3, [('m', 'v1')], [42], {'m': 0})
>>> values(message.predictions, message.values), optional_scores(message.predictions["score"])
([1.0], [None])
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
import numpy as np

from .join_values import Codes, optional_scores, scores_column

__all__ = ["JOIN_FORMAT", "LABEL", "PREDICTION", "JoinBatch", "JoinMessage", "decode", "label_rows",
           "optional_scores", "prediction_rows", "values"]

JOIN_FORMAT = 2
_VALUE = [("num", "<f8"), ("obj", "<i4"), ("kind", "i1")]
_KEY = [("k1", "<i8"), ("k2", "<i8"), ("ts", "<i8"), ("offset", "<i8")]
PREDICTION = np.dtype([*_KEY, ("score", "<f8"), *_VALUE, ("mv", "<i4"), ("groups", "<i4")])
LABEL = np.dtype([*_KEY, *_VALUE, ("model", "<i4")])
_FLOAT, _INT, _BOOL, _OBJECT = 0, 1, 2, 3
_EXACT_INT = 2 ** 53
_HEAD = struct.Struct("<BI")
_SCALARS = {str, int, float, bool, type(None)}
_encoder = msgspec.json.Encoder()


def _value_columns(rows: np.ndarray, items: Sequence) -> list | None:
    """Fill ``kind`` and ``num`` of ``rows`` from ``items``; the objects (by row) when some are not numbers."""
    types = set(map(type, items))
    if types <= {float}:
        rows["kind"], rows["num"] = _FLOAT, items
        return None
    if types <= {str}:
        rows["kind"] = _OBJECT
        return list(items)
    objects = []
    for i, v in enumerate(items):
        t = type(v)
        if t is float or t is bool or (t is int and -_EXACT_INT <= v <= _EXACT_INT):
            rows["kind"][i], rows["num"][i] = _FLOAT if t is float else _BOOL if t is bool else _INT, v
            objects.append(None)
        else:
            rows["kind"][i] = _OBJECT
            objects.append(v)
    return objects


def _rows(dtype: np.dtype, k1, k2, ts, offsets, items) -> tuple[np.ndarray, list | None]:
    rows = np.zeros(len(k1), dtype)
    rows["k1"], rows["k2"], rows["ts"], rows["offset"] = k1, k2, ts, offsets
    return rows, _value_columns(rows, items)


def prediction_rows(k1, k2, ts, offsets, predictions: Sequence, scores: Sequence) -> tuple[np.ndarray, list | None]:
    """Rows of one model version's predictions (``mv`` and ``groups`` set per message) and their objects."""
    rows, objects = _rows(PREDICTION, k1, k2, ts, offsets, predictions)
    rows["score"] = scores_column(scores)
    return rows, objects


def label_rows(k1, k2, ts, offsets, labels: Sequence) -> tuple[np.ndarray, list | None]:
    return _rows(LABEL, k1, k2, ts, offsets, labels)


@dataclass
class JoinBatch:
    """The records of one (source, join partition) of a batch, and the source's marks, to encode."""

    predictions: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)
    marks: dict[str, int] = field(default_factory=dict)
    mv: Codes = field(default_factory=Codes)
    models: Codes = field(default_factory=Codes)
    values: Codes = field(default_factory=Codes)
    groups: Codes = field(default_factory=Codes)

    def add_predictions(self, rows: tuple[np.ndarray, list | None], take: np.ndarray, model: str, version: str,
                        groups: Sequence | None) -> None:
        """``take``: which of ``rows`` (:func:`prediction_rows`) come here; ``groups``: each row's segment groups."""
        chunk = self._take(rows, take)
        chunk["mv"] = self.mv.code((model, version))
        if groups is None:
            chunk["groups"] = -1
        else:
            code = self.groups.code
            chunk["groups"] = [-1 if g is None else code(g) for g in map(groups.__getitem__, take.tolist())]
        self.predictions.append(chunk)

    def add_labels(self, rows: tuple[np.ndarray, list | None], take: np.ndarray, models: Sequence[str] | str) -> None:
        """``models``: each row's model, or the one model of them all."""
        chunk = self._take(rows, take)
        chunk["model"] = self.models.code(models) if isinstance(models, str) else \
            self.models.codes([models[i] for i in take.tolist()])
        self.labels.append(chunk)

    def _take(self, rows: tuple[np.ndarray, list | None], take: np.ndarray) -> np.ndarray:
        all_rows, objects = rows
        chunk = all_rows[take]
        if objects is not None:
            mine = np.flatnonzero(chunk["kind"] == _OBJECT)
            chunk["obj"][mine] = self.values.codes([objects[i] for i in take[mine].tolist()])
        return chunk

    def encode(self, source: int) -> bytes:
        p = np.concatenate(self.predictions) if self.predictions else np.empty(0, PREDICTION)
        lab = np.concatenate(self.labels) if self.labels else np.empty(0, LABEL)
        header = _encoder.encode({"source": source, "p": len(p), "l": len(lab), "mv": self.mv.values,
                                  "models": self.models.values, "values": self.values.values,
                                  "groups": self.groups.values, "marks": self.marks})
        return b"".join((_HEAD.pack(JOIN_FORMAT, len(header)), header, p.tobytes(), lab.tobytes()))


@dataclass(frozen=True)
class JoinMessage:
    source: int
    predictions: np.ndarray  # PREDICTION rows
    labels: np.ndarray  # LABEL rows
    mv: list[tuple[str, str]]
    models: list[str]
    values: list
    groups: list[tuple]
    marks: dict[str, int]


def decode(value: bytes) -> JoinMessage:
    """A join message; ValueError (with why) for another format or a malformed one."""
    if not value or value[0] != JOIN_FORMAT:
        raise ValueError(f"join message format {value[0] if value else None!r} is not {JOIN_FORMAT}")
    if len(value) < _HEAD.size:
        raise ValueError("join message: truncated header")
    _, size = _HEAD.unpack_from(value)
    try:
        h = msgspec.json.decode(value[_HEAD.size:_HEAD.size + size])
        source, n_p, n_l = int(h["source"]), int(h["p"]), int(h["l"])
        mv = [(str(m), str(v)) for m, v in h["mv"]]
        models, groups = [str(m) for m in h["models"]], [tuple(g) for g in h["groups"]]
        marks = {str(m): int(w) for m, w in h["marks"].items()}
        table = list(h["values"])
    except (msgspec.DecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"join message header: {exc}") from exc
    # Values and groups become the join's keys and the segment windows' groups: scalars only.
    if not all(type(v) in _SCALARS for v in table) or not all(type(v) in _SCALARS for g in groups for v in g):
        raise ValueError("join message header: a value or a group is not a scalar")
    start = _HEAD.size + size
    if n_p < 0 or n_l < 0 or len(value) != start + n_p * PREDICTION.itemsize + n_l * LABEL.itemsize:
        raise ValueError(f"join message: {len(value)} bytes do not hold {n_p} predictions and {n_l} labels")
    p = np.frombuffer(value, PREDICTION, n_p, start)
    lab = np.frombuffer(value, LABEL, n_l, start + n_p * PREDICTION.itemsize)
    for rows, column, n in ((p, "mv", len(mv)), (lab, "model", len(models)), (p, "groups", len(groups))):
        codes = rows[column]
        if len(codes) and (codes.max() >= n or codes.min() < (-1 if column == "groups" else 0)):
            raise ValueError(f"join message: a {column} code is out of its table")
    for rows in (p, lab):
        kinds, objs = rows["kind"], rows["obj"]
        bad = (kinds < _FLOAT) | (kinds > _OBJECT) | ((kinds == _OBJECT) & ((objs < 0) | (objs >= len(table))))
        if bad.any():
            raise ValueError("join message: a value is out of its table")
    return JoinMessage(source, p, lab, mv, models, table, groups, marks)


def values(rows: np.ndarray, table: list) -> list:
    """The predictions or labels of ``rows``, each of its type."""
    kinds = rows["kind"]
    if not len(kinds):
        return []
    first = int(kinds[0])
    if (kinds == first).all():
        if first == _FLOAT:
            return rows["num"].tolist()
        if first == _OBJECT:
            return [table[c] for c in rows["obj"].tolist()]
    out = []
    for kind, num, obj in zip(kinds.tolist(), rows["num"].tolist(), rows["obj"].tolist(), strict=True):
        out.append(num if kind == _FLOAT else int(num) if kind == _INT else bool(num) if kind == _BOOL
                   else table[obj])
    return out

"""How the label join keeps predictions and labels in fixed-width columns, each of its type.

A value is a float, an int (exact up to 2^53), a bool, or anything else (a string, a larger
int), kept once in a small table and referred to by its code. Three columns hold it: ``kind``,
``num`` (the number) and ``obj`` (the code). Scores are a float column, NaN for none.

>>> codes = ValueCodes()
>>> columns = codes.encode([1.0, 2, True, "yes", 2 ** 60])
>>> columns["kind"].tolist(), codes.decode(columns)
([0, 1, 2, 3, 3], [1.0, 2, True, 'yes', 1152921504606846976])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["VALUE_COLUMNS", "Codes", "ValueCodes", "optional_scores", "scores_column"]

VALUE_COLUMNS = {"kind": np.int8, "num": np.float64, "obj": np.int32}
_EXACT_INT = 2 ** 53
_FLOAT, _INT, _BOOL, _OBJECT = 0, 1, 2, 3


class Codes:
    """A small table: a value <-> its code (models, (model, version) pairs, string labels)."""

    def __init__(self) -> None:
        self.values: list = []
        self._codes: dict = {}

    def code(self, value) -> int:
        code = self._codes.get(value)
        if code is None:
            code = self._codes[value] = len(self.values)
            self.values.append(value)
        return code

    def codes(self, values: Sequence) -> np.ndarray:
        get = self._codes.get
        out = [get(v) for v in values]
        if None in out:
            out = [self.code(v) for v in values]
        return np.array(out, dtype=np.int32)


def _typed_code(values: Codes, v) -> tuple[int, float, int]:
    t = type(v)
    if t is float:
        return _FLOAT, v, -1
    if t is bool:
        return _BOOL, float(v), -1
    if t is int and -_EXACT_INT <= v <= _EXACT_INT:
        return _INT, float(v), -1
    return _OBJECT, 0.0, values.code(v)


class ValueCodes(Codes):
    """Codes of the values that are not numbers, and the value columns of a batch."""

    def encode(self, values: Sequence) -> dict[str, np.ndarray]:
        """The value columns of ``values``."""
        n = len(values)
        types = set(map(type, values))
        if types == {float}:
            return {"kind": np.zeros(n, np.int8), "num": np.array(values, np.float64), "obj": np.full(n, -1, np.int32)}
        if types == {str}:
            return {"kind": np.full(n, _OBJECT, np.int8), "num": np.zeros(n), "obj": self.codes(values)}
        kind, num, obj = zip(*(_typed_code(self, v) for v in values), strict=True) if n else ((), (), ())
        return {"kind": np.array(kind, np.int8), "num": np.array(num, np.float64), "obj": np.array(obj, np.int32)}

    def decode(self, rows: Mapping[str, np.ndarray]) -> list:
        """The values of rows with the value columns, each of its original type."""
        kinds, nums, objs = rows["kind"], rows["num"], rows["obj"]
        if not len(kinds):
            return []
        if (kinds == _FLOAT).all():
            return nums.tolist()
        values = self.values
        out = []
        for kind, num, obj in zip(kinds.tolist(), nums.tolist(), objs.tolist(), strict=True):
            out.append(num if kind == _FLOAT else int(num) if kind == _INT else bool(num) if kind == _BOOL
                       else values[obj])
        return out


def scores_column(scores: Sequence) -> np.ndarray:
    """Scores as floats, NaN for none."""
    if None not in scores:
        return np.array(scores, dtype=np.float64)
    return np.array([np.nan if s is None else s for s in scores], dtype=np.float64)


def optional_scores(scores: np.ndarray) -> list:
    """Scores back, None for NaN."""
    return [None if s != s else s for s in scores.tolist()]

"""Turn a group of decoded prediction events into numpy columns, one per feature.

This is the only per-event Python loop of the hot path after decoding; the
detectors then work on whole arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter

import numpy as np
from driftline.detectors import boolean_key, label_key

__all__ = ["PREDICTION_COLUMNS", "FeatureColumns", "build_columns", "detector_kinds", "label_key",
           "monitored_kinds"]

# Besides the features, a version is tested on these, like features (prediction drift).
PREDICTION_COLUMNS = ("prediction", "score")

_NAN = float("nan")


@dataclass(slots=True)
class FeatureColumns:
    columns: dict[str, np.ndarray]
    type_errors: dict[str, int]
    ts_ms: np.ndarray
    latency_ms: np.ndarray  # NaN where absent
    score: np.ndarray  # NaN where absent
    prediction: list  # as sent: float or str


def detector_kinds(kinds: Mapping[str, str]) -> dict[str, str]:
    """The detectors' kind of each configured feature: a ``boolean`` is a categorical feature
    whose values are canonical keys ("1"/"0")."""
    return {name: "categorical" if kind == "boolean" else kind for name, kind in kinds.items()}


def monitored_kinds(features: Mapping[str, str], task: str) -> dict[str, str]:
    """The detectors' kind of every column a version of a model is tested on: its features, then
    ``prediction`` (categorical, a class label, for classifiers; numeric for regression) and, for a
    binary classifier, ``score``. A reference (warm-up, file or profile) is built with these kinds.

    >>> monitored_kinds({"amount": "numeric", "has_cosigner": "boolean"}, "binary_classification")
    {'amount': 'numeric', 'has_cosigner': 'categorical', 'prediction': 'categorical', 'score': 'numeric'}
    """
    kinds = {**detector_kinds(features), "prediction": "numeric" if task == "regression" else "categorical"}
    if task == "binary_classification":
        kinds["score"] = "numeric"
    return kinds


def build_columns(events: Sequence, ts_ms: Sequence[int], kinds: Mapping[str, str],
                  feature_maps: Sequence[Mapping] | None = None) -> FeatureColumns:
    """Numeric columns are float64 with NaN for missing; categorical and boolean are object arrays
    of str/None (a boolean's values are "1"/"0", as :func:`~driftline.detectors.boolean_key` gives).

    A value of the wrong kind (a string for a numeric feature, "maybe" for a boolean) counts as a
    type error and as missing.
    """
    columns: dict[str, np.ndarray] = {}
    type_errors: dict[str, int] = {}
    if feature_maps is None:
        feature_maps = [e.features for e in events]
    numeric = [n for n, k in kinds.items() if k == "numeric"]
    matrix = _numeric_matrix(feature_maps, numeric) if len(numeric) >= MATRIX_MIN_FEATURES else None
    text = [n for n, k in kinds.items() if k == "categorical"]
    text_matrix = _text_matrix(feature_maps, text) if len(text) >= MATRIX_MIN_FEATURES else None
    done = {**(dict(zip(numeric, matrix, strict=True)) if matrix is not None else {}),
            **(dict(zip(text, text_matrix, strict=True)) if text_matrix is not None else {})}
    raw_columns = _raw_columns(feature_maps, [n for n in kinds if n not in done])
    for name, kind in kinds.items():
        if name in done:
            values, errors = done[name], 0
        elif kind == "numeric":
            values, errors = _numeric(raw_columns[name])
        elif kind == "boolean":
            values, errors = _boolean(raw_columns[name])
        else:
            values, errors = _categorical(raw_columns[name])
        columns[name] = values
        if errors:
            type_errors[name] = errors
    return FeatureColumns(
        columns=columns,
        type_errors=type_errors,
        ts_ms=np.asarray(ts_ms, dtype=np.int64),
        latency_ms=np.array([_NAN if e.latency_ms is None else e.latency_ms for e in events], dtype=np.float64),
        score=np.array([_NAN if e.score is None else e.score for e in events], dtype=np.float64),
        prediction=[e.prediction for e in events],
    )


def _raw_columns(feature_maps: Sequence[Mapping], names: list[str]) -> dict[str, Sequence]:
    """Each feature's values as sent (None where absent), one sequence per name."""
    if len(names) > 1:
        # One C-level itemgetter call per event, then a C-level transpose; events missing a
        # feature fall back to dict.get. The columns are tuples: numpy and the converters take them as is.
        rows = _rows(feature_maps, names)
        return dict(zip(names, zip(*rows, strict=True), strict=True)) if rows else {n: () for n in names}
    return {n: [f.get(n) for f in feature_maps] for n in names}


def _rows(feature_maps: Sequence[Mapping], names: list[str]) -> list[tuple]:
    getter = itemgetter(*names)
    rows = []
    for f in feature_maps:
        try:
            rows.append(getter(f))
        except KeyError:
            rows.append(tuple(f.get(n) for n in names))
    return rows


# From this many numeric features, they are converted in one call to a (rows x features) matrix
# and transposed, instead of transposed as Python tuples and converted one column at a time:
# fewer passes over the values' objects (measured faster at 100 and 500 features, slower at 13).
MATRIX_MIN_FEATURES = 32


def _numeric_matrix(feature_maps: Sequence[Mapping], names: list[str]) -> np.ndarray | None:
    """The numeric features as one ``features x rows`` float64 array (each row a feature's column),
    or None when a value is not a number (then each column is converted apart, counting errors).
    The values are those :func:`_numeric`'s fast path gives: the same conversion, element by element."""
    if not feature_maps:
        return None
    try:
        matrix = np.array(_rows(feature_maps, names), dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return np.ascontiguousarray(matrix.T)


def _text_matrix(feature_maps: Sequence[Mapping], names: list[str]) -> np.ndarray | None:
    """The categorical features as one ``features x rows`` object array (each row a feature's
    column), or None when a value is not a string or None (then each column is converted apart).
    The values are those :func:`_categorical`'s fast path gives."""
    if not feature_maps:
        return None
    rows = _rows(feature_maps, names)
    if not _TEXT_OR_NONE.issuperset(map(type, chain.from_iterable(rows))):
        return None
    matrix = np.empty((len(rows), len(names)), dtype=object)
    matrix[:] = rows
    return np.ascontiguousarray(matrix.T)


def _numeric(raw: Sequence) -> tuple[np.ndarray, int]:
    try:
        # Fast path: floats, bools and None only.
        return np.array(raw, dtype=np.float64), 0
    except (TypeError, ValueError):
        pass
    errors = 0
    out = np.empty(len(raw), dtype=np.float64)
    for i, value in enumerate(raw):
        if value is None:
            out[i] = _NAN
        elif isinstance(value, str):
            out[i] = _NAN
            errors += 1
        else:
            out[i] = float(value)
    return out, errors


_TEXT_OR_NONE = frozenset({str, type(None)})


def _categorical(raw: Sequence) -> tuple[np.ndarray, int]:
    out = np.empty(len(raw), dtype=object)
    if _TEXT_OR_NONE.issuperset(map(type, raw)):  # the common case, checked in C: no per-value Python
        out[:] = raw
    else:
        out[:] = [v if v is None or isinstance(v, str) else label_key(v) for v in raw]
    return out, 0


def _boolean(raw: Sequence) -> tuple[np.ndarray, int]:
    out = np.empty(len(raw), dtype=object)
    out[:] = keys = [None if v is None else boolean_key(v) for v in raw]
    errors = sum(1 for v, k in zip(raw, keys, strict=True) if k is None and v is not None)
    return out, errors

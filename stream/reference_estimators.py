"""Performance estimators fitted on a reference file's outputs: ``score``, ``label``, ``prediction``.

A reference file may carry the model's outputs beside the features: ``score`` (binary: the
probability of the positive class; multiclass: the confidence in the predicted class), the
true ``label`` and the ``prediction``. In a JSONL row they are top-level keys (or inside
``features``). So that performance is estimated before the labels arrive, a profile carries

* for a classifier with ``score`` and ``label``: a :class:`~driftline.detectors.CBPEReference`
  (and ``prediction``; without it a binary prediction is ``score >= 0.5``). Labels and predictions are
  compared as the events' keys (:func:`~driftline.detectors.label_key`): a CSV ``1`` or ``1.0``
  is "1", ``true`` is "1";
* for a regression model with numeric ``prediction`` and ``label``: a
  :class:`~driftline.detectors.LossModel` (DLE) fitted on the features and the prediction.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
from driftline.detectors import (
    CBPE_TASKS,
    CBPEReference,
    LossModel,
    ReferenceProfile,
    boolean_key,
    label_key,
)
from driftline.settings import ModelSettings

__all__ = ["OUTPUT_COLUMNS", "cbpe_from_file", "check_estimation", "dle_from_file", "with_estimators"]

OUTPUT_COLUMNS = ("score", "label", "prediction")


def with_estimators(profile: ReferenceProfile, path: str | Path, task: str | None, positive_label: object,
                    features: Callable[[], Mapping[str, np.ndarray]]) -> ReferenceProfile:
    """``profile`` with the performance estimator its file's outputs allow for ``task``, if any;
    ``features()`` reads the file's feature columns (needed by DLE only)."""
    if task in CBPE_TASKS:
        cbpe = cbpe_from_file(path, task, positive_label)
        return profile if cbpe is None else replace(profile, cbpe=cbpe)
    if task == "regression":
        dle = dle_from_file(path, features)
        return profile if dle is None else replace(profile, dle=dle)
    return profile


def check_estimation(model: ModelSettings, profile: ReferenceProfile | None) -> None:
    """``estimate_performance: true`` needs a reference with the model's estimator."""
    if not model.estimate_performance:
        return
    if model.task == "regression":
        if profile is None or profile.dle is None:
            raise ValueError(f"model {model.name}: estimate_performance is true but its reference has no DLE "
                             "loss model (a reference file with prediction and label columns)")
    elif profile is None or profile.cbpe is None or profile.cbpe.task != model.task:
        raise ValueError(f"model {model.name}: estimate_performance is true but its reference has no "
                         f"{model.task} CBPE calibration (a reference file with score and label columns)")


def dle_from_file(path: str | Path, features: Callable[[], Mapping[str, np.ndarray]]) -> LossModel | None:
    """DLE fitted on the file's features, numeric ``prediction`` and ``label``; None without them."""
    raw = _output_columns(Path(path))
    if raw.get("prediction") is None or raw.get("label") is None:
        return None
    prediction = np.array([np.nan if (v := _number(p)) is None else v for p in raw["prediction"]])
    target = np.array([np.nan if (v := _number(y)) is None else v for y in raw["label"]])
    return LossModel.fit(features(), prediction, target)


def cbpe_from_file(path: str | Path, task: str, positive_label: object = 1) -> CBPEReference | None:
    """CBPE fitted on the file's ``score``/``label`` (and ``prediction``) columns; None without them."""
    raw = _output_columns(Path(path))
    if raw.get("score") is None or raw.get("label") is None:
        return None
    positive = label_key(positive_label)
    rows = [i for i, (s, y) in enumerate(zip(raw["score"], raw["label"], strict=True))
            if _number(s) is not None and y not in (None, "")]
    score = np.array([_number(raw["score"][i]) for i in rows], dtype=np.float64)
    labels = np.array([_key(raw["label"][i]) for i in rows], dtype=object)
    if raw.get("prediction") is not None:
        predictions = np.array([_key(raw["prediction"][i]) for i in rows], dtype=object)
    elif task != "binary_classification":
        return None  # a multiclass score is the predicted class's confidence: the class is needed
    else:
        predictions = np.where(score >= 0.5, positive, "\x00not " + positive).astype(object)
    return CBPEReference.fit(task, score, predictions, labels, positive_label=positive)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _key(value: object) -> str | None:
    """The event key of a label or prediction as a file writes it."""
    if isinstance(value, str):
        number = _number(value)
        if number is not None:
            return label_key(number)
        return boolean_key(value) or value
    return None if value is None else label_key(value)


def _output_columns(path: Path) -> dict[str, list | None]:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        rows = [{**(r.get("features") or {}), **r} for r in rows]
    elif suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            rows = [{k: v or None for k, v in r.items()} for r in csv.DictReader(fh)]
    elif suffix == ".parquet":
        import pyarrow.parquet as pq  # reading the features has already said how to install it

        table = pq.read_table(path, columns=[n for n in OUTPUT_COLUMNS if n in pq.read_schema(path).names])
        return {name: table.column(name).to_pylist() if name in table.column_names else None
                for name in OUTPUT_COLUMNS}
    else:
        return {}
    present = {k for r in rows for k in r}
    return {name: [r.get(name) for r in rows] if name in present else None for name in OUTPUT_COLUMNS}

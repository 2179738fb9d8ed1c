"""Reading reference data (CSV, Parquet, JSONL) and profile files for a model.

Category keys are the events' keys whatever the file type: a value that is not a string
goes through :func:`~driftline.detectors.label_key` (JSON ``true`` and a Parquet boolean are
"1", ``2.0`` is "2"), and a CSV column whose non-empty values are all boolean-like text
(``True``/``false``/``1``/``0``, at least one of them a word) holds booleans. A ``boolean``
feature's values are "1"/"0" (:func:`~driftline.detectors.boolean_key`), anything else missing.

The optional columns ``score``, ``label`` and ``prediction`` (top-level keys of a JSONL row) are
the model's outputs, not features: with ``score`` and ``label`` a classifier's profile carries a
CBPE calibration (:class:`~driftline.detectors.CBPEReference`), so its performance is estimated
before the labels arrive. Without ``prediction`` a binary prediction is ``score >= 0.5``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from driftline.detectors import CBPE_TASKS, CBPEReference, ReferenceProfile, boolean_key, label_key
from driftline.settings import ModelSettings

from .columns import detector_kinds

__all__ = ["OUTPUT_COLUMNS", "cbpe_from_file", "infer_kinds", "load_reference", "profile_from_file", "read_columns"]

OUTPUT_COLUMNS = ("score", "label", "prediction")


def load_reference(model: ModelSettings) -> ReferenceProfile | None:
    profile = None
    if model.reference_profile:
        profile = ReferenceProfile.load(model.reference_profile)
    elif model.reference_path:
        profile = profile_from_file(model.reference_path, model.features, task=model.task,
                                    positive_label=model.positive_label)
    if model.estimate_performance and (profile is None or profile.cbpe is None or profile.cbpe.task != model.task):
        raise ValueError(f"model {model.name}: estimate_performance is true but its reference has no "
                         f"{model.task} CBPE calibration (a reference file with score and label columns)")
    return profile


def profile_from_file(path: str | Path, features: dict[str, str], *, task: str | None = None,
                      positive_label: object = 1) -> ReferenceProfile:
    """The profile of a reference file; with a classification ``task`` and ``score``/``label``
    columns in the file, with its CBPE calibration."""
    profile = ReferenceProfile.from_columns(detector_kinds(features), read_columns(path, features))
    cbpe = cbpe_from_file(path, task, positive_label) if task in CBPE_TASKS else None
    return profile if cbpe is None else replace(profile, cbpe=cbpe)


def cbpe_from_file(path: str | Path, task: str, positive_label: object = 1) -> CBPEReference | None:
    """CBPE fitted on the ``score``/``label`` (and ``prediction``) columns; None without them."""
    raw = _output_columns(Path(path))
    if raw.get("score") is None or raw.get("label") is None:
        return None
    positive = label_key(positive_label)
    rows = [i for i, (s, y) in enumerate(zip(raw["score"], raw["label"], strict=True))
            if _is_number(s) and y not in (None, "")]
    score = np.array([float(raw["score"][i]) for i in rows])
    labels = np.array([label_key(_csv_number(raw["label"][i])) for i in rows], dtype=object)
    if raw.get("prediction") is not None:
        predictions = np.array([label_key(_csv_number(raw["prediction"][i])) for i in rows], dtype=object)
    else:
        predictions = np.where(score >= 0.5, positive, "\x00not " + positive).astype(object)
    return CBPEReference.fit(task, score, predictions, labels, positive_label=positive)


def _csv_number(value: object) -> object:
    """A CSV label ``"1"`` or ``"1.0"`` is the number a JSON event would carry."""
    if isinstance(value, str) and _is_number(value):
        return float(value)
    return value


def _output_columns(path: Path) -> dict[str, list | None]:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        present = {k for r in rows for k in (*r, *r.get("features", {}))} if rows else set()
        return {name: [r.get(name, r.get("features", {}).get(name)) for r in rows] if name in present else None
                for name in OUTPUT_COLUMNS}
    names = [n for n in OUTPUT_COLUMNS if n in _column_names(path)]
    raw = _read_raw(path, names) if names else {}
    return {name: raw.get(name) for name in OUTPUT_COLUMNS}


def _column_names(path: Path) -> list[str]:
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq  # _read_raw says how to install it when it is missing

        return list(pq.read_schema(path).names)
    with path.open(encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh), [])


def read_columns(path: str | Path, features: dict[str, str]) -> dict[str, np.ndarray]:
    """Read the feature columns of a reference file; a JSONL row may nest them under ``features``."""
    raw = _read_raw(Path(path), list(features))
    return {name: _column(values, features[name]) for name, values in raw.items()}


def infer_kinds(path: str | Path) -> dict[str, str]:
    """Feature kinds of a reference file without a config: numeric when every present value
    is a number (or a numeric string in CSV), boolean when every one is a boolean, categorical otherwise.
    The model's outputs (:data:`OUTPUT_COLUMNS`) are not features."""
    return {name: _kind([v for v in values if v not in (None, "")])
            for name, values in _read_raw(Path(path), None).items() if name not in OUTPUT_COLUMNS}


def _kind(present: list) -> str:
    if present and all(isinstance(v, bool) for v in present):
        return "boolean"
    return "numeric" if all(_is_number(v) for v in present) else "categorical"


def _is_number(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _read_raw(path: Path, names: list[str] | None) -> dict[str, list]:
    """Raw values per column (``names``, or every column when None)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:  # optional integration
            raise RuntimeError("reading Parquet needs pyarrow: pip install 'driftline[parquet]'") from exc
        table = pq.read_table(path, columns=names)
        raw = {name: table.column(name).to_pylist() for name in (names or table.column_names)}
    elif suffix in (".jsonl", ".ndjson"):
        rows = []
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    row = json.loads(line)
                    rows.append(row.get("features", row))
        names = names or list(dict.fromkeys(k for r in rows for k in r))
        raw = {name: [r.get(name) for r in rows] for name in names}
    elif suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
        names = names or list(reader.fieldnames or [])
        raw = {name: _csv_booleans([r.get(name) or None for r in rows]) for name in names}
    else:
        raise ValueError(f"reference file {path}: unsupported type {suffix!r} (expected .csv, .parquet, .jsonl)")
    return raw


def _csv_booleans(values: list) -> list:
    """A CSV column of boolean-like text as booleans; any other column as it is."""
    present = {v.strip().lower() for v in values if v is not None}
    if present and present <= {"true", "false", "1", "0"} and present & {"true", "false"}:
        return [None if v is None else boolean_key(v) == "1" for v in values]
    return values


def _column(values: list, kind: str) -> np.ndarray:
    if kind == "numeric":
        return np.array([np.nan if v in (None, "") else float(v) for v in values], dtype=np.float64)
    out = np.empty(len(values), dtype=object)
    if kind == "boolean":
        out[:] = [boolean_key(v) for v in values]
    else:
        out[:] = [v if v is None or isinstance(v, str) else label_key(v) for v in values]
    return out

"""Reading reference data (CSV, Parquet, JSONL) and profile files for a model.

Category keys are the events' keys whatever the file type: a value that is not a string
goes through :func:`~driftline.detectors.label_key` (JSON ``true`` and a Parquet boolean are
"1", ``2.0`` is "2"), and a CSV column whose non-empty values are all boolean-like text
(``True``/``false``/``1``/``0``, at least one of them a word) holds booleans. A ``boolean``
feature's values are "1"/"0" (:func:`~driftline.detectors.boolean_key`), anything else missing.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from driftline.detectors import ReferenceProfile, boolean_key, label_key
from driftline.settings import ModelSettings

from .columns import detector_kinds
from .reference_estimators import OUTPUT_COLUMNS, check_estimation, with_estimators

__all__ = ["infer_kinds", "load_reference", "profile_from_file", "read_columns"]


def load_reference(model: ModelSettings) -> ReferenceProfile | None:
    profile = None
    if model.reference_profile:
        profile = ReferenceProfile.load(model.reference_profile)
    elif model.reference_path:
        path, features = model.reference_path, model.features
        profile = with_estimators(profile_from_file(path, features), path, model.task, model.positive_label,
                                  lambda: read_columns(path, features))
    check_estimation(model, profile)
    return profile


def profile_from_file(path: str | Path, features: dict[str, str]) -> ReferenceProfile:
    return ReferenceProfile.from_columns(detector_kinds(features), read_columns(path, features))


def read_columns(path: str | Path, features: dict[str, str]) -> dict[str, np.ndarray]:
    """Read the feature columns of a reference file; a JSONL row may nest them under ``features``."""
    raw = _read_raw(Path(path), list(features))
    return {name: _column(values, features[name]) for name, values in raw.items()}


def infer_kinds(path: str | Path) -> dict[str, str]:
    """Feature kinds of a reference file without a config: numeric when every present value
    is a number (or a numeric string in CSV), boolean when every one is a boolean, categorical otherwise.
    The model's outputs (:data:`~driftline.stream.reference_estimators.OUTPUT_COLUMNS`) are not features."""
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

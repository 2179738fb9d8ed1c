"""Reading reference data (CSV, Parquet, JSONL) and profile files for a model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from driftline.detectors import ReferenceProfile
from driftline.settings import ModelSettings

__all__ = ["infer_kinds", "load_reference", "profile_from_file", "read_columns"]


def load_reference(model: ModelSettings) -> ReferenceProfile | None:
    if model.reference_profile:
        return ReferenceProfile.load(model.reference_profile)
    if model.reference_path:
        return profile_from_file(model.reference_path, model.features)
    return None


def profile_from_file(path: str | Path, features: dict[str, str]) -> ReferenceProfile:
    return ReferenceProfile.from_columns(features, read_columns(path, features))


def read_columns(path: str | Path, features: dict[str, str]) -> dict[str, np.ndarray]:
    """Read the feature columns of a reference file; a JSONL row may nest them under ``features``."""
    raw = _read_raw(Path(path), list(features))
    return {name: _column(values, features[name]) for name, values in raw.items()}


def infer_kinds(path: str | Path) -> dict[str, str]:
    """Feature kinds of a reference file without a config: numeric when every present value
    is a number (or a numeric string in CSV), categorical otherwise."""
    raw = _read_raw(Path(path), None)
    return {name: "numeric" if all(_is_number(v) for v in values if v not in (None, "")) else "categorical"
            for name, values in raw.items()}


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
        raw = {name: [r.get(name) or None for r in rows] for name in names}
    else:
        raise ValueError(f"reference file {path}: unsupported type {suffix!r} (expected .csv, .parquet, .jsonl)")
    return raw


def _column(values: list, kind: str) -> np.ndarray:
    if kind == "numeric":
        return np.array([np.nan if v in (None, "") else float(v) for v in values], dtype=np.float64)
    out = np.empty(len(values), dtype=object)
    out[:] = [None if v is None else str(v) for v in values]
    return out

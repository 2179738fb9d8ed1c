"""Reading reference data (CSV, Parquet, JSONL) and profile files for a model.

A reference gives the worker everything its tests use: the model's features and, when the file
has those columns, ``prediction`` and ``score`` with the kinds the worker tests them with
(:func:`~driftline.stream.columns.monitored_kinds`: a classifier's prediction is a class label,
so chi-square, not PSI). A JSONL row may be an event as sent: its features under ``features``,
``prediction`` and ``score`` beside them. Without a config (``driftline baseline`` alone) every
column but the event contract's own fields (``event_id``, ``ts``, ``label``...) is a feature.

Category keys are the events' keys whatever the file type: a value that is not a string
goes through :func:`~driftline.detectors.label_key` (JSON ``true`` and a Parquet boolean are
"1", ``2.0`` is "2"), and a CSV column whose non-empty values are all boolean-like text
(``True``/``false``/``1``/``0``, at least one of them a word) holds booleans. A ``boolean``
feature's values are "1"/"0" (:func:`~driftline.detectors.boolean_key`), anything else missing.
A CSV ``prediction`` written as a decimal number (``1.0``, as pandas writes an integer column
with gaps) is that number's class, "1", as the JSON number ``1.0`` of an event is.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from driftline.detectors import ReferenceProfile, boolean_key, label_key
from driftline.settings import ConfigProblem, ModelSettings, Settings

from .columns import PREDICTION_COLUMNS, detector_kinds, monitored_kinds
from .reference_estimators import check_estimation, with_estimators

__all__ = ["EVENT_FIELDS", "infer_kinds", "load_reference", "profile_from_file", "read_columns",
           "reference_problems"]

# Fields of the event contract that are not features: never profiled when a file is read without a config.
EVENT_FIELDS = frozenset({"event_id", "model", "version", "ts", "label", "latency_ms", "variant", "segment",
                          "features"})
_DECIMAL = re.compile(r"^\s*[-+]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][-+]?\d+)\s*$")


def load_reference(model: ModelSettings) -> ReferenceProfile | None:
    profile = None
    if model.reference_profile:
        profile = ReferenceProfile.load(model.reference_profile)
    elif model.reference_path:
        path, features = model.reference_path, model.features
        profile = with_estimators(profile_from_file(path, features, task=model.task), path, model.task,
                                  model.positive_label, lambda: read_columns(path, features))
    check_estimation(model, profile)
    return profile


def profile_from_file(path: str | Path, features: Mapping[str, str], *, task: str | None = None) -> ReferenceProfile:
    """The profile of ``features`` (kinds as configured) in a reference file; with a ``task``, also of
    ``prediction`` and ``score`` as the worker tests them for that task, when the file has them."""
    kinds = dict(features)
    if task is not None:
        present = _columns_present(Path(path))
        for name, kind in monitored_kinds({}, task).items():
            if name in present and name not in kinds:
                kinds[name] = "label" if name == "prediction" and kind == "categorical" else kind
    return ReferenceProfile.from_columns(_profile_kinds(kinds), read_columns(path, kinds))


def read_columns(path: str | Path, features: Mapping[str, str]) -> dict[str, np.ndarray]:
    """The columns of a reference file, each read as its kind (``numeric``, ``categorical``, ``boolean``,
    or ``label``: a class label); a column the file does not have is a ValueError."""
    path = Path(path)
    missing = [name for name in features if name not in _columns_present(path)]
    if missing:
        raise ValueError(f"reference file {path}: no column {', '.join(map(repr, missing))}")
    raw = _read_raw(path, list(features))
    csv_file = path.suffix.lower() == ".csv"
    return {name: _column(values, features[name], csv_file) for name, values in raw.items()}


def infer_kinds(path: str | Path) -> dict[str, str]:
    """Feature kinds of a reference file without a config: numeric when every present value
    is a number (or a numeric string in CSV), boolean when every one is a boolean, categorical otherwise.
    ``prediction``, ``score`` and the event contract's other fields are not features."""
    skip = EVENT_FIELDS | set(PREDICTION_COLUMNS)
    return {name: _kind([v for v in values if v not in (None, "")])
            for name, values in _read_raw(Path(path), None).items() if name not in skip}


def reference_problems(settings: Settings) -> list[ConfigProblem]:
    """What would keep the worker from using each configured reference, as config problems: a profile
    or file that cannot be read, a feature it lacks, a column of another kind than the worker tests.
    (``prediction``/``score`` may be absent: those versions then have no prediction-drift tests.)"""
    problems = []
    for i, model in enumerate(settings.models):
        key = "profile" if model.reference_profile else "path" if model.reference_path else None
        if key is None:
            continue
        where, value = f"models[{i}].reference.{key}", model.reference_profile or model.reference_path
        what = "a profile written by driftline baseline" if key == "profile" else "a CSV, Parquet or JSONL file"
        try:
            profile = load_reference(model)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, csv.Error) as exc:
            problems.append(ConfigProblem(where, value, f"{what} ({type(exc).__name__}: {exc})"))
            continue
        expected = monitored_kinds(model.features, model.task)
        lacking = [n for n in expected if n not in profile.kinds and n not in PREDICTION_COLUMNS]
        if lacking:
            problems.append(ConfigProblem(where, value, f"{what} with every feature of the model "
                                                        f"(missing: {', '.join(lacking)})"))
        wrong = [f"{n} is {profile.kinds[n]} there, {k} for this {model.task} model"
                 for n, k in expected.items() if n in profile.kinds and profile.kinds[n] != k]
        if wrong:
            problems.append(ConfigProblem(where, value, f"{what} whose kinds are the model's ({'; '.join(wrong)})"))
    return problems


def _profile_kinds(kinds: Mapping[str, str]) -> dict[str, str]:
    return detector_kinds({name: "categorical" if kind == "label" else kind for name, kind in kinds.items()})


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


def _jsonl_rows(path: Path) -> list[dict]:
    """Rows of a JSONL file; an event's ``features`` are merged into its top level."""
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                features = row.get("features")
                rows.append({**row, **features} if isinstance(features, dict) else row)
    return rows


def _columns_present(path: Path) -> set[str]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return set(_parquet().read_schema(path).names)
    if suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            return set(csv.DictReader(fh).fieldnames or [])
    return set(_read_raw(path, None))


def _parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # optional integration
        raise RuntimeError("reading Parquet needs pyarrow: pip install 'driftline[parquet]'") from exc
    return pq


def _read_raw(path: Path, names: list[str] | None) -> dict[str, list]:
    """Raw values per column (``names``, or every column when None)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        table = _parquet().read_table(path, columns=names)
        raw = {name: table.column(name).to_pylist() for name in (names or table.column_names)}
    elif suffix in (".jsonl", ".ndjson"):
        rows = _jsonl_rows(path)
        names = names or [k for k in dict.fromkeys(k for r in rows for k in r) if k != "features"]
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


def _column(values: list, kind: str, csv_file: bool = False) -> np.ndarray:
    if kind == "numeric":
        return np.array([np.nan if v in (None, "") else float(v) for v in values], dtype=np.float64)
    out = np.empty(len(values), dtype=object)
    if kind == "boolean":
        out[:] = [boolean_key(v) for v in values]
    elif kind == "label" and csv_file:
        out[:] = [label_key(float(v)) if isinstance(v, str) and _DECIMAL.match(v) else
                  v if v is None or isinstance(v, str) else label_key(v) for v in values]
    else:
        out[:] = [v if v is None or isinstance(v, str) else label_key(v) for v in values]
    return out

"""Booleans get the same category keys from events, CSV, JSONL and Parquet references and profiles.

Before, an event's ``true`` became "1" while a reference file gave "True": identical data drifted 100%.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from driftline.cli import main
from driftline.detectors import ReferenceProfile
from driftline.settings import parse_settings
from driftline.stream.processor import BatchOutput, Processor
from driftline.stream.reference_files import infer_kinds, load_reference, read_columns

T0 = 1_795_600_800_000
FEATURES = {"has_cosigner": "boolean", "prior_default": "categorical", "amount": "numeric"}


def rows(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"has_cosigner": bool(rng.random() < 0.3), "prior_default": bool(rng.random() < 0.1),
             "amount": round(float(rng.lognormal(8, 1)), 2)} for _ in range(n)]


def write_reference(path, data: list[dict]) -> None:
    if path.suffix == ".csv":
        lines = ["has_cosigner,prior_default,amount"]
        # Text as spreadsheets and pandas write it: True/False, in one column lower case.
        lines += [f"{r['has_cosigner']},{str(r['prior_default']).lower()},{r['amount']}" for r in data]
        path.write_text("\n".join(lines) + "\n")
    elif path.suffix == ".jsonl":
        path.write_text("\n".join(json.dumps({"features": r}) for r in data) + "\n")
    else:
        pq.write_table(pa.Table.from_pylist(data), path)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_a_boolean_feature_through_each_reference_file_and_identical_events_does_not_drift(tmp_path, suffix):
    data = rows(4_000, seed=1)
    path = tmp_path / f"reference{suffix}"
    write_reference(path, data)
    settings = parse_settings({"models": [{"name": "loan", "features": FEATURES, "reference": {"path": str(path)},
                                           "window": {"size": "10s", "idle_close": "3s"}}]})
    reference = load_reference(settings.models[0])
    assert reference.features["has_cosigner"].categories == ("0", "1")
    assert reference.features["prior_default"].categories == ("0", "1")
    processor = Processor(settings, {"loan": reference})
    state = processor.new_partition(0)
    out = BatchOutput()
    events = [(0, i, json.dumps({"event_id": f"e{i}", "model": "loan", "version": "v1", "ts": T0 + i * 10,
                                 "features": r, "prediction": 0}).encode(), 0) for i, r in enumerate(data)]
    processor.process(state, events, [], T0, out)
    processor.close_windows(state, T0 + 60_000, out)
    windows = [r for r in out.reports if r.n_predictions]
    assert len(windows) == 4
    results = [d for r in windows for d in r.drift if d.feature in ("has_cosigner", "prior_default")]
    assert results and not [d for d in results if d.drifted]
    unseen = [m.value for r in windows for m in r.metrics if m.name.startswith("unseen_rate:")]
    assert unseen and max(unseen) == 0.0


def test_csv_boolean_text_becomes_canonical_keys_only_in_boolean_like_columns(tmp_path):
    path = tmp_path / "ref.csv"
    path.write_text("flag,answer,code\nTrue,yes,1\nFALSE,no,0\n,yes,1\ntrue,no,0\n")
    columns = read_columns(path, {"flag": "categorical", "answer": "categorical", "code": "categorical"})
    assert columns["flag"].tolist() == ["1", "0", None, "1"]
    assert columns["answer"].tolist() == ["yes", "no", "yes", "no"]  # not boolean-like: kept as written
    assert columns["code"].tolist() == ["1", "0", "1", "0"]
    assert infer_kinds(path) == {"flag": "boolean", "answer": "categorical", "code": "numeric"}
    # A boolean feature reads 1/0 and true/false alike; anything else is missing.
    path.write_text("flag\nyes\n1\nFalse\n")
    assert read_columns(path, {"flag": "boolean"})["flag"].tolist() == [None, "1", "0"]


def test_an_event_boolean_that_is_not_boolean_like_is_a_type_error():
    settings = parse_settings({"models": [{"name": "loan", "features": {"has_cosigner": "boolean"},
                                           "reference": {"warmup_events": 10}}]})
    processor = Processor(settings)
    state = processor.new_partition(0)
    values = [True, False, 1, 0, "true", "False", None, "maybe", 2.5] * 3
    events = [(0, i, json.dumps({"event_id": f"e{i}", "model": "loan", "version": "v1", "ts": T0 + i,
                                 "features": {"has_cosigner": v}, "prediction": 0}).encode(), 0)
              for i, v in enumerate(values)]
    out = BatchOutput()
    processor.process(state, events, [], T0, out)
    processor.close_windows(state, T0 + 60_000, out)
    (window,) = [r for r in out.reports if r.n_predictions]
    metrics = {m.name: m.value for m in window.metrics}
    assert metrics["type_errors:has_cosigner"] == 6.0
    assert set(state.monitors[("loan", "v1")].reference.features["has_cosigner"].categories) == {"0", "1"}


def test_driftline_baseline_writes_canonical_boolean_categories(tmp_path):
    data, out = tmp_path / "ref.csv", tmp_path / "loan.profile.json"
    write_reference(data, rows(200, seed=2))
    result = CliRunner().invoke(main, ["baseline", "--data", str(data), "--model", "loan", "--out", str(out)])
    assert result.exit_code == 0, result.output
    profile = ReferenceProfile.load(out)
    assert profile.kinds == {"has_cosigner": "categorical", "prior_default": "categorical", "amount": "numeric"}
    assert profile.features["has_cosigner"].categories == ("0", "1")
    settings = parse_settings({"models": [{"name": "loan", "features": FEATURES, "reference": {"profile": str(out)}}]})
    assert load_reference(settings.models[0]).features["prior_default"].categories == ("0", "1")

"""build_columns: many numeric features converted as one matrix give the columns of one at a time."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from driftline.stream import columns as columns_module
from driftline.stream.columns import MATRIX_MIN_FEATURES, build_columns


def _events(maps: list[dict]) -> list:
    return [SimpleNamespace(features=m, latency_ms=None, score=0.5, prediction=1) for m in maps]


def _both_ways(monkeypatch, maps: list[dict], kinds: dict) -> tuple:
    events = _events(maps)
    fast = build_columns(events, list(range(len(maps))), kinds)
    with monkeypatch.context() as m:
        m.setattr(columns_module, "MATRIX_MIN_FEATURES", 10**9)
        slow = build_columns(events, list(range(len(maps))), kinds)
    return fast, slow


def _same(a, b) -> None:
    assert list(a.columns) == list(b.columns)  # the kinds' order
    for name in a.columns:
        x, y = a.columns[name], b.columns[name]
        assert x.dtype == y.dtype and x.shape == y.shape, name
        if x.dtype == np.float64:
            assert np.array_equal(x.view(np.int64), y.view(np.int64)), name  # bit for bit, -0.0 and NaN included
        else:
            assert x.tolist() == y.tolist(), name
    assert a.type_errors == b.type_errors


def _kinds(numeric: int) -> dict:
    return {**{f"x{i}": "numeric" for i in range(numeric)}, "c": "categorical", "b": "boolean", "y": "numeric"}


@pytest.mark.parametrize("seed", range(3))
def test_the_matrix_path_gives_the_columns_of_the_per_column_path(monkeypatch, seed):
    rng = np.random.default_rng(seed)
    kinds = _kinds(MATRIX_MIN_FEATURES + 8)
    odd = [None, True, False, 3, -0.0, 1e308, float("inf"), float("nan"), "2.5", 10**20]
    maps = []
    for i in range(60):
        m = {n: (odd[int(rng.integers(len(odd)))] if rng.random() < 0.2 else float(rng.normal()))
             for n, k in kinds.items() if k == "numeric"}
        m |= {"c": rng.choice(["a", "b", None]), "b": bool(rng.random() < 0.5), "extra": "ignored"}
        if i % 7 == 0:
            del m[f"x{i % 5}"]  # an absent feature: None, missing
        maps.append(m)
    fast, slow = _both_ways(monkeypatch, maps, kinds)
    _same(fast, slow)
    # the numeric columns are each one contiguous row of one matrix
    assert fast.columns["x0"].flags.c_contiguous and fast.columns["x0"].base is fast.columns["x1"].base


def test_a_value_that_is_not_a_number_falls_back_and_counts_its_type_error(monkeypatch):
    kinds = _kinds(MATRIX_MIN_FEATURES)
    maps = [{n: 1.0 for n in kinds if kinds[n] == "numeric"} | {"c": "a", "b": True} for _ in range(5)]
    maps[2]["x3"] = "high"
    fast, slow = _both_ways(monkeypatch, maps, kinds)
    _same(fast, slow)
    assert fast.type_errors == {"x3": 1} and np.isnan(fast.columns["x3"][2])


def test_no_events_and_fewer_numeric_features_than_the_matrix_threshold(monkeypatch):
    for kinds in (_kinds(MATRIX_MIN_FEATURES), _kinds(2)):
        fast, slow = _both_ways(monkeypatch, [], kinds)
        _same(fast, slow)
        assert all(len(c) == 0 for c in fast.columns.values())
    maps = [{"x0": 1.0, "x1": None, "y": 2, "c": "z", "b": False}]
    _same(*_both_ways(monkeypatch, maps, _kinds(2)))


@pytest.mark.parametrize("seed", range(3))
def test_many_categorical_features_as_one_matrix_give_the_per_column_columns(monkeypatch, seed):
    rng = np.random.default_rng(seed)
    kinds = {**{f"c{i}": "categorical" for i in range(MATRIX_MIN_FEATURES + 3)}, "b": "boolean", "x": "numeric"}
    maps = []
    for i in range(50):
        m = {n: rng.choice(["a", "b", "é", ""]) if rng.random() < 0.9 else None for n in kinds if n.startswith("c")}
        m |= {"b": "yes", "x": 1.5}
        if i % 6 == 0:
            del m[f"c{i % 4}"]  # absent: None, missing
        maps.append(m)
    fast, slow = _both_ways(monkeypatch, maps, kinds)
    _same(fast, slow)
    assert fast.columns["c0"].dtype == object and fast.columns["c0"].base is fast.columns["c1"].base
    # one value that is not text (a number for a categorical feature): each column apart, as before
    maps[3]["c5"] = 7
    fast, slow = _both_ways(monkeypatch, maps, kinds)
    _same(fast, slow)
    assert fast.columns["c5"][3] == slow.columns["c5"][3] and fast.columns["c0"].base is None

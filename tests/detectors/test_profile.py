from __future__ import annotations

import json

import numpy as np
import pytest
from driftline.detectors import (
    CategoricalProfile,
    DetectorConfigError,
    NumericProfile,
    ReferenceBuilder,
    ReferenceProfile,
)

FEATURES = {"age": "numeric", "income": "numeric", "country": "categorical"}


def test_numeric_profile_bins_are_reference_quantiles(reference, columns):
    p = reference.features["age"]
    assert isinstance(p, NumericProfile)
    values = columns(20_000, seed=1)["age"]
    values = values[np.isfinite(values)]
    np.testing.assert_allclose(p.edges, np.quantile(values, np.linspace(0, 1, 11)[1:-1]))
    assert p.counts.tolist() == np.bincount(np.searchsorted(p.edges, values, side="right"), minlength=10).tolist()
    assert p.n == len(values) and p.n + p.missing == 20_000
    assert p.min == values.min() and p.max == values.max()
    assert p.mean == pytest.approx(values.mean()) and p.std == pytest.approx(values.std())
    assert len(p.sample) == 2000 and np.all(np.diff(p.sample) >= 0) and np.isin(p.sample, values).all()


def test_categorical_profile_keeps_top_categories_and_other(columns):
    col = np.array(["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"] + [None] * 4, dtype=object)
    ref = ReferenceProfile.from_columns({"c": "categorical"}, {"c": col}, max_categories=2)
    p = ref.features["c"]
    assert isinstance(p, CategoricalProfile)
    assert p.categories == ("a", "b") and p.counts.tolist() == [5, 3]
    assert (p.other, p.n, p.missing) == (3, 11, 4)


def test_builder_stops_at_warmup_and_matches_from_columns(columns):
    cols = columns(5_000, seed=3)
    b = ReferenceBuilder(FEATURES, warmup_events=3_000)
    consumed = [b.update({k: v[i : i + 1_000] for k, v in cols.items()}) for i in range(0, 5_000, 1_000)]
    assert consumed == [1_000, 1_000, 1_000, 0, 0] and b.ready
    built = b.build()
    direct = ReferenceProfile.from_columns(FEATURES, {k: v[:3_000] for k, v in cols.items()})
    assert built.to_dict() == direct.to_dict()


def test_builder_partial_batch_and_absent_column(columns):
    b = ReferenceBuilder({"x": "numeric", "y": "numeric"}, warmup_events=5)
    assert b.update({"x": np.arange(3.0)}) == 3
    assert b.update({"x": np.arange(4.0), "y": np.ones(4)}) == 2
    ref = b.build()
    assert ref.features["y"].missing == 3 and ref.features["y"].n == 2


def test_profile_json_round_trip_is_exact(tmp_path, reference, columns):
    path = tmp_path / "ref.json"
    reference.save(path)
    loaded = ReferenceProfile.load(path)
    assert loaded.to_dict() == reference.to_dict()
    assert json.loads(path.read_text())["format_version"] == 2
    np.testing.assert_array_equal(loaded.features["age"].edges, reference.features["age"].edges)


def test_a_version_1_profile_loads_with_the_grid_of_its_sample(reference):
    v1 = reference.to_dict()
    v1["format_version"] = 1
    for f in v1["features"].values():
        f.pop("grid", None), f.pop("grid_counts", None)
    old = ReferenceProfile.from_dict(json.loads(json.dumps(v1))).features["age"]
    new = reference.features["age"]
    assert old.grid_counts.n == len(new.sample) == 2000  # the sample stands for the reference
    assert set(new.edges.tolist()) <= set(old.grid.tolist())
    np.testing.assert_array_equal(old.counts, new.counts)  # the coarse counts are the stored ones


def test_the_grid_holds_the_coarse_edges_and_every_reference_value(reference, columns):
    p = reference.features["age"]
    assert set(p.edges.tolist()) <= set(p.grid.tolist()) and p.grid[0] == p.min and p.grid[-1] > p.max
    assert p.grid_counts.n == p.n and p.grid_counts.counts[0] == 0
    np.testing.assert_array_equal(np.add.reduceat(p.grid_counts.counts, p.coarse_starts), p.counts)
    discrete = ReferenceProfile.from_columns({"x": "numeric"}, {"x": np.round(columns(5000, seed=3)["age"])})
    x = discrete.features["x"]
    assert len(x.grid) <= 200 and set(np.unique(x.sample).tolist()) <= set(x.grid.tolist())  # the lattice itself


def test_all_missing_feature_round_trips(columns):
    ref = ReferenceProfile.from_columns({"x": "numeric"}, {"x": np.full(10, np.nan)})
    assert ref.features["x"].n == 0 and ref.features["x"].min is None
    assert ReferenceProfile.from_dict(json.loads(json.dumps(ref.to_dict()))).to_dict() == ref.to_dict()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"warmup_events": 0}, "warmup_events"), ({"warmup_events": 1_000_001}, "warmup_events"),
     ({"warmup_events": 10, "bins": 1}, "bins"), ({"warmup_events": 10, "max_categories": 0}, "max_categories")],
)
def test_builder_rejects_bad_parameters(kwargs, name, columns):
    with pytest.raises(ValueError, match=f"^{name}: "):
        ReferenceBuilder({"x": "numeric"}, **kwargs)


def test_unknown_kind_is_rejected(columns):
    with pytest.raises(DetectorConfigError, match=r"features\['x'\]: 'text' is not a known kind"):
        ReferenceProfile.from_columns({"x": "text"}, {"x": np.zeros(3)})

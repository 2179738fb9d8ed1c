"""``models:`` into typed model settings; detector hyperparameters checked by the detectors' own checks,
reported under their key path in the one format."""

from __future__ import annotations

import inspect
from dataclasses import asdict

import pytest
from driftline.detectors import (
    DataQualityCheck,
    DriftSettings,
    PCAReconstructionDrift,
    TestSpec,
)
from driftline.settings import (
    ConceptSettings,
    ConfigError,
    MultivariateSettings,
    QualitySettings,
    StreamingSettings,
    parse_settings,
)


def model(**fields):
    return parse_settings({"models": [{"name": "m", "features": {"x": "numeric", "y": "numeric", "c": "categorical"},
                                       **fields}]}).models[0]


def problems(**fields) -> list[str]:
    with pytest.raises(ConfigError) as info:
        model(**fields)
    return str(info.value).splitlines()


def test_drift_block():
    drift = model(drift={
        "numeric": [{"type": "psi", "threshold": 0.1}, {"type": "wasserstein", "params": {"normalise": "iqr"}}],
        "categorical": ["chi2", {"type": "unseen_share", "threshold": 0.02}],
        "correction": "bonferroni", "persistence": {"k": 2, "n": 3}, "importances": {"x": 0.5},
    }).drift
    assert drift == DriftSettings(
        numeric=(TestSpec("psi", 0.1), TestSpec("wasserstein", params={"normalise": "iqr"})),
        categorical=(TestSpec("chi2"), TestSpec("unseen_share", 0.02)),
        correction="bonferroni", persistence=(2, 3), importances={"x": 0.5})
    assert model(drift={"persistence": [1, 4]}).drift.persistence == (1, 4)
    assert model(drift={"baselines": {"previous": 3, "period": 288}}).drift.baselines == (3, 288)
    assert model(drift={"baselines": {"period": 24}}).drift.baselines == (0, 24)
    assert model(drift={"accumulate": 4, "correction": "bh"}).drift.accumulate == 4
    assert model(drift={"accumulate": 1}).drift.accumulate == 1


@pytest.mark.parametrize(("drift", "line"), [
    ({"numeric": [{"type": "psi"}, {"type": "foo"}]},
     "models[0].drift.numeric[1].type: 'foo' is invalid, expected one of: hellinger, jensen_shannon, ks, moments, psi, "
     "ranks, wasserstein"),
    ({"categorical": [{"type": "ks"}]},
     "models[0].drift.categorical[0].type: 'ks' is invalid, expected one of: chi2, hellinger, jensen_shannon, "
     "l_infinity, psi, unseen_share"),
    ({"numeric": [{"type": "ks", "threshold": 1.5}]},
     "models[0].drift.numeric[0].threshold: 1.5 is invalid, expected a number in (0.0, 1.0)"),
    ({"numeric": [{"type": "psi", "threshold": -1}]},
     "models[0].drift.numeric[0].threshold: -1.0 is invalid, expected a number in (0.0, inf]"),
    ({"numeric": [{"type": "psi", "threshold": "high"}]},
     "models[0].drift.numeric[0].threshold: 'high' is invalid, expected a number"),
    ({"numeric": [{"type": "psi", "params": {"bin": 3}}]},
     "models[0].drift.numeric[0].params.bin: 3 is invalid, expected one of: eps, bins, pseudo_count"),
    ({"numeric": [{"type": "wasserstein", "params": {"normalise": "mad"}}]},
     "models[0].drift.numeric[0].params.normalise: 'mad' is invalid, expected one of: iqr, none, std"),
    ({"numeric": [{"type": "psi", "treshold": 0.1}]},
     "models[0].drift.numeric[0].treshold: 0.1 is invalid, expected a known key: type, threshold, params"),
    ({"correction": "fdr"},
     "models[0].drift.correction: 'fdr' is invalid, expected one of: holm, bh, bonferroni, none"),
    ({"accumulate": 0}, "models[0].drift.accumulate: 0 is invalid, expected an integer in [1, 12]"),
    ({"persistence": [3, 2]},
     "models[0].drift.persistence: [3, 2] is invalid, expected [k, n] with 1 <= k <= n <= 1000"),
    ({"importances": {"x": -1}}, "models[0].drift.importances.x: -1 is invalid, expected a number >= 0"),
    ({"tests": []},
     "models[0].drift.tests: [] is invalid, expected a known key: numeric, categorical, correction, persistence, "
     "importances, target, baselines, accumulate, combine"),
    ({"baselines": {"previous": -1}},
     "models[0].drift.baselines.previous: -1 is invalid, expected an integer in [0, 2016]"),
    ({"baselines": {"days": 1}},
     "models[0].drift.baselines.days: 1 is invalid, expected a known key: previous, period"),
    ({"numeric": [{"type": "psi", "threshold": "automatic"}]},
     "models[0].drift.numeric[0].threshold: 'automatic' is invalid, expected a number"),
    ({"target": {"false_alarms": 5, "per_windows": 6}},
     "models[0].drift.target.false_alarms: 5.0 is invalid, expected a number in (0, per_windows / 2 = 3]"),
    ({"target": {"false_alarms": 1, "per_windows": 1}},
     "models[0].drift.target.per_windows: 1 is invalid, expected an integer in [2, 1000000000]"),
    ({"target": {"rate": 0.1}},
     "models[0].drift.target.rate: 0.1 is invalid, expected a known key: false_alarms, per_windows"),
    ({"numeric": "psi"}, "models[0].drift.numeric: 'psi' is invalid, expected a list"),
    ({"numeric": [5]}, "models[0].drift.numeric[0]: 5 is invalid, expected a test name or a mapping with type, "
                       "threshold, params"),
])
def test_drift_problems(drift, line):
    assert problems(drift=drift) == [line]


def test_concept_quality_multivariate_streaming_are_typed():
    m = model(concept={"detector": "page_hinkley", "params": {"threshold": 30, "mode": "up"}},
              quality={"max_missing_rate": 0.2, "max_unseen_rate": None},
              multivariate={"type": "pca_reconstruction", "variance": 0.8, "chunk_size": 500},
              streaming=[{"feature": "x", "type": "kswin", "params": {"window_size": 200, "stat_size": 50}},
                         {"feature": "y"}])
    assert m.concept == ConceptSettings("page_hinkley", {"threshold": 30, "mode": "up"})
    assert m.quality == QualitySettings(max_missing_rate=0.2, max_unseen_rate=None)
    assert m.multivariate == MultivariateSettings(variance=0.8, chunk_size=500)
    assert m.streaming == (StreamingSettings("x", "kswin", {"window_size": 200, "stat_size": 50}),
                           StreamingSettings("y", "adwin"))
    assert model().multivariate is None and model().streaming == () and model().concept == ConceptSettings()


@pytest.mark.parametrize(("settings", "detector"), [
    (QualitySettings(), DataQualityCheck), (MultivariateSettings(), PCAReconstructionDrift)])
def test_typed_defaults_are_the_detectors_defaults(settings, detector):
    defaults = {name: p.default for name, p in inspect.signature(detector).parameters.items()}
    assert asdict(settings) == defaults


@pytest.mark.parametrize(("fields", "line"), [
    ({"concept": {"detector": "adwn"}},
     "models[0].concept.detector: 'adwn' is invalid, expected one of: adwin, ddm, eddm, hddm_a, hddm_w, "
     "page_hinkley"),
    ({"concept": {"detector": "adwin", "params": {"delta": 2}}},
     "models[0].concept.params.delta: 2 is invalid, expected a number in [0.0, 1.0)"),
    ({"concept": {"detector": "ddm", "params": {"delta": 0.1}}},
     "models[0].concept.params.delta: 0.1 is invalid, expected a known parameter of ddm: warm_start, "
     "warning_threshold, drift_threshold"),
    ({"quality": {"max_missing_rate": 2}},
     "models[0].quality.max_missing_rate: 2.0 is invalid, expected a number in [0.0, 1.0]"),
    ({"quality": {"max_missing": 0.1}},
     "models[0].quality.max_missing: 0.1 is invalid, expected a known key: max_missing_rate, max_type_error_rate, "
     "max_out_of_range_rate, max_unseen_rate"),
    ({"multivariate": {"type": "autoencoder"}},
     "models[0].multivariate.type: 'autoencoder' is invalid, expected one of: pca_reconstruction"),
    ({"multivariate": {"chunk_size": 5}},
     "models[0].multivariate.chunk_size: 5 is invalid, expected an int in [10, 10000000]"),
    ({"streaming": [{"feature": "c"}]},
     "models[0].streaming[0].feature: 'c' is invalid, expected the name of a numeric feature of this model"),
    ({"streaming": [{"feature": "x", "type": "ddm"}]},
     "models[0].streaming[0].type: 'ddm' is invalid, expected one of: adwin, kswin, page_hinkley"),
    ({"streaming": [{"feature": "x", "type": "kswin", "params": {"window_size": 1}}]},
     "models[0].streaming[0].params.window_size: 1 is invalid, expected an int >= 2"),
    ({"positive_label": [1]}, "models[0].positive_label: [1] is invalid, expected a label: a string, number or boolean"),
    ({"window": {"size": "1m", "lateness": "5s"}},
     "models[0].window.lateness: '***' is invalid, expected a known key: size, allowed_lateness, idle_close"),
    ({"reference": {"profile": "p.json", "path": "r.csv"}},
     "models[0].reference: {'profile': 'p.json', 'path': 'r.csv'} is invalid, expected exactly one of: "
     "warmup_events, path, profile"),
])
def test_detector_and_model_problems(fields, line):
    assert problems(**fields) == [line]


def test_every_bad_detector_of_a_model_is_reported():
    lines = problems(concept={"params": {"delta": 2}}, quality={"max_missing_rate": -1},
                     multivariate={"sigma": 0}, streaming=[{"feature": "nope"}],
                     drift={"numeric": [{"type": "ks", "threshold": 2}]})
    assert [line.split(":")[0] for line in lines] == [
        "models[0].drift.numeric[0].threshold", "models[0].concept.params.delta",
        "models[0].quality.max_missing_rate", "models[0].multivariate.sigma", "models[0].streaming[0].feature"]


def test_estimate_performance_is_auto_unless_set():
    assert model().estimate_performance is None  # auto: on when the reference has scores and labels
    assert model(estimate_performance="auto").estimate_performance is None
    assert model(estimate_performance=False).estimate_performance is False
    assert model(estimate_performance=True).estimate_performance is True
    with pytest.raises(ConfigError, match=r"models\[0\]\.estimate_performance: 'yes' is invalid, expected "
                                          r"true, false or auto"):
        model(estimate_performance="yes")
    with pytest.raises(ConfigError, match=r"models\[0\]\.estimate_performance: 1 is invalid"):
        model(estimate_performance=1)
    assert model(task="regression", estimate_performance=True).estimate_performance is True  # DLE

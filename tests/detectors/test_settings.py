from __future__ import annotations

import pytest
from driftline.detectors import DetectorConfigError, DriftSettings, TestSpec


def test_defaults():
    s = DriftSettings()
    assert s.numeric == (TestSpec("psi", 0.2),) and s.categorical == (TestSpec("chi2", 0.01),)
    assert (s.correction, s.persistence) == ("bh", (1, 1))


def test_from_dict_full():
    s = DriftSettings.from_dict({
        "numeric": [{"type": "psi", "threshold": 0.1}, {"type": "wasserstein", "params": {"normalise": "iqr"}}],
        "categorical": ["chi2", {"type": "unseen_share", "threshold": 0.02}],
        "correction": "bonferroni", "persistence": {"k": 2, "n": 3}, "importances": {"age": 0.5},
    })
    assert s.numeric[1].build().normalise == "iqr"
    assert [t.type for t in s.categorical] == ["chi2", "unseen_share"]
    assert s.persistence == (2, 3) and s.importances == {"age": 0.5}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"numeric": [{"type": "psi"}, {"type": "foo"}]},
         "models[0].drift.numeric[1].type: 'foo' is not a known test (expected one of: hellinger, jensen_shannon, ks, psi, wasserstein)"),
        ({"categorical": [{"type": "ks"}]},
         "models[0].drift.categorical[0].type: 'ks' is not a known test (expected one of: chi2, hellinger, jensen_shannon, l_infinity, psi, unseen_share)"),
        ({"numeric": [{"type": "ks", "threshold": 1.5}]},
         "models[0].drift.numeric[0].threshold: 1.5 is out of range (expected a number in (0.0, 1.0))"),
        ({"numeric": [{"type": "psi", "threshold": -1}]},
         "models[0].drift.numeric[0].threshold: -1 is out of range (expected a number in (0.0, inf])"),
        ({"numeric": [{"type": "psi", "params": {"bins": 3}}]},
         "models[0].drift.numeric[0].params: 'bins' is not a parameter of psi (expected one of: eps)"),
        ({"numeric": [{"type": "wasserstein", "params": {"normalise": "mad"}}]},
         "models[0].drift.numeric[0].params.normalise: 'mad' is not a known normalisation (expected one of: iqr, none, std)"),
        ({"correction": "holm"},
         "models[0].drift.correction: 'holm' is not a known correction (expected one of: bh, bonferroni, none)"),
        ({"persistence": [3, 2]},
         "models[0].drift.persistence: (3, 2) is invalid (expected [k, n] with 1 <= k <= n <= 1000)"),
        ({"importances": {"age": -1}}, "models[0].drift.importances.age: -1 is invalid (expected a number >= 0)"),
        ({"tests": []}, "models[0].drift: unknown key 'tests' (expected one of: categorical, correction, importances, numeric, persistence)"),
        ({"numeric": "psi"}, "models[0].drift.numeric: 'psi' is not a list of tests"),
    ],
)
def test_errors_name_path_value_and_expectation(raw, message):
    with pytest.raises(DetectorConfigError) as info:
        DriftSettings.from_dict(raw, path="models[0].drift")
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)

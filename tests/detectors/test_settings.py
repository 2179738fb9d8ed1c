"""DriftSettings and TestSpec validate on construction; errors carry the key, value and expectation.

Reading the YAML ``drift:`` block is the settings layer's job: tests/settings/test_models.py.
"""

from __future__ import annotations

import pytest
from driftline.detectors import DetectorConfigError, DriftSettings, TestSpec


def test_defaults():
    s = DriftSettings()
    assert s.numeric == (TestSpec("wasserstein", "auto"), TestSpec("ranks", "auto"), TestSpec("moments", "auto"))
    assert s.categorical == (TestSpec("chi2", "auto"),)
    assert (s.correction, s.persistence, s.target, s.baselines, s.accumulate) == ("holm", (1, 1), (1.0, 200), (0, 0), 2)


def test_full_construction():
    s = DriftSettings(numeric=(TestSpec("psi", 0.1), TestSpec("wasserstein", params={"normalise": "iqr"})),
                      categorical=(TestSpec("chi2"), TestSpec("unseen_share", 0.02)),
                      correction="bonferroni", persistence=(2, 3), importances={"age": 0.5})
    assert s.numeric[1].build().normalise == "iqr"
    assert [t.type for t in s.categorical] == ["chi2", "unseen_share"]


@pytest.mark.parametrize(
    ("kwargs", "key", "value", "expected", "message"),
    [
        ({"numeric": (TestSpec("psi"), TestSpec("chi2"))}, "numeric[1].type", "chi2",
         "one of: hellinger, jensen_shannon, ks, moments, psi, ranks, wasserstein",
         "numeric[1].type: 'chi2' is not a known test (expected one of: hellinger, jensen_shannon, ks, moments, psi, "
         "ranks, wasserstein)"),
        ({"correction": "fdr"}, "correction", "fdr", "one of: holm, bh, bonferroni, none",
         "correction: 'fdr' is not a known correction (expected one of: holm, bh, bonferroni, none)"),
        ({"accumulate": 0}, "accumulate", 0, "an integer in [1, 12] (windows; 1 = off)",
         "accumulate: 0 is invalid (expected an integer in [1, 12] (windows; 1 = off))"),
        ({"accumulate": True}, "accumulate", True, "an integer in [1, 12] (windows; 1 = off)",
         "accumulate: True is invalid (expected an integer in [1, 12] (windows; 1 = off))"),
        ({"persistence": (3, 2)}, "persistence", (3, 2), "[k, n] with 1 <= k <= n <= 1000",
         "persistence: (3, 2) is invalid (expected [k, n] with 1 <= k <= n <= 1000)"),
        ({"importances": {"age": -1}}, "importances.age", -1, "a number >= 0",
         "importances.age: -1 is invalid (expected a number >= 0)"),
    ],
)
def test_errors_name_key_value_and_expectation(kwargs, key, value, expected, message):
    with pytest.raises(DetectorConfigError) as info:
        DriftSettings(**kwargs)
    assert (info.value.key, info.value.value, info.value.expected, str(info.value)) == (key, value, expected, message)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(("spec", "key", "value"), [
    (lambda: TestSpec("ks", 1.5), "threshold", 1.5),
    (lambda: TestSpec("psi", -1), "threshold", -1),
    (lambda: TestSpec("psi", params={"bins": 1}), "params.bins", 1),
    (lambda: TestSpec("psi", params={"bins": "deciles"}), "params.bins", "deciles"),
    (lambda: TestSpec("psi", params={"grid": 3}), "params.grid", 3),
    (lambda: TestSpec("wasserstein", params={"normalise": "mad"}), "params.normalise", "mad"),
    (lambda: TestSpec("ks", 0.5, {"method": "exact"}), "params.method", "exact"),
    (lambda: TestSpec("nope"), "type", "nope"),
])
def test_test_spec_errors_carry_the_key(spec, key, value):
    with pytest.raises(DetectorConfigError) as info:
        spec()
    assert (info.value.key, info.value.value) == (key, value)


def test_accumulation_defaults_to_two_windows_and_to_one_with_persistence():
    # Persistence is a rule across windows already, and alpha_for counts its windows as independent.
    assert DriftSettings().accumulate == 2
    assert DriftSettings(persistence=(2, 3)).accumulate == 1
    assert DriftSettings(persistence=(1, 3)).accumulate == 2
    assert DriftSettings(persistence=(2, 3), accumulate=3).accumulate == 3  # explicit wins

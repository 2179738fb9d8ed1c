from __future__ import annotations

import numpy as np
import pytest
from driftline.detectors import DataQualityCheck, QualityResult, ReferenceProfile, WindowSketch


@pytest.fixture
def ref():
    return ReferenceProfile.from_columns(
        {"x": "numeric", "c": "categorical"},
        {"x": np.linspace(0, 10, 1000), "c": np.array(["a", "b"] * 500, dtype=object)},
    )


def test_rates_and_thresholds(ref):
    w = WindowSketch(ref)
    x = np.concatenate([np.linspace(1, 9, 90), [np.nan] * 5, [-1.0, 11.0, 12.0, 50.0, 3.0]])
    c = np.array(["a"] * 80 + ["new"] * 10 + [None] * 10, dtype=object)
    w.update({"x": x, "c": c})
    results = DataQualityCheck(max_missing_rate=0.06).evaluate(w, type_errors={"c": 2})
    assert results == [
        QualityResult("x", "missing_rate", 0.05, 0.06, False, 100),
        QualityResult("x", "out_of_range_rate", 4 / 95, 0.05, False, 95),
        QualityResult("c", "missing_rate", 0.1, 0.06, True, 100),
        QualityResult("c", "type_error_rate", 0.02, 0.01, True, 100),
        QualityResult("c", "unseen_rate", 10 / 90, 0.05, True, 90),
    ]


def test_disabled_checks_and_empty_window(ref):
    assert DataQualityCheck().evaluate(WindowSketch(ref)) == []
    w = WindowSketch(ref)
    w.update({"x": np.array([100.0]), "c": np.array(["a"], dtype=object)})
    checks = {r.check for r in DataQualityCheck(max_out_of_range_rate=None, max_unseen_rate=None).evaluate(w)}
    assert checks == {"missing_rate"}


def test_bad_threshold_names_parameter():
    with pytest.raises(ValueError, match=r"^max_missing_rate: 1.5 is out of range"):
        DataQualityCheck(max_missing_rate=1.5)

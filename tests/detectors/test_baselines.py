from __future__ import annotations

import numpy as np
import pytest
from driftline.detectors import (
    BaselineHistory,
    DetectorConfigError,
    DriftSettings,
    DriftSuite,
    ReferenceProfile,
    TestSpec,
    WindowSketch,
)

PERIOD = 6


def seasonal(rng: np.random.Generator, t: int, n: int = 2_000) -> dict[str, np.ndarray]:
    """A daily cycle of the mean (0.8 sd) the reference (phase 0 only) never saw."""
    return {"x": rng.normal(0.8 * np.sin(2 * np.pi * (t % PERIOD + 0.5) / PERIOD), 1.0, n)}


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    return ReferenceProfile.from_columns({"x": "numeric"}, {"x": np.random.default_rng(0).normal(0, 1, 20_000)})


def sketch(profile, cols) -> WindowSketch:
    w = WindowSketch(profile)
    w.update(cols)
    return w


def test_previous_k_merges_the_windows_that_exist_and_forgets_the_rest(profile):
    h = BaselineHistory(profile, previous=3)
    for i in (0, 1, 3):  # window 2 is a gap: nothing arrived
        h.push(i, sketch(profile, {"x": np.zeros(10 * (i + 1))}))
    assert h.baselines(4)["previous_3"].n == 20 + 40  # windows 1 and 3
    assert sorted(h.windows) == [1, 3]  # window 0 can no longer be reached
    assert h.baselines(10) == {}
    assert h.names == ("previous_3",)


def test_history_snapshot_restore_gives_identical_baselines(profile):
    h = BaselineHistory(profile, previous=2, period=PERIOD)
    rng = np.random.default_rng(1)
    for t in range(9):
        h.push(t, sketch(profile, seasonal(rng, t, 300)))
    again = BaselineHistory.restore(profile, h.snapshot())
    assert again.snapshot() == h.snapshot()
    for name, base in h.baselines(9).items():
        assert again.baselines(9)[name].snapshot() == base.snapshot()


def test_seasonality_alarms_against_the_reference_not_against_last_period(profile):
    settings = DriftSettings(numeric=(TestSpec("ks", "auto"),), baselines=(1, PERIOD))
    suite, h = DriftSuite(profile, settings), BaselineHistory(profile, *settings.baselines)
    rng = np.random.default_rng(2)
    alarms: dict[str, int] = {}
    for t in range(4 * PERIOD):
        w = sketch(profile, seasonal(rng, t))
        results = list(suite.evaluate(w))
        for name, base in h.baselines(t).items():
            results += suite.evaluate(w, base, name)
        h.push(t, w)
        for r in results:
            alarms[r.baseline] = alarms.get(r.baseline, 0) + r.drifted
    assert alarms["reference"] >= 2 * PERIOD  # most of the cycle is far from the reference
    assert alarms[f"last_period_{PERIOD}"] == 0
    # The previous window is one step of the cycle away (0.4 sd): "it changed since the last window".
    assert alarms["previous_1"] >= PERIOD


def test_results_carry_their_baseline_and_a_distinct_stored_name(profile):
    suite = DriftSuite(profile, DriftSettings(numeric=(TestSpec("psi", 0.2), TestSpec("ks"))))
    rng = np.random.default_rng(3)
    w, base = sketch(profile, {"x": rng.normal(1, 1, 1000)}), sketch(profile, {"x": rng.normal(1, 1, 1000)})
    ref = suite.evaluate(w)
    rolled = suite.evaluate(w, base, "previous_1")
    assert [(r.baseline, r.stored_test, r.drifted) for r in ref] == [("reference", "psi", True), ("reference", "ks", True)]
    assert [(r.baseline, r.stored_test, r.drifted) for r in rolled] == [
        ("previous_1", "psi@previous_1", False), ("previous_1", "ks@previous_1", False)]
    # A baseline keeps its own persistence history: the reference's verdicts are not changed by it.
    assert [r.drifted for r in suite.evaluate(w)] == [True, True]


@pytest.mark.parametrize("bad", [(-1, 0), (0, 5000), (1,), (True, 0)])
def test_baselines_setting_is_validated(bad):
    with pytest.raises(DetectorConfigError, match="baselines"):
        DriftSettings(baselines=bad)

from __future__ import annotations

import json

import numpy as np
import pytest
from driftline.detectors import (
    DriftSettings,
    DriftSuite,
    ReferenceProfile,
    TestSpec,
    WindowSketch,
    make_detector,
)
from driftline.detectors.calibration import LADDER, Calibration, alpha_for
from driftline.detectors.errors import DetectorStateError
from driftline.detectors.null_statistics import NULL_STATISTICS

KINDS = {"a": "numeric", "b": "numeric", "c": "categorical"}
LETTERS = np.array(list("pqrstu"), dtype=object)


def stable(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """No-change data: a continuous feature, a discrete one (ties) and a categorical one."""
    return {"a": rng.normal(0, 1, n), "b": rng.integers(0, 20, n).astype(float),
            "c": rng.choice(LETTERS, n, p=[0.4, 0.2, 0.15, 0.1, 0.1, 0.05])}


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    return ReferenceProfile.from_columns(KINDS, stable(20_000, np.random.default_rng(1)))


NUMERIC = [("moments", {}), ("ranks", {}), ("ranks", {"scores": "wilcoxon"}), ("psi", {}), ("psi", {"bins": 10}), ("ks", {}), ("wasserstein", {}), ("wasserstein", {"normalise": "none"}),
           ("jensen_shannon", {}), ("hellinger", {}), ("l_infinity", {})]
CATEGORICAL = [("psi", {}), ("chi2", {}), ("jensen_shannon", {}), ("hellinger", {}), ("l_infinity", {}),
               ("unseen_share", {})]


@pytest.mark.parametrize(("feature", "name", "params"),
                         [("a", n, p) for n, p in NUMERIC] + [("b", n, p) for n, p in NUMERIC]
                         + [("c", n, p) for n, p in CATEGORICAL])
def test_null_statistics_equal_compare_row_by_row(profile, feature, name, params):
    # The vectorised statistics the calibration resamples must be exactly what the live test computes.
    test = make_detector(name, **params)
    ref = profile.features[feature]
    rng = np.random.default_rng(7)
    windows = []
    for size in (60, 300, 300, 2_000):
        w = WindowSketch(profile)
        w.update(stable(size, rng))
        windows.append(w.features[feature])
    if ref.kind == "numeric":
        cur = np.stack([w.grid.counts for w in windows])
        refs = np.tile(ref.grid_counts.counts, (len(windows), 1))
    else:
        cur = np.stack([np.append(w.counts, w.unseen) for w in windows])
        refs = np.tile(np.append(ref.counts, ref.other), (len(windows), 1))
    vectorised = NULL_STATISTICS[name](test, ref, refs, cur)
    one_by_one = [test.compare(ref, w)[0] for w in windows]
    np.testing.assert_allclose(vectorised, one_by_one, rtol=1e-9, atol=1e-12)


def test_calibrated_p_values_are_uniform_enough_and_shrink_with_the_statistic(profile):
    ks = make_detector("ks")
    cal = Calibration(draws=2_000)
    ref = profile.features["a"]
    ps = [cal.p_value(ref, "a", ks, d, 500) for d in (0.0, 0.03, 0.06, 0.09, 0.2)]
    assert ps == sorted(ps, reverse=True) and ps[0] == 1.0 and ps[-1] < 1e-6
    # Only the two ladder sizes around 500 were fitted, on demand.
    assert sorted(s for _, _, s in cal.fits) == [400, 566]


def test_calibration_round_trips_with_the_profile_and_is_computed_once(profile, tmp_path):
    ref = ReferenceProfile.from_dict(profile.to_dict())  # a fresh copy with no fits yet
    suite = DriftSuite(ref, DriftSettings(numeric=(TestSpec("ks", "auto"),), categorical=(TestSpec("chi2", "auto"),)))
    w = WindowSketch(ref)
    w.update(stable(700, np.random.default_rng(3)))
    before = [(r.p_value, r.drifted) for r in suite.evaluate(w)]
    fits = dict(ref.calibration.fits)
    assert len(fits) == 6  # 3 features x the 2 ladder sizes around 700
    ref.save(tmp_path / "ref.json")
    loaded = ReferenceProfile.load(tmp_path / "ref.json")
    assert loaded.calibration.fits == fits and loaded.to_dict() == ref.to_dict()
    assert json.loads((tmp_path / "ref.json").read_text())["format_version"] == 2
    # The loaded fits are used as they are: no refit, identical p-values.
    again = [(r.p_value, r.drifted) for r in DriftSuite(loaded, suite.settings).evaluate(
        WindowSketch.restore(loaded, w.snapshot()))]
    assert again == before and loaded.calibration.fits == fits
    # The calibration is not part of the reference's identity (checkpoint digests stay stable).
    assert ref.to_dict(calibration=False) == profile.to_dict(calibration=False)


def test_a_damaged_calibration_is_refused(profile):
    d = profile.to_dict()
    d["calibration"] = {"draws": 4000, "seed": 0, "fits": [["a", "ks", "big", [1.0]]]}
    with pytest.raises(DetectorStateError, match="calibration.fits"):
        ReferenceProfile.from_dict(d)


def test_calibration_is_deterministic(profile):
    psi = make_detector("psi")
    a, b = Calibration(draws=500), Calibration(draws=500)
    assert a.p_value(profile.features["a"], "a", psi, 0.02, 1_000) == b.p_value(profile.features["a"], "a", psi,
                                                                               0.02, 1_000)
    assert a.fits == b.fits


def test_alpha_for_inverts_the_persistence_approximation():
    assert alpha_for(0.01, 5, (1, 1)) == 0.01
    k, n, m = 2, 3, 5
    alpha = alpha_for(0.01, m, (k, n))
    assert m * 3 * (alpha / m) ** k == pytest.approx(0.01)
    assert LADDER[0] == 50 and LADDER[-1] == 1_638_400


# The calibration alone (one test per p-value, Benjamini-Hochberg, no accumulation) at a target of 1 per 50
# windows; then the default (wasserstein + ranks + moments combined per feature, chi2, Holm, two windows
# accumulated) at its own target, 1 per 200: 1.05x of it on these streams (0.92x of 1 per 100).
@pytest.mark.parametrize(("persistence", "size", "default", "windows"), [
    ((1, 1), 200, False, 2_500), ((1, 1), 1_500, False, 2_500), ((2, 3), 300, False, 2_500),
    ((1, 1), 200, True, 8_000)])
def test_achieved_false_alarm_rate_on_held_out_no_change_streams(profile, persistence, size, default, windows):
    # Held-out: fresh no-change windows, never the reference's own values.
    if default:
        settings = DriftSettings(persistence=persistence)
    else:
        settings = DriftSettings(numeric=(TestSpec("psi", "auto"), TestSpec("ks", "auto")),
                                 categorical=(TestSpec("chi2", "auto"),), persistence=persistence, target=(1, 50),
                                 correction="bh", accumulate=1)
    suite = DriftSuite(profile, settings)
    rng = np.random.default_rng(size + persistence[0])
    alarms, drifted = 0, False
    for _ in range(windows):
        w = WindowSketch(profile)
        w.update(stable(size, rng))
        now = any(r.drifted for r in suite.evaluate(w))
        alarms += now and not drifted
        drifted = now
    rate = alarms / windows
    assert settings.target_rate / 1.5 <= rate <= settings.target_rate * 1.5, rate


@pytest.mark.parametrize(("name", "params"), [(n, p) for n, p in NUMERIC if n != "l_infinity"])
def test_extreme_values_get_the_smallest_p_value_instead_of_an_overflow(profile, name, params):
    """A producer's 1e308 (valid JSON) makes some statistics huge: their square overflows a float."""
    suite = DriftSuite(profile, DriftSettings(numeric=(TestSpec(name, "auto", params),),
                                              categorical=(TestSpec("chi2", "auto"),)))
    w = WindowSketch(profile)
    data = stable(500, np.random.default_rng(9))
    data["a"][:5] = [1e308, -1e308, 1e308, 1e300, -1e300]
    w.update(data)
    results = {r.feature: r for r in suite.evaluate(w)}
    assert results["a"].p_value is not None and 0.0 <= results["a"].p_value <= 1.0


def test_calibrate_fits_the_window_sizes_and_the_accumulated_ones(profile):
    ref = ReferenceProfile.from_dict(profile.to_dict(calibration=False))  # no fits from the other tests
    settings = DriftSettings(numeric=(TestSpec("ks", "auto"),), categorical=(TestSpec("chi2", "auto"),), accumulate=3)
    assert DriftSuite(ref, settings).calibrate([700]) == 3 * 5  # 3 features x 5 distinct sizes
    # 700, 1,400 and 2,100 events: the ladder sizes around each, per feature.
    assert sorted({s for _, _, s in ref.calibration.fits}) == [566, 800, 1131, 1600, 2263]


def test_calibrate_on_a_ladder_size_fits_its_neighbours_for_windows_one_event_off(profile):
    ref = ReferenceProfile.from_dict(profile.to_dict(calibration=False))
    settings = DriftSettings(numeric=(TestSpec("ks", "auto"),), categorical=(TestSpec("chi2", "auto"),), accumulate=1)
    DriftSuite(ref, settings).calibrate([400])  # on the ladder: 399 and 401 events interpolate with 283 and 566
    assert sorted({s for _, _, s in ref.calibration.fits}) == [283, 400, 566]
    held = len(ref.calibration)
    suite = DriftSuite(ref, settings)
    for n in (399, 400, 401):
        w = WindowSketch(ref)
        w.update(stable(n, np.random.default_rng(n)))
        suite.evaluate(w)
    assert len(ref.calibration) == held  # no window made a fit


@pytest.mark.parametrize(("name", "params"), [("wasserstein", {"normalise": "iqr"}), ("moments", {})])
def test_a_null_whose_every_draw_overflows_tells_nothing_apart(name, params):
    # A reference holding values near 1e308: every resampled statistic is inf (nothing to fit).
    rng = np.random.default_rng(8)
    values = np.concatenate([rng.normal(0, 1, 2000), [1.7e308, -1.7e308, 1.5e308]])
    ref = ReferenceProfile.from_columns({"x": "numeric"}, {"x": values})
    test = make_detector(name, **params)
    profile = ref.features["x"]
    assert ref.calibration.p_value(profile, "x", test, 0.5, 500) == 1.0
    assert ref.calibration.p_value(profile, "x", test, float("inf"), 500) <= 1e-299
    json.dumps(ref.calibration.to_dict(), allow_nan=False)  # the fit stays JSON

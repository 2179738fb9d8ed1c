"""Every numeric feature's tests at once (detectors/batch_tests.py, batch_calibration.py) equal one at a time."""

from __future__ import annotations

import math

import numpy as np
import pytest
from driftline.detectors import (
    Calibration,
    DriftSettings,
    DriftSuite,
    ReferenceProfile,
    TestSpec,
    WindowSketch,
)
from driftline.detectors.batch_calibration import FitStack, interp_rows
from driftline.detectors.batch_chi2 import chi2_rows
from driftline.detectors.batch_tests import batched, stacks
from driftline.detectors.calibration import _BULK_LEVELS
from driftline.detectors.distances import chi2_homogeneity
from driftline.detectors.drift_registry import (
    ChiSquare,
    KolmogorovSmirnov,
    PopulationStabilityIndex,
    WassersteinDistance,
)
from driftline.detectors.grid import cell_widths
from driftline.detectors.moment_tests import MomentsTest, RanksTest

SHAPES = ("normal", "ties", "huge", "constant", "lognormal", "rounded", "no_reference")


def _values(shape: str, n: int, rng: np.random.Generator, shift: float = 0.0) -> np.ndarray:
    if shape == "ties":  # a few distinct values: the grid is the values, many cells empty in a window
        return rng.integers(0, 6, n).astype(float) + round(shift)
    if shape == "huge":  # the float64 limit on either side, now and then
        x = rng.normal(shift, 1, n)
        return np.where(rng.random(n) < 0.02, rng.choice([1e308, -1e308]), x)
    if shape == "constant":  # std 0: wasserstein's scale is 0
        return np.full(n, 3.0) + (rng.random(n) < abs(shift) / 4)
    if shape == "lognormal":
        return rng.lognormal(shift, 1.0, n)
    if shape == "rounded":
        return np.round(rng.normal(50 + 5 * shift, 10, n), int(rng.integers(0, 3)))
    if shape == "no_reference":  # no finite reference value: never tested
        return np.full(n, np.nan) if shift == 0 else rng.normal(0, 1, n)
    return rng.normal(shift, 1 + shift / 5, n)


def _reference(shapes: list[str], rng: np.random.Generator) -> ReferenceProfile:
    kinds = {f"f{j}_{s}": "numeric" for j, s in enumerate(shapes)} | {"c": "categorical", "d": "categorical"}
    rows = int(rng.integers(300, 4000))
    columns = {name: _values(name.split("_", 1)[1], rows, rng) for name in kinds if name not in ("c", "d")}
    for x in columns.values():
        x[rng.random(rows) < 0.05] = np.nan
    columns["c"] = rng.choice(np.array(["a", "b", "c"], dtype=object), rows)
    columns["d"] = rng.choice(np.array(list("abcdefghijkl"), dtype=object), rows, p=np.arange(12, 0, -1) / 78)
    ref = ReferenceProfile.from_columns(kinds, columns)
    # The fewest resampling draws: the fits are as valid a test of the two paths, and cheap.
    return ReferenceProfile(ref.features, ref.n, ref.bins, ref.max_categories, ref.reservoir_size, ref.seed,
                            calibration=Calibration(draws=200))


def _window(ref: ReferenceProfile, rng: np.random.Generator) -> WindowSketch:
    n = int(rng.integers(1, 1500))
    columns = {}
    for name in ref.features:
        if name == "c":
            columns[name] = rng.choice(np.array(["a", "b", "z"], dtype=object), n)
        elif name == "d":  # a few of its many categories (empty cells), unseen ones, or none at all
            pool = np.array([*"abcdefghijkl"[: int(rng.integers(1, 13))], "y", None], dtype=object)
            columns[name] = rng.choice(pool, n) if rng.random() < 0.8 else np.full(n, None, dtype=object)
        elif rng.random() < 0.15:  # a feature with no value in this window (absent or all NaN)
            if rng.random() < 0.5:
                columns[name] = np.full(n, np.nan)
        else:
            x = _values(name.split("_", 1)[1], n, rng, shift=float(rng.choice([0.0, 0.0, 0.1, 1.0])))
            x[rng.random(n) < 0.1] = np.nan
            columns[name] = x
    w = WindowSketch(ref)
    w.update(columns)
    return w


def _same(a, b) -> None:
    """Two result lists equal: the same rows and verdicts, numbers to 1e-12 relative."""
    assert [(r.feature, r.test, r.corrected, r.baseline) for r in a] == [(r.feature, r.test, r.corrected, r.baseline) for r in b]
    for x, y in zip(a, b, strict=True):
        assert (x.drifted, x.raw_drifted, x.threshold) == (y.drifted, y.raw_drifted, y.threshold), (x, y)
        for u, v in ((x.statistic, y.statistic), (x.p_value, y.p_value), (x.adjusted_p_value, y.adjusted_p_value)):
            assert (u is None) == (v is None), (x, y)
            if u is not None and not (math.isnan(u) and math.isnan(v)):
                assert u == pytest.approx(v, rel=1e-12, abs=0.0), (x, y)


NUMERIC = {
    "default": DriftSettings().numeric,
    "all": (TestSpec("wasserstein", "auto"), TestSpec("ranks", "auto", params={"scores": "normal"}),
            TestSpec("ks", "auto"), TestSpec("ks"), TestSpec("wasserstein", params={"normalise": "none"}),
            TestSpec("wasserstein", params={"normalise": "iqr"}), TestSpec("ranks"), TestSpec("psi", "auto"),
            TestSpec("moments")),
}


@pytest.mark.parametrize("tests", sorted(NUMERIC))
@pytest.mark.parametrize("seed", range(6))
def test_batched_suite_equals_one_feature_at_a_time(seed, tests):
    rng = np.random.default_rng([seed, len(tests)])
    shapes = [SHAPES[0]] if seed == 0 else list(rng.choice(SHAPES, int(rng.integers(2, 12))))  # seed 0: one feature
    ref = _reference(shapes, rng)
    settings = DriftSettings(numeric=NUMERIC[tests], accumulate=int(rng.integers(1, 4)))
    fast, slow = DriftSuite(ref, settings), DriftSuite(ref, settings, batch=False)
    assert all(fast._batched.values()) and not any(slow._batched.values())
    previous = None
    for _ in range(4):  # successive windows: the merges of the last ones (accumulate) too
        w = _window(ref, rng)
        _same(fast.evaluate(w), slow.evaluate(w))
        if previous is not None:  # against another window's counts
            _same(fast.evaluate(w, previous, "previous"), slow.evaluate(w, previous, "previous"))
        previous = w


def test_the_merge_p_values_are_batched_too():
    rng = np.random.default_rng(7)
    ref = _reference(["normal", "rounded", "ties", "lognormal"], rng)
    suite = DriftSuite(ref, DriftSettings(accumulate=2))
    a, b = WindowSketch(ref), WindowSketch(ref)
    for w in (a, b):
        w.update({n: _values(n.split("_", 1)[1], 300, rng, 0.1) for n in ref.features if n not in ("c", "d")}
                 | {"c": rng.choice(np.array(["a", "b"], dtype=object), 300), "d": np.full(300, "a", dtype=object)})
    merged = WindowSketch(ref)
    merged.merge(a)
    merged.merge(b)
    done = suite._compare_batched(b, None, merged)
    assert len(done) == 4 * len(DriftSettings().numeric) + 2
    for (name, i), (statistic, p_value, p_merged) in done.items():
        profile = ref.features[name]
        test = suite._tests[profile.kind][i]
        assert statistic == test.compare(profile, b.features[name])[0]
        assert p_value == ref.calibration.p_value(profile, name, test, statistic, b.features[name].n)
        assert p_merged == suite._p_recent(profile, name, test, merged.features[name], True)


def test_only_the_covered_tests_are_batched():
    tests = (WassersteinDistance(), RanksTest(), KolmogorovSmirnov(), ChiSquare(), PopulationStabilityIndex(), MomentsTest())
    assert [t.name for t in tests if batched(t)] == ["wasserstein", "ranks", "ks", "chi2", "moments"]
    assert not batched(KolmogorovSmirnov(method="scipy"))


def test_features_are_stacked_by_grid_length():
    rng = np.random.default_rng(3)
    ref = _reference(["normal", "normal", "ties", "no_reference", "rounded"], rng)
    s = stacks(ref)
    assert stacks(ref) is s and "f3_no_reference" not in s.names
    assert sorted(j for g in s.groups for j in g.tolist()) == list(range(len(s.names)))
    for k, g in enumerate(s.groups):
        assert len({len(s.profiles[j].grid) for j in g.tolist()}) == 1
        counts, widths, _ = s.reference_rows(k)
        for row, j in enumerate(g.tolist()):
            assert counts[row].tolist() == s.profiles[j].grid_counts.counts.tolist()
            assert widths[row].tolist() == cell_widths(s.profiles[j].grid).tolist()  # bit for bit


def test_interp_rows_is_np_interp_row_by_row():
    rng = np.random.default_rng(0)
    fp = 1.0 - _BULK_LEVELS
    xp = np.sort(rng.gamma(2.0, 1.0, (400, len(fp))), axis=1)
    xp[::7, 3:6] = xp[::7, 3:4]  # ties
    xp[::11, 6] = xp[::11, 7] + 1.0  # not increasing
    xp[5, 9:] = [1e308, np.inf]  # an infinite gap
    xp[6] = [-1e308, *np.linspace(1.5e308, 1.7e308, len(fp) - 1)]  # x - xp[j] overflows: np.interp's fallback
    xp[8] = [-1e308, *[np.inf] * (len(fp) - 1)]  # both ways overflow: the flat segment's value
    x = np.concatenate([rng.uniform(-0.5, 8.0, 300), xp[300:350, 4], xp[350:, 0] - 1e-9])
    x[5] = x[6] = x[8] = 1e308
    for f in (fp, np.concatenate([fp[:1], fp[:-1]])):  # the second with a flat first segment
        expected = [np.interp(v, row, f, left=1.0) for v, row in zip(x, xp, strict=True)]
        np.testing.assert_array_equal(interp_rows(x, xp, f, left=1.0), expected)  # NaN where np.interp's is


@pytest.mark.parametrize("test", [WassersteinDistance(), RanksTest(), KolmogorovSmirnov(), MomentsTest()])
def test_fit_stack_p_values_equal_calibration_p_value(test):
    rng = np.random.default_rng(1)
    ref = _reference(["normal", "ties", "lognormal"], rng)
    names = [n for n in ref.features if n != "c"]
    profiles = [ref.features[n] for n in names]
    stack = FitStack(ref.calibration, names, profiles, test)
    rows = np.repeat(np.arange(3), 40)
    stat = np.concatenate([rng.gamma(1.0, 0.05, 60), rng.gamma(2.0, 2.0, 54), [0.0, np.inf, np.nan, 1e200, 1e-300, 5.0]])
    n = rng.integers(0, 5000, len(rows))
    n[:3] = [0, 1, 50]
    base = rng.integers(1, 5000, len(rows))
    got, got_base = stack.p_values(rows, stat, n), stack.p_values(rows, stat, n, base)
    for j, (r, s, k, b) in enumerate(zip(rows.tolist(), stat.tolist(), n.tolist(), base.tolist(), strict=True)):
        assert got[j] == ref.calibration.p_value(profiles[r], names[r], test, s, k)
        assert got_base[j] == ref.calibration.p_value(profiles[r], names[r], test, s, k, b)


def test_chi2_rows_equal_chi2_homogeneity():
    rng = np.random.default_rng(4)
    pairs = []
    for _ in range(2000):  # 0 to 11 categories, empty ones on either side, an empty side now and then
        k = int(rng.integers(0, 12))
        ref = rng.integers(0, 3, k) * rng.integers(0, 1000, k)
        cur = rng.integers(0, 2, k) * rng.integers(0, 300, k) * (rng.random() > 0.05)
        pairs.append((ref, cur))
    stat, p = chi2_rows([a for a, _ in pairs], [b for _, b in pairs])
    assert list(zip(stat.tolist(), p.tolist(), strict=True)) == [chi2_homogeneity(a, b) for a, b in pairs]

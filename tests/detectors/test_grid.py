"""The fine grid's KS, Wasserstein and PSI checked against scipy and Evidently on the same samples."""

from __future__ import annotations

import numpy as np
import pytest
from driftline.detectors import (
    KolmogorovSmirnov,
    PopulationStabilityIndex,
    ReferenceProfile,
    WassersteinDistance,
    WindowSketch,
)
from driftline.detectors.distances import ks_grid, psi, wasserstein_grid
from driftline.detectors.grid import GRID_LEVELS
from scipy import stats


def sides(ref_values, cur_values):
    ref = ReferenceProfile.from_columns({"x": "numeric"}, {"x": ref_values})
    w = WindowSketch(ref)
    w.update({"x": cur_values})
    return ref.features["x"], w.features["x"]


@pytest.mark.parametrize("seed", range(3))
def test_on_a_lattice_ks_and_wasserstein_equal_scipy_on_all_the_values(seed):
    rng = np.random.default_rng(seed)
    # Heavy ties: 40-odd distinct values, the discreteness the reservoir KS got wrong.
    ref_values = np.round(rng.normal(6, 2, 50_000))
    cur_values = np.round(rng.normal(6.2, 2.1, 8_000))
    p, w = sides(ref_values, cur_values)
    assert len(p.grid) <= GRID_LEVELS + 3  # the lattice itself
    d, pv = ks_grid(p.grid_counts, w.grid, "scipy")
    expected = stats.ks_2samp(ref_values, cur_values, method="asymp")
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    assert pv == pytest.approx(expected.pvalue, rel=1e-6)
    assert wasserstein_grid(p.grid, p.grid_counts, w.grid) == pytest.approx(
        stats.wasserstein_distance(ref_values, cur_values), rel=1e-9)


@pytest.mark.parametrize(("shift", "scale"), [(0.0, 1.0), (0.05, 1.0), (0.3, 1.2), (1.0, 0.7)])
def test_on_continuous_data_the_grid_is_within_one_cell_of_scipy(shift, scale):
    rng = np.random.default_rng(7)
    ref_values = rng.normal(0, 1, 50_000)
    cur_values = rng.normal(shift, scale, 10_000)
    p, w = sides(ref_values, cur_values)
    d, pv = ks_grid(p.grid_counts, w.grid, "scipy")
    expected = stats.ks_2samp(ref_values, cur_values, method="asymp")
    cell = max(p.grid_counts.counts.max() / p.n, w.grid.counts.max() / w.n)
    assert expected.statistic - cell - 1e-12 <= d <= expected.statistic + 1e-12
    # W1: each value moves by less than its cell's width, and most cells are narrow.
    assert wasserstein_grid(p.grid, p.grid_counts, w.grid) == pytest.approx(
        stats.wasserstein_distance(ref_values, cur_values), rel=0.03, abs=0.003)


def test_the_tests_use_every_value_not_a_sample():
    rng = np.random.default_rng(3)
    ref_values = rng.normal(0, 1, 50_000)
    cur_values = rng.normal(0.05, 1, 10_000)  # the mild shift 2,000-value reservoirs missed
    p, w = sides(ref_values, cur_values)
    d, pv = KolmogorovSmirnov(method="scipy").compare(p, w)
    assert pv < 0.01 and stats.ks_2samp(ref_values, cur_values).pvalue < 0.01
    stat, _ = WassersteinDistance().compare(p, w)
    assert stat == pytest.approx(stats.wasserstein_distance(ref_values, cur_values) / np.std(ref_values), rel=0.05)


def evidently_psi(ref_values, cur_values):
    """Evidently 0.7's numeric PSI: Sturges equal-width bins over both samples, empty share 0.0001."""
    bins = np.histogram_bin_edges(np.concatenate([ref_values, cur_values]), bins="sturges")
    r = np.histogram(ref_values, bins)[0] / len(ref_values)
    c = np.histogram(cur_values, bins)[0] / len(cur_values)
    r, c = np.where(r == 0, 1e-4, r), np.where(c == 0, 1e-4, c)
    return float(np.sum((r - c) * np.log(r / c)))


@pytest.mark.parametrize(("shift", "scale"), [(0.0, 1.5), (0.0, 1.3), (0.3, 1.0), (1.0, 1.0)])
def test_psi_on_normal_data_is_close_to_evidently_where_deciles_lost_the_scale_change(shift, scale):
    rng = np.random.default_rng(11)
    ref_values = np.round(rng.normal(80, 30, 50_000), 1)
    cur_values = np.round(rng.normal(80 + 30 * shift, 30 * scale, 10_000), 1)
    p, w = sides(ref_values, cur_values)
    ours = PopulationStabilityIndex().compare(p, w)[0]
    deciles = PopulationStabilityIndex(bins="reference").compare(p, w)[0]
    theirs = evidently_psi(ref_values, cur_values)
    assert ours == pytest.approx(theirs, rel=0.1)
    if shift == 0.0:  # a change of scale, as the f2: deciles lose a third or more of it
        assert deciles < 0.75 * ours


def test_psi_bins_are_robust_to_a_long_tail():
    rng = np.random.default_rng(12)
    ref_values = rng.lognormal(0, 1, 50_000)
    cur_values = rng.lognormal(0.3, 1, 10_000)  # the bulk moves by 30 %
    p, w = sides(ref_values, cur_values)
    # Equal-width bins put the bulk into one or two bins and see little; equal normal-score bins see it.
    assert evidently_psi(ref_values, cur_values) < 0.05 < PopulationStabilityIndex().compare(p, w)[0]


def test_pseudo_counts_keep_an_empty_bin_of_a_small_window_from_dominating():
    ref = np.full(17, 1000)
    cur = np.array([3] * 16 + [0])  # a 48-row window that happened to miss one bin
    assert psi(ref, cur) > 0.3  # Evidently's eps rule: one empty bin alone is over the threshold
    assert psi(ref, cur, pseudo_count=0.5) < 0.1

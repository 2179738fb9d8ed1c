"""The ``ranks`` test: rank and normal-score z's on the fine grid's counts, checked against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from driftline.detectors import ReferenceProfile, WindowSketch, make_detector
from driftline.detectors.errors import DetectorConfigError
from driftline.detectors.ranks import rank_z
from scipy import special, stats


def counts_of(window: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each side's counts over the pooled distinct values, in order: the cells of an exact grid."""
    values = np.unique(np.concatenate([window, reference]))
    return (np.searchsorted(values, reference)[:, None] == np.arange(len(values))).sum(axis=0)[None, :], \
        (np.searchsorted(values, window)[:, None] == np.arange(len(values))).sum(axis=0)[None, :]


SAMPLES = {
    "continuous": lambda rng: (rng.normal(0.15, 1.2, 400), rng.normal(0, 1, 3_000)),
    "ties": lambda rng: (rng.poisson(4.4, 400).astype(float), rng.poisson(4.0, 3_000).astype(float)),
    "skewed": lambda rng: (rng.lognormal(0.1, 0.5, 400), rng.lognormal(0, 0.6, 3_000)),
}


@pytest.mark.parametrize("kind", SAMPLES)
def test_wilcoxon_scores_are_scipys_mann_whitney_and_mood(kind):
    window, reference = SAMPLES[kind](np.random.default_rng(2))
    ref, cur = counts_of(window, reference)
    z_loc, z_scale = rank_z(ref, cur, "wilcoxon")[0]
    mw = stats.mannwhitneyu(window, reference, use_continuity=False, method="asymptotic")  # tie-corrected
    assert abs(z_loc) == pytest.approx(stats.norm.isf(mw.pvalue / 2), rel=1e-9)
    assert np.sign(z_loc) == np.sign(mw.statistic - len(window) * len(reference) / 2)
    assert z_scale == pytest.approx(stats.mood(window, reference).statistic, rel=1e-9)  # Mielke's tie scores


def _normal_score_z(window: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Brute force on the raw values: each value's mean of x and x^2 (x = Phi^-1(u)) over its tie
    group's share of the pooled ranks, then the permutation z of the window's sum."""
    pooled = np.concatenate([window, reference])
    total, n, big = len(pooled), len(window), len(reference)
    low = (stats.rankdata(pooled, method="min") - 1) / total
    high = stats.rankdata(pooled, method="max") / total
    xa, xb = special.ndtri(low), special.ndtri(high)
    pdf = lambda x: np.where(np.isfinite(x), stats.norm.pdf(np.nan_to_num(x, posinf=0, neginf=0)), 0.0)  # noqa: E731
    loc = (pdf(xa) - pdf(xb)) / (high - low)
    xpdf = lambda x: np.nan_to_num(x, posinf=0, neginf=0) * pdf(x)  # noqa: E731
    sq = (high - xpdf(xb) - low + xpdf(xa)) / (high - low)
    out = []
    for a in (loc, sq):
        var = n * big / (total * (total - 1)) * ((a - a.mean()) ** 2).sum()
        out.append((a[:n].sum() - n * a.mean()) / np.sqrt(var))
    return tuple(out)


@pytest.mark.parametrize("kind", SAMPLES)
def test_normal_scores_match_a_brute_force_on_the_raw_values(kind):
    window, reference = SAMPLES[kind](np.random.default_rng(3))
    ref, cur = counts_of(window, reference)
    np.testing.assert_allclose(rank_z(ref, cur, "normal")[0], _normal_score_z(window, reference), rtol=1e-9)


def test_normal_scores_are_close_to_van_der_waerden_and_klotz_without_ties():
    window, reference = SAMPLES["continuous"](np.random.default_rng(4))
    ref, cur = counts_of(window, reference)
    pooled = np.concatenate([window, reference])
    a = stats.norm.ppf(stats.rankdata(pooled) / (len(pooled) + 1))  # the textbook scores
    n, big, total = len(window), len(reference), len(pooled)
    textbook = [(s[:n].sum() - n * s.mean()) / np.sqrt(n * big / (total * (total - 1)) * ((s - s.mean()) ** 2).sum())
                for s in (a, a * a)]
    np.testing.assert_allclose(rank_z(ref, cur, "normal")[0], textbook, rtol=0.03)


def test_the_null_has_a_normal_scale_and_tail_on_a_log_normal():
    # Distribution-free: windows drawn from the population (values beyond the reference's range included)
    # against one 10,000-value log-normal reference. Both z's have the scale of a normal's; the max of the two passes
    # 3.29 (0.002 for two independent normals) about as often as a normal pair would, where ``moments``'
    # variance z, scaled by the kurtosis, still has a tail several times too heavy (its calibrated p-values
    # flagged the bench's log-normal several times too often at 5e-4).
    rng = np.random.default_rng(5)
    profile = ReferenceProfile.from_columns({"x": "numeric"}, {"x": rng.lognormal(0, 0.6, 10_000)})
    p = profile.features["x"]
    windows, z_moments = [], []
    for _ in range(3_000):
        w = WindowSketch(profile)
        w.update({"x": rng.lognormal(0, 0.6, 1_000)})
        windows.append(w.features["x"].grid.counts)
        z_moments.append(make_detector("moments").compare(p, w.features["x"])[0])
    tails = {}
    for scores in ("normal", "wilcoxon"):
        z = rank_z(p.grid_counts.counts[None, :], np.stack(windows), scores)
        # The reference is fixed: its share of the variance, n / (n + N), is the mean's offset (its own draw,
        # sd 0.3 here), the same for every window; the windows' spread is the rest.
        assert np.all(np.abs(z.std(axis=0) - np.sqrt(10 / 11)) < 0.04) and np.all(np.abs(z.mean(axis=0)) < 0.9), scores
        tails[scores] = np.mean(np.abs(z).max(axis=1) > 3.29)
    tails["moments"] = np.mean(np.array(z_moments) > 3.29)
    # 0.0017 and 0.004 (this reference's offset included) against 0.008 for moments.
    assert tails["normal"] < 0.003 and tails["wilcoxon"] < 0.006 and tails["moments"] > 0.006, tails


def test_the_test_on_a_lattice_equals_scipy_on_the_raw_values():
    # On discrete data the grid's cells are the values: the counts' statistic is the raw values' one.
    rng = np.random.default_rng(6)
    # Within the reference's range: beyond it the grid's outer cell ties values that the raw ranks tell apart.
    reference, window = rng.integers(0, 30, 20_000).astype(float), rng.integers(1, 30, 2_000).astype(float)
    profile = ReferenceProfile.from_columns({"x": "numeric"}, {"x": reference})
    w = WindowSketch(profile)
    w.update({"x": window})
    z, p = make_detector("ranks").compare(profile.features["x"], w.features["x"])
    mw = stats.mannwhitneyu(window, reference, use_continuity=False, method="asymptotic")
    assert p is None
    assert z == pytest.approx(max(stats.norm.isf(mw.pvalue / 2), abs(stats.mood(window, reference).statistic)))
    z, _ = make_detector("ranks", scores="normal").compare(profile.features["x"], w.features["x"])
    assert z == pytest.approx(np.abs(_normal_score_z(window, reference)).max(), rel=1e-9)


def test_power_on_a_log_normal_as_on_a_normal():
    # Invariant under a monotone transform: a +0.1 log-mean or a 20 % wider log of a log-normal is found as
    # the same change of a normal would be (a 0.17 sd shift, a 1.2x scale).
    rng = np.random.default_rng(8)
    profile = ReferenceProfile.from_columns({"x": "numeric"}, {"x": rng.lognormal(0, 0.6, 10_000)})
    for log_mean, log_scale in ((0.1, 0.6), (0.0, 0.72)):
        z = {"wilcoxon": [], "normal": []}
        for _ in range(40):
            w = WindowSketch(profile)
            w.update({"x": rng.lognormal(log_mean, log_scale, 1_000)})
            for scores, found in z.items():
                found.append(make_detector("ranks", scores=scores).compare(profile.features["x"], w.features["x"])[0])
        assert all(np.median(found) > 4.5 for found in z.values()), (log_mean, log_scale, z)


def test_degenerate_counts_and_parameters():
    empty, some = np.zeros((1, 4)), np.array([[0, 3, 5, 0]])
    assert rank_z(some, empty).tolist() == [[0.0, 0.0]]
    assert rank_z(np.array([[0, 9, 0, 0]]), np.array([[0, 4, 0, 0]]), "normal").tolist() == [[0.0, 0.0]]  # all tied
    larger = rank_z(np.array([[5, 5, 5, 5]]), np.array([[0, 0, 5, 5]]))[0]
    assert larger[0] > 0
    with pytest.raises(DetectorConfigError, match="scores"):
        make_detector("ranks", scores="savage")

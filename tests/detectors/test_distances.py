"""Statistics checked against scipy and against Evidently's PSI formula written out."""

from __future__ import annotations

import numpy as np
import pytest
from driftline.detectors import (
    chi2_homogeneity,
    hellinger,
    jensen_shannon,
    ks_two_sample,
    l_infinity,
    psi,
    wasserstein,
)
from scipy import stats
from scipy.spatial.distance import jensenshannon

RNG = np.random.default_rng(42)
REF_COUNTS = np.array([120, 80, 0, 300, 55, 7])
CUR_COUNTS = np.array([100, 95, 4, 250, 0, 20])


def evidently_psi(ref_counts, cur_counts):
    """Evidently: shares, empty bins replaced by 0.0001, sum((cur - ref) * ln(cur / ref))."""
    ref = ref_counts / ref_counts.sum()
    cur = cur_counts / cur_counts.sum()
    ref = np.where(ref == 0, 0.0001, ref)
    cur = np.where(cur == 0, 0.0001, cur)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def test_psi_matches_evidently_definition():
    assert psi(REF_COUNTS, CUR_COUNTS) == pytest.approx(evidently_psi(REF_COUNTS, CUR_COUNTS), rel=1e-12)
    assert psi(REF_COUNTS, REF_COUNTS * 3) == pytest.approx(0.0, abs=1e-15)


def test_jensen_shannon_matches_scipy():
    assert jensen_shannon(REF_COUNTS, CUR_COUNTS) == pytest.approx(jensenshannon(REF_COUNTS, CUR_COUNTS), rel=1e-9)


def test_hellinger_and_l_infinity_definitions():
    p, q = REF_COUNTS / REF_COUNTS.sum(), CUR_COUNTS / CUR_COUNTS.sum()
    assert hellinger(REF_COUNTS, CUR_COUNTS) == pytest.approx(np.sqrt(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)))
    assert l_infinity(REF_COUNTS, CUR_COUNTS) == pytest.approx(np.max(np.abs(p - q)))


def test_chi2_matches_scipy_contingency():
    stat, p = chi2_homogeneity(REF_COUNTS, CUR_COUNTS)
    expected = stats.chi2_contingency(np.vstack([REF_COUNTS, CUR_COUNTS]), correction=False)
    assert stat == pytest.approx(expected.statistic, rel=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)


def test_chi2_drops_categories_empty_on_both_sides():
    stat, p = chi2_homogeneity(np.array([10, 0, 30]), np.array([12, 0, 25]))
    expected = stats.chi2_contingency(np.array([[10, 30], [12, 25]]), correction=False)
    assert (stat, p) == pytest.approx((expected.statistic, expected.pvalue))


@pytest.mark.parametrize(
    ("n", "m", "shift"),
    [(2000, 2000, 0.0), (2000, 2000, 0.07), (2000, 2000, 0.1), (2000, 500, 0.1), (2000, 500, 0.15),
     (300, 2000, 0.3), (300, 2000, 0.1), (2000, 120, 0.2), (50, 70, 1.0)],
)
def test_ks_matches_scipy(n, m, shift):
    a, b = np.sort(RNG.normal(size=n)), RNG.normal(shift, 1, m)
    d, p = ks_two_sample(a, b, method="scipy")
    asymp = stats.ks_2samp(a, b, method="asymp")
    assert d == pytest.approx(asymp.statistic, abs=1e-12)
    assert p == pytest.approx(asymp.pvalue, rel=1e-9)
    d_fast, p_fast = ks_two_sample(a, b)
    assert d_fast == d
    # Documented accuracy of the fast (Stephens) p-value.
    if n * m / (n + m) >= 100:
        assert abs(p_fast - p) <= (max(0.03 * p, 0.0025) if p < 0.2 else 0.012)
    # Documented: within 0.01 of the exact p-value for samples of a few hundred and more.
    if min(n, m) >= 300:
        assert abs(p - stats.ks_2samp(a, b, method="exact").pvalue) < 0.01


@pytest.mark.parametrize("shift", [0.0, 0.5, 3.0])
def test_wasserstein_matches_scipy(shift):
    a, b = np.sort(RNG.normal(size=1500)), RNG.normal(shift, 2, 700)
    assert wasserstein(a, b) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-10)

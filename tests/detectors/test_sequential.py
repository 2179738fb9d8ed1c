"""Confidence sequences: coverage however often one looks, against scipy and numpy; mergeable inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from driftline.detectors import DetectorConfigError, Moments, QuantileSketch
from driftline.detectors.sequential import (
    ArmEstimate,
    difference_interval,
    f1_estimate,
    mixture_z,
    paired_interval,
    quantile_bounds,
    quantile_ratio_interval,
    tau_for,
    unpaired_bounds,
)
from scipy import stats


def test_moments_merge_in_any_order_to_the_numpy_values():
    rng = np.random.default_rng(0)
    parts = [rng.normal(3, 2, n) for n in (10, 250, 1, 77)]
    merged = Moments()
    for p in reversed(parts):
        merged = merged + Moments.of(p)
    whole = np.concatenate(parts)
    assert merged.n == whole.size
    assert merged.mean == pytest.approx(whole.mean()) and merged.variance == pytest.approx(whole.var(ddof=1))
    assert Moments.from_list(merged.to_list()) == merged
    assert Moments.of([1.0, float("nan"), float("inf")]).n == 1  # non-finite values are left out


def test_the_boundary_is_wider_than_a_fixed_sample_test_and_grows_slowly():
    tau = tau_for(1000, 0.05)
    z = mixture_z(np.array([100, 1000, 10_000, 1_000_000]), 0.05, tau)
    assert (z > stats.norm.ppf(0.975)).all()
    assert z[1] == pytest.approx(min(z))  # tightest where it was tuned for... about
    assert z[3] < 2.5 * z[1]  # grows like sqrt(log n)


def test_a_sequence_covers_the_true_difference_at_every_look_at_once():
    """Coverage of the whole path (not of each look) is at least 1 - alpha, checked at every window."""
    rng = np.random.default_rng(1)
    runs, looks = 2000, 200
    a = rng.normal(1.0, 2.0, (runs, looks, 20)).sum(2).cumsum(1)
    b = rng.normal(1.3, 1.0, (runs, looks, 10)).sum(2).cumsum(1)
    na = 20 * np.arange(1, looks + 1)
    nb = 10 * np.arange(1, looks + 1)
    # Known variances stand in for the sample variances here: the property is of the boundary.
    _, lower, upper = unpaired_bounds(a / na, 4.0, na, b / nb, 1.0, nb, alpha=0.05, tau=tau_for(1000, 0.05))
    missed = ((lower > 0.3) | (upper < 0.3)).any(axis=1).mean()
    assert missed <= 0.05
    # A fixed-sample 95% interval read at every look misses far more often: why peeking is unsafe.
    se = np.sqrt(4.0 / na + 1.0 / nb)
    naive = ((np.abs(b / nb - a / na - 0.3) > 1.96 * se).any(axis=1)).mean()
    assert naive > 3 * max(missed, 0.01)


def test_unpaired_interval_against_its_formula():
    a, b = Moments.of([1.0] * 80 + [0.0] * 20), Moments.of([1.0] * 60 + [0.0] * 40)
    cs = difference_interval(a.estimate(), b.estimate(), alpha=0.05)
    va = (a.variance * 100 + (a.variance + b.variance) / 2) / 101 / 100
    vb = (b.variance * 100 + (a.variance + b.variance) / 2) / 101 / 100
    n_eff = (100 * va * 100 + 100 * vb * 100) / 200 / (va + vb)
    radius = math.sqrt(va + vb) * float(mixture_z(n_eff, 0.05, tau_for(1000, 0.05)))
    assert cs.estimate == pytest.approx(-0.2)
    assert (cs.lower, cs.upper) == pytest.approx((-0.2 - radius, -0.2 + radius))
    assert math.isnan(difference_interval(Moments.of([1.0]).estimate(), b.estimate(), alpha=0.05).lower)


def test_all_right_on_both_sides_claims_nothing():
    perfect = Moments.of([1.0] * 500)
    cs = difference_interval(perfect.estimate(), perfect.estimate(), alpha=0.05)
    assert cs.estimate == 0.0 and not cs.above(0) and not cs.below(0)
    tied = paired_interval(Moments.of([0.0] * 500), alpha=0.05)
    assert tied.lower < 0 < tied.upper  # a pseudo-pair of each sign: ties alone decide nothing


def test_paired_beats_unpaired_on_correlated_outcomes():
    rng = np.random.default_rng(2)
    a = (rng.random(2000) < 0.9).astype(float)
    b = a.copy()
    flip = rng.random(2000) < 0.05
    b[flip & (a == 1)] = 0.0  # the challenger loses a few of the champion's right answers
    paired = paired_interval(Moments.of(b - a), alpha=0.05)
    unpaired = difference_interval(Moments.of(a).estimate(), Moments.of(b).estimate(), alpha=0.05)
    assert paired.estimate == pytest.approx(unpaired.estimate)
    assert paired.upper - paired.lower < 0.5 * (unpaired.upper - unpaired.lower)


def test_f1_and_its_delta_method_variance_match_a_bootstrap():
    rng = np.random.default_rng(3)
    truth = rng.random(5000) < 0.3
    pred = np.where(rng.random(5000) < 0.85, truth, ~truth)
    cells = lambda t, p: (int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum()), int((~t & ~p).sum()))  # noqa: E731
    e = f1_estimate(*cells(truth, pred))
    tp, fp, fn, _ = cells(truth, pred)
    assert e.value == pytest.approx(2 * tp / (2 * tp + fp + fn))
    boot = []
    for _ in range(400):
        i = rng.integers(0, 5000, 5000)
        c = cells(truth[i], pred[i])
        boot.append(2 * c[0] / (2 * c[0] + c[1] + c[2]))
    assert math.sqrt(e.variance) == pytest.approx(np.std(boot), rel=0.15)
    assert math.isnan(f1_estimate(0, 0, 0, 10).value)


def test_quantile_sequence_brackets_the_true_quantile_and_ratios():
    rng = np.random.default_rng(4)
    sketch = QuantileSketch()
    values = rng.lognormal(3.0, 0.5, 5000)
    sketch.update(values)
    est, lower, upper = quantile_bounds(sketch, 0.95, alpha=0.05)
    true = math.exp(3.0 + 0.5 * stats.norm.ppf(0.95))
    assert lower < true < upper and est == pytest.approx(np.quantile(values, 0.95), rel=0.03)
    small = QuantileSketch()
    small.update(values[:20])
    assert quantile_bounds(small, 0.95, alpha=0.05)[2] == math.inf  # too few values to bound it above
    other = QuantileSketch()
    other.update(rng.lognormal(3.0, 0.5, 2000))
    same = quantile_ratio_interval(sketch, other, 0.95, alpha=0.05)
    assert same.lower < 1.0 < same.upper


def test_parameters_are_checked_by_name():
    with pytest.raises(DetectorConfigError, match="alpha"):
        tau_for(100, 1.5)
    with pytest.raises(DetectorConfigError, match="q"):
        quantile_bounds(QuantileSketch(), 1.0, alpha=0.05)
    assert ArmEstimate(1.0, 0.1, 3).n == 3

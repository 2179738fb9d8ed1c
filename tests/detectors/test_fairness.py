"""Fairness measures against fairlearn (the oracle, a test extra) on seeded data with known gaps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from driftline.detectors import FairnessThresholds, GroupCounts, fairness_measures, wilson_interval
from driftline.detectors.errors import DetectorConfigError
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    selection_rate,
)
from sklearn.metrics import mean_absolute_error, precision_score

GROUPS = np.array(["a", "b", "c", "d"], dtype=object)


def classification(seed: int, n: int = 4000, approval=(0.5, 0.45, 0.3, 0.5), accuracy=(0.9, 0.8, 0.85, 0.7)):
    """Rows of four groups with known approval rates and accuracies."""
    rng = np.random.default_rng(seed)
    group = rng.choice(GROUPS, size=n, p=[0.4, 0.3, 0.2, 0.1])
    index = np.searchsorted(GROUPS.astype(str), group.astype(str))
    y_pred = (rng.random(n) < np.take(approval, index)).astype(int)
    correct = rng.random(n) < np.take(accuracy, index)
    y_true = np.where(correct, y_pred, 1 - y_pred)
    return y_true, y_pred, group


def counts(y_true, y_pred, group) -> dict[str, GroupCounts]:
    out = {}
    for g in np.unique(group):
        t, p = y_true[group == g] == 1, y_pred[group == g] == 1
        out[str(g)] = GroupCounts(predictions=len(p), selected=int(p.sum()), tp=int((t & p).sum()),
                                  fp=int((~t & p).sum()), tn=int((~t & ~p).sum()), fn=int((t & ~p).sum()))
    return out


def by_measure(results):
    return {r.measure: r for r in results}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_classification_measure_equals_fairlearn(seed):
    y_true, y_pred, group = classification(seed)
    got = by_measure(fairness_measures("g", counts(y_true, y_pred, group), FairnessThresholds(min_group_size=1)))
    kw = {"sensitive_features": group}
    assert got["demographic_parity_difference"].value == pytest.approx(
        demographic_parity_difference(y_true, y_pred, **kw), abs=1e-9)
    assert got["demographic_parity_ratio"].value == pytest.approx(demographic_parity_ratio(y_true, y_pred, **kw),
                                                                  abs=1e-9)
    assert got["equal_opportunity_difference"].value == pytest.approx(
        equal_opportunity_difference(y_true, y_pred, **kw), abs=1e-9)
    assert got["equalized_odds_difference"].value == pytest.approx(
        equalized_odds_difference(y_true, y_pred, **kw), abs=1e-9)
    precision = MetricFrame(metrics=lambda t, p: precision_score(t, p, zero_division=0), y_true=y_true,
                            y_pred=y_pred, sensitive_features=group)
    assert got["predictive_parity_difference"].value == pytest.approx(precision.difference(), abs=1e-9)
    rates = MetricFrame(metrics=selection_rate, y_true=y_true, y_pred=y_pred, sensitive_features=group).by_group
    for g in got["demographic_parity_ratio"].groups:
        assert g.value == pytest.approx(rates[g.group], abs=1e-9)
        assert g.n == int((group == g.group).sum())
    # The known gap: group c approves least (0.3), a or d most (0.5).
    assert got["demographic_parity_ratio"].worst == "c"
    assert got["demographic_parity_ratio"].best in ("a", "d")
    assert got["demographic_parity_ratio"].flagged


@pytest.mark.parametrize("seed", [3, 4])
def test_mae_per_group_and_worst_to_best_ratio_equal_fairlearn(seed):
    rng = np.random.default_rng(seed)
    n = 3000
    group = rng.choice(GROUPS, size=n)
    scale = {"a": 1.0, "b": 1.5, "c": 2.0, "d": 1.1}
    y_true = rng.normal(10, 3, n)
    y_pred = y_true + rng.normal(0, 1, n) * np.array([scale[g] for g in group])
    groups = {}
    for g in GROUPS:
        e = y_true[group == g] - y_pred[group == g]
        groups[g] = GroupCounts(labelled=len(e), abs_error=float(np.abs(e).sum()), sq_error=float(e @ e))
    got = by_measure(fairness_measures("g", groups, FairnessThresholds(min_group_size=1)))
    frame = MetricFrame(metrics=mean_absolute_error, y_true=y_true, y_pred=y_pred, sensitive_features=group)
    assert got["mae_ratio"].value == pytest.approx(1 / frame.ratio(), abs=1e-9)
    assert got["mae_difference"].value == pytest.approx(frame.difference(), abs=1e-9)
    for g in got["mae_ratio"].groups:
        assert g.value == pytest.approx(frame.by_group[g.group], abs=1e-9)
    assert (got["mae_ratio"].worst, got["mae_ratio"].best) == ("c", "a")
    assert got["mae_ratio"].flagged  # 2.0 / 1.0 is far past 1.25 with 750 rows each


def test_equal_rates_are_not_flagged_and_small_groups_do_not_page():
    rng = np.random.default_rng(5)
    equal = {g: GroupCounts(predictions=2000, selected=int(rng.binomial(2000, 0.4))) for g in "abcdef"}
    assert not any(r.flagged for r in fairness_measures("g", equal))
    # A large apparent gap in groups of 12 rows: past the threshold, but not with confidence.
    small = {"a": GroupCounts(predictions=12, selected=8), "b": GroupCounts(predictions=12, selected=4)}
    (diff, ratio) = fairness_measures("g", small, FairnessThresholds(min_group_size=10))
    assert ratio.value == 0.5 and diff.value == pytest.approx(1 / 3)
    assert not ratio.flagged and not diff.flagged and ratio.p_value > 0.05
    # Below min_group_size a group is not compared at all.
    assert fairness_measures("g", small, FairnessThresholds(min_group_size=30)) == []


def test_other_is_never_a_group_and_counts_merge():
    a, b = GroupCounts(predictions=100, selected=50), GroupCounts(predictions=300, selected=60)
    assert a + b == GroupCounts(predictions=400, selected=110)
    results = fairness_measures("g", {"x": a, "y": b, "__other__": GroupCounts(predictions=10_000)})
    assert {g.group for r in results for g in r.groups} == {"x", "y"}


def test_thresholds_are_checked_and_null_never_flags():
    with pytest.raises(DetectorConfigError, match="not a measure"):
        FairnessThresholds(thresholds={"parity": 0.1})
    with pytest.raises(DetectorConfigError, match="min_group_size"):
        FairnessThresholds(min_group_size=0)
    off = FairnessThresholds(thresholds={"demographic_parity_ratio": None, "demographic_parity_difference": None})
    groups = {"a": GroupCounts(predictions=1000, selected=500), "b": GroupCounts(predictions=1000, selected=100)}
    results = fairness_measures("g", groups, off)
    assert results and not any(r.flagged for r in results) and math.isnan(results[0].threshold)


def test_wilson_interval_matches_its_formula_from_statsmodels_tables():
    low, high = wilson_interval(0, 10, 1.959964)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)

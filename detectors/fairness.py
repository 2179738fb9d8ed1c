"""Fairness between the groups of one sensitive key, from per-group counts.

Every measure compares groups two by two and reports the largest gap, as fairlearn's
``method="between_groups"`` does, over the *eligible* groups: those whose denominator
(predictions, actual positives, actual negatives, predicted positives or labelled rows)
holds at least ``min_group_size`` rows. ``__other__`` (values folded by the segment
tracker) is a mixture, not a group, and is never compared.

* ``selection_rate`` (per group): share of predictions of the positive class;
* ``demographic_parity_difference``: largest minus smallest selection rate;
* ``demographic_parity_ratio``: smallest over largest selection rate (disparate impact;
  the four-fifths rule flags it below 0.8);
* ``equal_opportunity_difference``: largest true-positive-rate gap;
* ``equalized_odds_difference``: the larger of the TPR gap and the FPR gap;
* ``predictive_parity_difference``: largest precision gap;
* ``mae_ratio`` (regression): worst (largest) over best (smallest) mean absolute error,
  and ``mae_difference``, their gap.

A measure is *flagged* when it is past its threshold **and** a one-sided z-test says the
gap is past the threshold with confidence: H0 "the true gap between the worst and the
best group is just at the threshold", Bonferroni-corrected over the k(k-1)/2 group pairs
(the pair is chosen after looking). A small group with a wide interval does not page.

mergeable: the input is :class:`GroupCounts` per group, counts and sums that add
(``a + b``), so partial states of partitions merge exactly and in any order; the
measures are a pure function of the merged counts.

>>> groups = {"a": GroupCounts(predictions=400, selected=200), "b": GroupCounts(predictions=400, selected=100)}
>>> [(r.measure, round(r.value, 3), r.worst, r.best, r.flagged) for r in fairness_measures("sex", groups)]
[('demographic_parity_difference', 0.25, 'b', 'a', True), ('demographic_parity_ratio', 0.5, 'b', 'a', True)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from scipy import stats

from ._checks import check_float, check_int
from .errors import DetectorConfigError
from .segments import OTHER

__all__ = ["MEASURES", "OTHER", "FairnessResult", "FairnessThresholds", "GroupCounts", "GroupValue",
           "fairness_measures", "wilson_interval"]

# measure -> (direction of a bad value, default threshold)
MEASURES: dict[str, tuple[str, float]] = {
    "demographic_parity_difference": (">", 0.1),
    "demographic_parity_ratio": ("<", 0.8),
    "equal_opportunity_difference": (">", 0.1),
    "equalized_odds_difference": (">", 0.1),
    "predictive_parity_difference": (">", 0.1),
    "mae_difference": (">", math.inf),  # off by default: an error gap in the target's unit
    "mae_ratio": (">", 1.25),
}


@dataclass(frozen=True, slots=True)
class GroupCounts:
    """Sufficient statistics of one group: prediction side and label side."""

    predictions: int = 0
    selected: int = 0  # predictions of the positive class
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0
    labelled: int = 0  # regression rows with a label
    abs_error: float = 0.0
    sq_error: float = 0.0

    def __add__(self, other: GroupCounts) -> GroupCounts:
        return GroupCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True, slots=True)
class GroupValue:
    """One group's value of the rate (or MAE) a measure compares, with its interval."""

    group: str
    value: float
    n: int
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class FairnessResult:
    """One measure of one sensitive key in one window; ``worst``/``best`` name the groups of the gap."""

    key: str
    measure: str
    value: float
    threshold: float
    flagged: bool
    worst: str
    best: str
    worst_value: float
    best_value: float
    worst_n: int
    best_n: int
    p_value: float  # Bonferroni-adjusted, of H0 "the gap is at the threshold"
    groups: tuple[GroupValue, ...] = field(default=())


@dataclass(frozen=True)
class FairnessThresholds:
    """Threshold per measure (``None``: computed, never flagged), minimum group size and confidence."""

    thresholds: Mapping[str, float | None] = field(default_factory=lambda: {m: t for m, (_, t) in MEASURES.items()})
    min_group_size: int = 30
    confidence: float = 0.95

    def __post_init__(self) -> None:
        unknown = sorted(set(self.thresholds) - set(MEASURES))
        if unknown:
            raise DetectorConfigError(f"thresholds: {unknown[0]!r} is not a measure (expected one of: "
                                      f"{', '.join(MEASURES)})", key="thresholds", value=unknown[0],
                                      expected="one of: " + ", ".join(MEASURES))
        check_int("min_group_size", self.min_group_size, low=1)
        check_float("confidence", self.confidence, low=0.5, high=1.0, high_open=True)

    def threshold(self, measure: str) -> float | None:
        return self.thresholds.get(measure, MEASURES[measure][1])


def wilson_interval(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (Wilson 1927); (0, 1) without rows.

    >>> [round(x, 4) for x in wilson_interval(30, 100, 1.959964)]
    [0.2189, 0.3958]
    """
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class _Rate:
    """One group's proportion: successes over a denominator."""

    group: str
    x: float
    n: int

    @property
    def value(self) -> float:
        return self.x / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        # Laplace-smoothed: a rate of exactly 0 or 1 still has some uncertainty.
        p = (self.x + 1) / (self.n + 2)
        return p * (1 - p) / self.n


def _rates(groups: Mapping[str, GroupCounts], x, n) -> list[_Rate]:
    return [_Rate(g, x(c), n(c)) for g, c in groups.items()]


def fairness_measures(key: str, groups: Mapping[str, GroupCounts],
                      settings: FairnessThresholds | None = None) -> list[FairnessResult]:
    """Every measure the counts allow: selection-rate measures where there are predictions, TPR, FPR
    and precision measures where there are confusion counts, MAE measures where there are errors."""
    s = settings or FairnessThresholds()
    groups = {g: c for g, c in sorted(groups.items()) if g != OTHER}
    z = float(stats.norm.ppf(1 - (1 - s.confidence) / 2))
    out: list[FairnessResult] = []
    if any(c.predictions for c in groups.values()):
        selection = _eligible(_rates(groups, lambda c: c.selected, lambda c: c.predictions), s)
        out += _rate_gap(key, "demographic_parity_difference", selection, s, z)
        out += _rate_gap(key, "demographic_parity_ratio", selection, s, z)
    if any(c.tp + c.fp + c.tn + c.fn for c in groups.values()):
        # Equalized odds compares groups with both positives and negatives enough.
        both = {g for g, c in groups.items() if min(c.tp + c.fn, c.fp + c.tn) >= s.min_group_size}
        tpr = [r for r in _rates(groups, lambda c: c.tp, lambda c: c.tp + c.fn) if r.group in both]
        fpr = [r for r in _rates(groups, lambda c: c.fp, lambda c: c.fp + c.tn) if r.group in both]
        out += _rate_gap(key, "equal_opportunity_difference",
                         _eligible(_rates(groups, lambda c: c.tp, lambda c: c.tp + c.fn), s), s, z)
        odds = _rate_gap(key, "equalized_odds_difference", tpr, s, z) + _rate_gap(
            key, "equalized_odds_difference", fpr, s, z)
        if odds:
            out.append(max(odds, key=lambda r: (r.value, -r.p_value)))
        out += _rate_gap(key, "predictive_parity_difference",
                         _eligible(_rates(groups, lambda c: c.tp, lambda c: c.tp + c.fp), s), s, z)
    errors = [(g, c) for g, c in groups.items() if c.labelled >= s.min_group_size]
    if any(c.labelled for c in groups.values()):
        out += _mae_gaps(key, errors, s, z)
    return out


def _eligible(rates: list[_Rate], s: FairnessThresholds) -> list[_Rate]:
    return [r for r in rates if r.n >= s.min_group_size]


def _pairs(k: int) -> int:
    return max(1, k * (k - 1) // 2)


def _verdict(measure: str, value: float, z_stat: float, pairs: int, s: FairnessThresholds) -> tuple[float, bool, float]:
    """(threshold, flagged, adjusted p) of a measure whose test statistic against its threshold is ``z_stat``."""
    threshold = s.threshold(measure)
    p = min(1.0, float(stats.norm.sf(z_stat)) * pairs) if math.isfinite(z_stat) else (0.0 if z_stat > 0 else 1.0)
    if threshold is None or not math.isfinite(threshold):
        return (math.nan if threshold is None else threshold), False, p
    direction = MEASURES[measure][0]
    past = value < threshold if direction == "<" else value > threshold
    return threshold, past and p < 1 - s.confidence, p


def _rate_gap(key: str, measure: str, rates: list[_Rate], s: FairnessThresholds, z: float) -> list[FairnessResult]:
    if len(rates) < 2:
        return []
    worst = min(rates, key=lambda r: (r.value, r.group))
    best = max(rates, key=lambda r: (r.value, r.group))
    threshold = s.threshold(measure)
    if measure == "demographic_parity_ratio":
        value = worst.value / best.value if best.value > 0 else 1.0
        # H0: worst = t * best, i.e. the ratio is just at the threshold t.
        t = threshold if threshold is not None else MEASURES[measure][1]
        se = math.sqrt(worst.variance + t * t * best.variance)
        z_stat = (t * best.value - worst.value) / se
    else:
        value = best.value - worst.value
        t = threshold if threshold is not None and math.isfinite(threshold) else 0.0
        se = math.sqrt(worst.variance + best.variance)
        z_stat = (value - t) / se
    threshold_, flagged, p = _verdict(measure, value, z_stat, _pairs(len(rates)), s)
    groups = tuple(GroupValue(r.group, r.value, r.n, *wilson_interval(round(r.x), r.n, z)) for r in rates)
    return [FairnessResult(key, measure, float(value), threshold_, flagged, worst.group, best.group, worst.value,
                           best.value, worst.n, best.n, p, groups)]


def _mae_gaps(key: str, errors: list[tuple[str, GroupCounts]], s: FairnessThresholds, z: float) -> list[FairnessResult]:
    if len(errors) < 2:
        return []
    maes = {g: c.abs_error / c.labelled for g, c in errors}
    variances = {g: max(0.0, c.sq_error / c.labelled - maes[g] ** 2) * c.labelled / max(1, c.labelled - 1)
                 for g, c in errors}
    sizes = {g: c.labelled for g, c in errors}
    worst = max(maes, key=lambda g: (maes[g], g))
    best = min(maes, key=lambda g: (maes[g], g))
    groups = tuple(GroupValue(g, maes[g], sizes[g], maes[g] - z * math.sqrt(variances[g] / sizes[g]),
                              maes[g] + z * math.sqrt(variances[g] / sizes[g])) for g in maes)
    out = []
    for measure in ("mae_difference", "mae_ratio"):
        threshold = s.threshold(measure)
        t = threshold if threshold is not None and math.isfinite(threshold) else (1.0 if measure == "mae_ratio" else 0.0)
        if measure == "mae_ratio":
            value = maes[worst] / maes[best] if maes[best] > 0 else (1.0 if maes[worst] == 0 else math.inf)
            gap, scale = maes[worst] - t * maes[best], t
        else:
            value = maes[worst] - maes[best]
            gap, scale = value - t, 1.0
        se = math.sqrt(variances[worst] / sizes[worst] + scale * scale * variances[best] / sizes[best])
        z_stat = gap / se if se > 0 else (math.inf if gap > 0 else -math.inf)
        threshold_, flagged, p = _verdict(measure, value, z_stat, _pairs(len(maes)), s)
        out.append(FairnessResult(key, measure, float(value), threshold_, flagged, worst, best, maes[worst],
                                  maes[best], sizes[worst], sizes[best], p, groups))
    return out

"""Always-valid comparisons of a challenger with its champion: confidence sequences.

A *confidence sequence* is a sequence of intervals ``C_1, C_2, ...`` that contain the true
value all at once with probability at least ``1 - alpha``: ``P(for every t: theta in C_t) >=
1 - alpha`` (Howard, Ramdas, McAuliffe and Sekhon 2021, "Time-uniform, nonparametric,
nonasymptotic confidence sequences", Ann. Statist. 49(2)). A decision taken the first time
an interval leaves zero behind is therefore wrong with probability at most ``alpha``, however
often the intervals are looked at and whenever one stops: reading the verdict after every
window ("peeking") is safe, which an ordinary fixed-sample test does not allow.

The boundary is Robbins' two-sided normal mixture. For an estimate ``d`` of a difference with
estimated variance ``V`` and ``n_eff = sigma^2 / V`` effective observations (``sigma^2`` the
per-observation variance), the interval is ``d ± sqrt(V) z(n_eff)`` with::

    z(n)^2 = (1 + 1 / (tau^2 n)) * (2 log(1 / alpha) + log(1 + tau^2 n))

This is the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy and
Ramdas (2024, "Time-uniform central limit theory and asymptotic confidence sequences", Ann.
Statist.; their ``rho`` is ``tau``), and the always-valid interval of the mixture sequential
probability ratio test (mSPRT) with a ``N(0, tau^2 sigma^2)`` mixing distribution of Johari,
Koomen, Pekelis and Walsh (2017, "Peeking at A/B tests", KDD; 2022, "Always valid inference",
Oper. Res.). ``tau`` sets where the interval is tightest: about ``n*`` effective observations
for ``tau = tau_for(n*, alpha)``. Variances are plug-in estimates (the CLT approximation of
Waudby-Smith et al.), which is why a verdict also waits for a minimum sample.

Quantiles (latency p95) use the confidence sequence for a quantile of Howard and Ramdas (2022,
"Sequential estimation of quantiles with applications to A/B-testing and best-arm
identification", Bernoulli 28(3)): the indicators ``X_i <= q_p`` are Bernoulli(``p``) with a
known variance ``p (1 - p)``, so the same boundary around the empirical CDF gives
``[Q_t(p - r_t), Q_t(p + r_t)]``.

Inputs are sufficient statistics (:class:`Moments`: counts, sums, sums of squares; a
:class:`~driftline.detectors.QuantileSketch`), so per-window states merge exactly and the
interval at a window is a pure function of the merged state. Every function takes numpy
arrays too, so a simulation evaluates thousands of runs at once.

>>> champion = Moments.of([1.0] * 900 + [0.0] * 100)       # accuracy 0.90
>>> challenger = Moments.of([1.0] * 170 + [0.0] * 80)      # accuracy 0.68
>>> cs = difference_interval(champion.estimate(), challenger.estimate(), alpha=0.05)
>>> round(cs.estimate, 3), cs.upper < 0                     # surely worse
(-0.22, True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ._checks import check_float, check_int
from .quantiles import QuantileSketch

__all__ = ["ArmEstimate", "Interval", "Moments", "difference_bounds", "difference_interval", "f1_estimate",
           "mixture_z", "paired_bounds", "paired_interval", "quantile_bounds", "quantile_ratio_interval", "tau_for",
           "unpaired_bounds"]

DEFAULT_TUNED_FOR = 1000  # effective observations where the interval is tightest (see tau_for)


def tau_for(n: float, alpha: float) -> float:
    """The mixing scale that makes the interval tightest near ``n`` effective observations
    (Waudby-Smith et al. 2024, Section 3.2).

    >>> round(tau_for(1000, 0.05), 4)
    0.0891
    """
    check_float("n", n, low=0.0, low_open=True)
    check_float("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
    two_log = 2.0 * math.log(1.0 / alpha)
    return math.sqrt((two_log + math.log(1.0 + two_log)) / n)


def mixture_z(n_eff, alpha: float, tau: float):
    """The boundary in standard errors after ``n_eff`` effective observations (array or scalar).

    >>> round(float(mixture_z(1000, 0.05, tau_for(1000, 0.05))), 3)  # a fixed-n test would use 1.96
    3.035
    """
    n = np.maximum(np.asarray(n_eff, dtype=np.float64), 1e-12)
    t2n = tau * tau * n
    return np.sqrt((1.0 + 1.0 / t2n) * (2.0 * math.log(1.0 / alpha) + np.log1p(t2n)))


@dataclass(frozen=True, slots=True)
class Moments:
    """Count, sum and sum of squares of per-event values: mergeable by ``+`` and order-independent."""

    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    @classmethod
    def of(cls, values: Iterable[float] | np.ndarray) -> Moments:
        x = np.asarray(values, dtype=np.float64).ravel()
        x = x[np.isfinite(x)]
        return cls(int(x.size), float(x.sum()), float(x @ x))

    def __add__(self, other: Moments) -> Moments:
        return Moments(self.n + other.n, self.total + other.total, self.total_sq + other.total_sq)

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        """Unbiased sample variance (NaN below two observations)."""
        if self.n < 2:
            return math.nan
        return max(0.0, (self.total_sq - self.total * self.total / self.n) / (self.n - 1))

    def estimate(self) -> ArmEstimate:
        """The mean with the variance of the mean."""
        return ArmEstimate(self.mean, self.variance / self.n if self.n else math.nan, self.n)

    def to_list(self) -> list[float]:
        """``[n, total, total_sq]``: JSON-safe (finite values only ever enter)."""
        return [self.n, self.total, self.total_sq]

    @classmethod
    def from_list(cls, values: Sequence[float]) -> Moments:
        n, total, total_sq = values
        return cls(int(n), float(total), float(total_sq))


@dataclass(frozen=True, slots=True)
class ArmEstimate:
    """One arm's estimate of a metric, the variance of that estimate and the observations behind it."""

    value: float
    variance: float
    n: int


@dataclass(frozen=True, slots=True)
class Interval:
    """An always-valid interval for a difference (challenger minus champion) or a ratio."""

    estimate: float
    lower: float
    upper: float

    def above(self, value: float) -> bool:
        """The whole interval is above ``value`` (false when not computed)."""
        return self.lower > value

    def below(self, value: float) -> bool:
        return self.upper < value


NOT_YET = Interval(math.nan, math.nan, math.nan)


def difference_bounds(champion_value, champion_var, champion_n, challenger_value, challenger_var, challenger_n,
                      *, alpha: float, tau: float):
    """Vectorised core: ``(estimate, lower, upper)`` of challenger minus champion.

    The mixing scale is ``tau`` times the pooled per-observation standard deviation, and
    ``n_eff = sigma_pooled^2 / V`` (for equal variances, ``n_a n_b / (n_a + n_b)``).
    """
    na = np.asarray(champion_n, dtype=np.float64)
    nb = np.asarray(challenger_n, dtype=np.float64)
    va = np.asarray(champion_var, dtype=np.float64)
    vb = np.asarray(challenger_var, dtype=np.float64)
    v = va + vb
    pooled = (na * na * va + nb * nb * vb) / np.maximum(na + nb, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(v > 0, pooled / v, 0.0)
    radius = np.sqrt(v) * mixture_z(n_eff, alpha, tau)
    estimate = np.asarray(challenger_value, dtype=np.float64) - np.asarray(champion_value, dtype=np.float64)
    return estimate, estimate - radius, estimate + radius


def unpaired_bounds(champion_mean, champion_var, champion_n, challenger_mean, challenger_var, challenger_n,
                    *, alpha: float, tau: float):
    """Vectorised unpaired comparison from each arm's mean, per-observation variance and count.

    Each arm's variance gets one pseudo-observation of the two arms' average variance, so an arm
    whose values are all equal so far (every prediction right) does not claim zero variance.
    """
    na = np.asarray(champion_n, dtype=np.float64)
    nb = np.asarray(challenger_n, dtype=np.float64)
    va = np.asarray(champion_var, dtype=np.float64)
    vb = np.asarray(challenger_var, dtype=np.float64)
    pooled = (va + vb) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        ra = (va * na + pooled) / (na + 1) / na
        rb = (vb * nb + pooled) / (nb + 1) / nb
    return difference_bounds(champion_mean, ra, na, challenger_mean, rb, nb, alpha=alpha, tau=tau)


def paired_bounds(mean, var, n, *, alpha: float, tau: float):
    """Vectorised paired comparison from the differences' mean, variance and count. While every pair
    is tied (variance 0), one pseudo-pair of each sign keeps the interval honest."""
    n = np.asarray(n, dtype=np.float64)
    var = np.asarray(var, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(var > 0, var, 2.0 / (n + 2))
        return difference_bounds(0.0, 0.0, 0.0, mean, var / n, n, alpha=alpha, tau=tau)


def difference_interval(champion: ArmEstimate, challenger: ArmEstimate, *, alpha: float,
                        tau: float | None = None) -> Interval:
    """Unpaired: challenger minus champion, each arm its own sample (:func:`unpaired_bounds`). ``tau``
    defaults to :func:`tau_for` of :data:`DEFAULT_TUNED_FOR`. Needs two observations per arm."""
    if champion.n < 2 or challenger.n < 2 or not (math.isfinite(champion.value) and math.isfinite(challenger.value)):
        return NOT_YET
    tau = tau_for(DEFAULT_TUNED_FOR, alpha) if tau is None else tau
    est, lo, hi = unpaired_bounds(champion.value, champion.variance * champion.n, champion.n,
                                  challenger.value, challenger.variance * challenger.n, challenger.n,
                                  alpha=alpha, tau=tau)
    return Interval(float(est), float(lo), float(hi))


def paired_interval(differences: Moments, *, alpha: float, tau: float | None = None) -> Interval:
    """Paired: the mean of per-request differences (challenger minus champion on the same request).

    For 0/1 outcomes (right/wrong) the differences are -1, 0, +1 and this is McNemar's comparison
    on the discordant pairs made sequential: only requests the versions disagree on move it.

    >>> d = Moments.of([-1.0] * 60 + [1.0] * 20 + [0.0] * 920)   # 60 lost, 20 won, 920 tied
    >>> cs = paired_interval(d, alpha=0.05)
    >>> round(cs.estimate, 3), cs.upper < 0
    (-0.04, True)
    """
    if differences.n < 2:
        return NOT_YET
    tau = tau_for(DEFAULT_TUNED_FOR, alpha) if tau is None else tau
    est, lo, hi = paired_bounds(differences.mean, differences.variance, differences.n, alpha=alpha, tau=tau)
    return Interval(float(est), float(lo), float(hi))


def f1_estimate(tp: int, fp: int, fn: int, tn: int) -> ArmEstimate:
    """F1 = 2 TP / (2 TP + FP + FN) with its delta-method variance (a ratio of two means).

    >>> e = f1_estimate(80, 10, 20, 890)
    >>> round(e.value, 4), e.n
    (0.8421, 1000)
    """
    n = tp + fp + fn + tn
    denominator = 2 * tp + fp + fn
    if not n or not denominator:
        return ArmEstimate(math.nan, math.nan, n)
    f1 = 2 * tp / denominator
    # Influence of one event: (a_i - F1 b_i) / mean(b), a_i = 2[TP], b_i = 2[TP] + [FP] + [FN].
    variance = (tp * (2 - 2 * f1) ** 2 + (fp + fn) * f1 * f1) / denominator ** 2
    return ArmEstimate(f1, variance, n)


def quantile_bounds(sketch: QuantileSketch, q: float, *, alpha: float, tau: float | None = None
                    ) -> tuple[float, float, float]:
    """``(estimate, lower, upper)`` of the ``q``-quantile of the values in ``sketch``, always valid.

    The upper bound is infinite until enough values are in for the band to stay below 1.
    """
    check_float("q", q, low=0.0, high=1.0, low_open=True, high_open=True)
    n = check_int("n", sketch.n, low=0)
    if n == 0:
        return math.nan, math.nan, math.nan
    tau = tau_for(DEFAULT_TUNED_FOR, alpha) if tau is None else tau
    radius = math.sqrt(q * (1 - q) / n) * float(mixture_z(n, alpha, tau))
    lower = sketch.quantile(q - radius) if q - radius > 0 else 0.0
    upper = sketch.quantile(q + radius) if q + radius < 1 else math.inf
    return sketch.quantile(q), lower, upper


def quantile_ratio_interval(champion: QuantileSketch, challenger: QuantileSketch, q: float, *, alpha: float,
                            tau: float | None = None) -> Interval:
    """Challenger's ``q``-quantile over the champion's: each quantile's sequence at ``alpha / 2``.

    >>> a, b = QuantileSketch(), QuantileSketch()
    >>> a.update(np.random.default_rng(0).lognormal(3.0, 0.4, 4000))
    >>> b.update(np.random.default_rng(1).lognormal(3.0 + np.log(2.0), 0.4, 1000))
    >>> cs = quantile_ratio_interval(a, b, 0.95, alpha=0.05)
    >>> round(cs.estimate, 1), cs.lower > 1.2
    (2.0, True)
    """
    if champion.n < 2 or challenger.n < 2:
        return NOT_YET
    est_a, lo_a, hi_a = quantile_bounds(champion, q, alpha=alpha / 2, tau=tau)
    est_b, lo_b, hi_b = quantile_bounds(challenger, q, alpha=alpha / 2, tau=tau)
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = est_b / est_a if est_a > 0 else math.inf
        lower = lo_b / hi_a if hi_a > 0 else math.inf
        upper = hi_b / lo_a if lo_a > 0 else math.inf
    return Interval(float(estimate), float(lower), float(upper))

"""Result objects shared by detectors, the stream and the sinks.

They are frozen dataclasses: a detector returns them, the stream routes them,
a sink writes them. Nothing here does I/O. Times are epoch milliseconds (int).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .explain import exceedance, rank_drifted
from .fairness import FairnessResult

__all__ = ["ConceptDriftEvent", "DriftResult", "MetricValue", "SegmentMetric", "VersionTraffic", "WindowReport"]


@dataclass(frozen=True, slots=True)
class DriftResult:
    """One drift test of one feature (or ``prediction``/``score``) in one window.

    ``drifted`` is the final verdict after correction and persistence;
    ``raw_drifted`` is the verdict of the test alone. ``corrected`` names the
    multiple-testing correction that was applied (``"none"`` when raw).
    """

    feature: str
    test: str
    statistic: float
    threshold: float
    drifted: bool
    p_value: float | None = None
    raw_drifted: bool | None = None
    corrected: str = "none"
    importance: float | None = None
    adjusted_p_value: float | None = None  # p-value after ``corrected``; the verdict uses it
    # What the window was compared with: the fixed ``reference``, or a rolling baseline
    # (``previous_k``, ``last_period_p``: see :mod:`~driftline.detectors.baselines`).
    baseline: str = "reference"

    @property
    def stored_test(self) -> str:
        """The test as stored and alerted on: ``ks``, or ``ks@previous_3`` against a rolling baseline."""
        return self.test if self.baseline == "reference" else f"{self.test}@{self.baseline}"


@dataclass(frozen=True, slots=True)
class MetricValue:
    """A window metric such as ``accuracy``, ``mae`` or ``latency_p95_ms``."""

    name: str
    value: float
    n: int


@dataclass(frozen=True, slots=True)
class SegmentMetric:
    """A window metric of one group of a segment key: ``country`` = ``DE``, ``accuracy`` 0.91 over 412 rows.

    ``group`` is ``__other__`` for the values folded past the key's ``max_values``.
    """

    key: str
    group: str
    name: str
    value: float
    n: int


@dataclass(frozen=True, slots=True)
class ConceptDriftEvent:
    """A state change of a concept-drift detector on the error stream."""

    detector: str
    state: str  # "warning" | "drift"
    ts_ms: int
    index: int  # position in the detector's error stream (0-based)


@dataclass(frozen=True, slots=True)
class WindowReport:
    """Everything computed for one closed event-time window of one model/version.

    ``input_drift`` (label-side windows): the input features (not ``prediction``/``score``) that
    drifted in the prediction-side window of the same start or the one before, worst first, so an
    error-rate change can be told from one the inputs explain (covariate shift vs concept drift).
    """

    model: str
    version: str
    window_start_ms: int
    window_end_ms: int
    n_predictions: int
    n_labels: int
    drift: tuple[DriftResult, ...] = ()
    metrics: tuple[MetricValue, ...] = ()
    concept: tuple[ConceptDriftEvent, ...] = field(default_factory=tuple)
    input_drift: tuple[str, ...] = ()
    segments: tuple[SegmentMetric, ...] = ()  # per-group metrics (models with ``segments:``)
    fairness: tuple[FairnessResult, ...] = ()  # per sensitive key and measure (models with ``fairness:``)

    @property
    def drifted_features(self) -> tuple[DriftResult, ...]:
        """Drifted results, worst feature first: by exceedance (statistic against its threshold),
        times the feature's importance when the config gives importances (see ``rank_drifted``)."""
        order = {ranked.feature: i for i, ranked in enumerate(rank_drifted(self.drift))}
        hits = [r for r in self.drift if r.drifted]
        return tuple(sorted(hits, key=lambda r: (order[r.feature], -exceedance(r))))


@dataclass(frozen=True, slots=True)
class VersionTraffic:
    """The predictions one window gave a version whose lifecycle ``state`` (``rolled_back``,
    ``deactivated``, set at ``changed_at_ms`` by ``changed_by``) says it should get none."""

    model: str
    version: str
    window_start_ms: int
    window_end_ms: int
    n_predictions: int
    state: str
    changed_at_ms: int
    changed_by: str
    n_labels: int = 0
    metrics: tuple[MetricValue, ...] = ()

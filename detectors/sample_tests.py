"""Drift tests on samples: the reference sample vs the window's reservoir."""

from __future__ import annotations

import numpy as np

from . import distances
from ._checks import check_choice
from .drift_base import DriftTest, Profile, Window

__all__ = ["KolmogorovSmirnov", "WassersteinDistance"]


class KolmogorovSmirnov(DriftTest):
    """Two-sample KS test of the reference sample vs the window's reservoir; threshold is alpha.

    Both sides are seeded uniform samples (``reservoir_size`` values), so the test
    is valid but its power is that of ``reservoir_size`` observations.
    ``method`` picks the p-value computation (see :func:`driftline.detectors.distances.ks_two_sample`).

    >>> import numpy as np
    >>> from driftline.detectors import ReferenceProfile, WindowSketch
    >>> rng = np.random.default_rng(1)
    >>> ref = ReferenceProfile.from_columns({"x": "numeric"}, {"x": rng.normal(0, 1, 5_000)})
    >>> w = WindowSketch(ref); w.update({"x": rng.normal(0, 1, 5_000)})
    >>> stat, p = KolmogorovSmirnov().compare(ref.features["x"], w.features["x"])
    >>> p > 0.05
    True
    """

    name = "ks"
    kinds = frozenset({"numeric"})
    uses_p_value = True
    default_threshold = 0.05

    def __init__(self, threshold: float | None = None, method: str = "fast") -> None:
        super().__init__(threshold)
        self.method = check_choice("method", method, ("fast", "scipy"), "p-value method")

    def compare(self, reference: Profile, window: Window) -> tuple[float, float | None]:
        return distances.ks_two_sample(reference.sample, window.sample, self.method)


class WassersteinDistance(DriftTest):
    """Wasserstein-1 distance of the samples divided by the reference std (or IQR).

    >>> import numpy as np
    >>> from driftline.detectors import ReferenceProfile, WindowSketch
    >>> rng = np.random.default_rng(2)
    >>> ref = ReferenceProfile.from_columns({"x": "numeric"}, {"x": rng.normal(0, 2, 5_000)})
    >>> w = WindowSketch(ref); w.update({"x": rng.normal(1, 2, 5_000)})
    >>> stat, _ = WassersteinDistance().compare(ref.features["x"], w.features["x"])
    >>> round(stat, 1)
    0.5
    """

    name = "wasserstein"
    kinds = frozenset({"numeric"})
    default_threshold = 0.1

    def __init__(self, threshold: float | None = None, normalise: str = "std") -> None:
        super().__init__(threshold)
        self.normalise = check_choice("normalise", normalise, ("std", "iqr", "none"), "normalisation")

    def compare(self, reference: Profile, window: Window) -> tuple[float, float | None]:
        w = distances.wasserstein(reference.sample, window.sample)
        if self.normalise == "std":
            scale = reference.std or 0.0
        elif self.normalise == "iqr":
            q1, q3 = np.quantile(reference.sample, [0.25, 0.75]) if len(reference.sample) else (0.0, 0.0)
            scale = float(q3 - q1)
        else:
            scale = 1.0
        # A constant reference feature: any movement at all is drift-sized.
        return (w / scale if scale > 0 else (0.0 if w == 0 else float("inf"))), None

"""Drift tests on whole distributions: the reference's counts vs the window's, on the fine grid.

Both sides count every value (:mod:`~driftline.detectors.grid`), so the tests have the power
of all the window's and all the reference's values, and a window's state stays mergeable.
"""

from __future__ import annotations

import numpy as np

from . import distances
from ._checks import check_choice
from .drift_base import DriftTest, Profile, Window, grid_sides

__all__ = ["KolmogorovSmirnov", "WassersteinDistance"]


class KolmogorovSmirnov(DriftTest):
    """Two-sample KS test of the reference vs the window on the fine grid; threshold is alpha.

    ``D`` is scipy's ``ks_2samp`` statistic of all the values when they lie on the grid's
    lattice (discrete data, ties included), low by at most one grid cell's mass otherwise
    (:func:`~driftline.detectors.distances.ks_grid`); the p-value counts every value.
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

    def compare(self, reference: Profile, window: Window, baseline: Window | None = None) -> tuple[float, float | None]:
        return distances.ks_grid(*grid_sides(reference, window, baseline), self.method)


class WassersteinDistance(DriftTest):
    """Wasserstein-1 distance on the fine grid divided by the reference std (or IQR).

    See :func:`~driftline.detectors.distances.wasserstein_grid`: exact for values on the
    grid's lattice, otherwise each value moves by less than its grid cell's width.

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

    def scale(self, reference: Profile) -> float:
        """What the distance is divided by (``normalise``): the reference's std, its IQR, or 1."""
        if self.normalise == "std":
            return reference.std or 0.0
        if self.normalise == "iqr":
            q1, q3 = np.quantile(reference.sample, [0.25, 0.75]) if len(reference.sample) else (0.0, 0.0)
            return float(q3 - q1)
        return 1.0

    def compare(self, reference: Profile, window: Window, baseline: Window | None = None) -> tuple[float, float | None]:
        w = distances.wasserstein_grid(reference.grid, *grid_sides(reference, window, baseline))
        scale = self.scale(reference)
        # A constant reference feature: any movement at all is drift-sized.
        return (w / scale if scale > 0 else (0.0 if w == 0 else float("inf"))), None

"""Isotonic calibration of classifier scores, fitted once on a labelled reference.

The fit is scikit-learn's ``IsotonicRegression(out_of_bounds="clip")`` (what NannyML's CBPE
uses) computed with :func:`scipy.optimize.isotonic_regression` (scipy >= 1.12): scores are
sorted, tied scores are merged into one point weighted by its count, the pool-adjacent-violators
fit is taken on those points, and predictions interpolate linearly between them and are
clipped to the end values outside the reference's range. Only the points where the fitted
step function bends are kept (the first and last score of each constant block), which leaves
the interpolated function unchanged and the stored calibration small.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import isotonic_regression

from .errors import DetectorConfigError, DetectorStateError

__all__ = ["ScoreCalibration"]


def _frozen(values: Any) -> np.ndarray:
    arr = np.array(values, dtype=np.float64)
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class ScoreCalibration:
    """A non-decreasing map from a raw score to the probability that the outcome is 1.

    >>> import numpy as np
    >>> cal = ScoreCalibration.fit(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1]))
    >>> cal(np.array([0.0, 0.1, 0.25, 0.4, 0.9])).round(3).tolist()
    [0.0, 0.0, 0.5, 1.0, 1.0]
    >>> ScoreCalibration.from_dict(cal.to_dict()).to_dict() == cal.to_dict()
    True
    """

    x: np.ndarray
    y: np.ndarray

    @classmethod
    def fit(cls, scores: np.ndarray, outcomes: np.ndarray) -> ScoreCalibration:
        """Fit on reference ``scores`` and their 0/1 ``outcomes`` (non-finite scores are ignored)."""
        s = np.asarray(scores, dtype=np.float64)
        o = np.asarray(outcomes, dtype=np.float64)
        if len(s) != len(o):
            raise DetectorConfigError(f"outcomes: {len(o)} values for {len(s)} scores (expected as many)")
        ok = np.isfinite(s) & np.isfinite(o)
        s, o = s[ok], o[ok]
        if len(s) < 2:
            raise DetectorConfigError(f"scores: {len(s)} finite reference scores (expected at least 2)")
        x, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
        means = np.bincount(inverse, weights=o, minlength=len(x)) / counts
        y = isotonic_regression(means, weights=counts.astype(np.float64), increasing=True).x
        if len(y) > 2:
            # Interior points of a constant block add nothing to a linear interpolation.
            keep = np.ones(len(y), dtype=bool)
            keep[1:-1] = (y[1:-1] != y[:-2]) | (y[1:-1] != y[2:])
            x, y = x[keep], y[keep]
        return cls(_frozen(x), _frozen(np.clip(y, 0.0, 1.0)))

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of ``scores`` (NaN stays NaN)."""
        return np.interp(np.asarray(scores, dtype=np.float64), self.x, self.y)

    @property
    def levels(self) -> np.ndarray:
        """The distinct calibrated values the fit takes on its constant blocks."""
        return np.unique(self.y)

    def to_dict(self) -> dict[str, Any]:
        return {"x": self.x.tolist(), "y": self.y.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ScoreCalibration:
        try:
            x, y = _frozen(d["x"]), _frozen(d["y"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DetectorStateError(f"calibration: not a calibration ({exc})") from exc
        if len(x) != len(y) or len(x) < 1 or np.any(np.diff(x) <= 0) or np.any(np.diff(y) < 0):
            raise DetectorStateError("calibration: x must increase and y must not decrease, with as many of each")
        return cls(x, y)

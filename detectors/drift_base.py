"""Drift tests: compare one feature's window sketch with its reference profile.

A test is stateless: ``compare(reference, window, baseline=None)`` returns
``(statistic, p_value)`` and ``is_drift`` applies the threshold. With a ``baseline`` (a
window sketch of earlier windows, see :mod:`~driftline.detectors.baselines`) the window is
compared with it instead of the reference; the reference still gives the bins and the scale. For p-value tests (``ks``, ``chi2``) the
threshold is alpha and ``drifted = p_value < threshold``; for distances
``drifted = statistic >= threshold``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ._checks import check_float
from .grid import GridCounts
from .profile import CategoricalProfile, NumericProfile
from .window import CategoricalWindow, NumericWindow

__all__ = ["DriftTest", "binned", "grid_sides"]

Profile = NumericProfile | CategoricalProfile
Window = NumericWindow | CategoricalWindow


def binned(reference: Profile, window: Window, baseline: Window | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reference (or ``baseline``) and window counts over the same bins: the reference's coarse
    bins (numeric) or its kept categories + other/unseen (categorical)."""
    if baseline is not None:
        if isinstance(reference, NumericProfile):
            return baseline.counts, window.counts
        return np.append(baseline.counts, baseline.unseen), np.append(window.counts, window.unseen)
    if isinstance(reference, NumericProfile):
        return reference.counts, window.counts
    return np.append(reference.counts, reference.other), np.append(window.counts, window.unseen)


def grid_sides(reference: NumericProfile, window: NumericWindow,
               baseline: NumericWindow | None = None) -> tuple[GridCounts, GridCounts]:
    """Reference (or ``baseline``) and window counts on the reference's fine grid."""
    return (reference.grid_counts if baseline is None else baseline.grid), window.grid


class DriftTest:
    """Shared threshold handling; subclasses implement :meth:`compare`."""

    name: ClassVar[str]
    kinds: ClassVar[frozenset[str]]
    uses_p_value: ClassVar[bool] = False
    default_threshold: ClassVar[float]

    def __init__(self, threshold: float | None = None) -> None:
        if threshold is None:
            threshold = self.default_threshold
        if self.uses_p_value:
            self.threshold = check_float("threshold", threshold, low=0.0, high=1.0, low_open=True, high_open=True)
        else:
            self.threshold = check_float("threshold", threshold, low=0.0, low_open=True)

    def compare(self, reference: Profile, window: Window, baseline: Window | None = None) -> tuple[float, float | None]:
        raise NotImplementedError

    def is_drift(self, statistic: float, p_value: float | None) -> bool:
        if self.uses_p_value:
            return p_value is not None and p_value < self.threshold
        return statistic >= self.threshold

    def reset(self) -> None:
        """Nothing to forget: tests are stateless (the window sketch holds the data)."""

    def snapshot(self) -> dict[str, Any]:
        """The constructor arguments (a test has no stream state)."""
        return {name: getattr(self, name) for name in _init_names(type(self))}

    @classmethod
    def restore(cls, snapshot: Mapping[str, Any]) -> DriftTest:
        return cls(**snapshot)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(threshold={self.threshold!r})"


@functools.cache
def _init_names(cls: type) -> tuple[str, ...]:
    """A test class's constructor arguments, read once per class (``snapshot`` runs per p-value)."""
    return tuple(p for p in inspect.signature(cls.__init__).parameters if p != "self")

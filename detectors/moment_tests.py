"""Mean and variance of the reference vs the window, on the fine grid: the ``moments`` test.

A shift of the mean or a change of the spread is what most numeric drift looks like; a test of
the first two moments has more power for it than a whole-distribution distance (a 10 % larger
standard deviation in 1,000 values is a z of about 4.5 for the variance, hardly visible to
Wasserstein). Both sides are binned on the reference's fine grid, so the window's state stays
mergeable counts: a value counts as its cell's lower edge (exact on a lattice), a value beyond
the reference's range as the mean of those beyond (from the grid's excess sums).

The statistic is ``max(|z_mean|, |z_var|)`` with
``z_mean = (m_w - m_r) / sqrt(v_r (1/n_w + 1/n_r))`` and
``z_var = (v_w - v_r) / sqrt((mu4_r - v_r^2) (1/n_w + 1/n_r))``, ``mu4_r`` the reference's fourth
central moment: the variance's own sampling error, so a skewed or heavy-tailed feature's
``z_var`` is not several times noisier than its ``z_mean`` (with the normal-theory ``2 v_r^2``
the variance's noise decided the max on a log-normal, and a 10 % shift of its mean went
unseen). Large-sample scales, so a fixed threshold is a guide; ``threshold: auto`` calibrates it
on the reference.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_choice
from .drift_base import DriftTest, Profile, Window, grid_sides
from .grid import GridCounts
from .moments import cell_values, moments_z
from .ranks import SCORES, rank_z

__all__ = ["MomentsTest", "RanksTest"]


class MomentsTest(DriftTest):
    """Mean and variance z of the window against the reference (see the module docstring).

    >>> import numpy as np
    >>> from driftline.detectors import ReferenceProfile, WindowSketch
    >>> rng = np.random.default_rng(3)
    >>> ref = ReferenceProfile.from_columns({"x": "numeric"}, {"x": rng.normal(0, 1, 10_000)})
    >>> same = WindowSketch(ref); same.update({"x": rng.normal(0, 1, 1_000)})
    >>> wider = WindowSketch(ref); wider.update({"x": rng.normal(0, 1.1, 1_000)})
    >>> test = MomentsTest()
    >>> test.compare(ref.features["x"], same.features["x"])[0] < 3, test.compare(ref.features["x"], wider.features["x"])[0] > 3
    (True, True)
    """

    name = "moments"
    kinds = frozenset({"numeric"})
    default_threshold = 4.0

    def compare(self, reference: Profile, window: Window, baseline: Window | None = None) -> tuple[float, float | None]:
        ref, cur = grid_sides(reference, window, baseline)
        z = moments_z(cell_values(reference.grid), _row(ref), _row(cur),
                      (ref.low_excess, ref.high_excess), (cur.low_excess, cur.high_excess))
        return float(z[0]), None


class RanksTest(DriftTest):
    """Rank location and scale z of the window against the reference (see the module docstring).

    >>> import numpy as np
    >>> from driftline.detectors import ReferenceProfile, WindowSketch
    >>> rng = np.random.default_rng(3)
    >>> ref = ReferenceProfile.from_columns({"x": "numeric"}, {"x": rng.lognormal(0, 0.6, 10_000)})
    >>> same = WindowSketch(ref); same.update({"x": rng.lognormal(0, 0.6, 1_000)})
    >>> wider = WindowSketch(ref); wider.update({"x": rng.lognormal(0, 0.72, 1_000)})
    >>> test = RanksTest()
    >>> test.compare(ref.features["x"], same.features["x"])[0] < 3, test.compare(ref.features["x"], wider.features["x"])[0] > 3
    (True, True)
    """

    name = "ranks"
    kinds = frozenset({"numeric"})
    default_threshold = 4.0

    def __init__(self, threshold: float | None = None, scores: str = "normal") -> None:
        super().__init__(threshold)
        self.scores = check_choice("scores", scores, SCORES, "rank scores")

    def compare(self, reference: Profile, window: Window, baseline: Window | None = None) -> tuple[float, float | None]:
        ref, cur = grid_sides(reference, window, baseline)
        z = rank_z(_row(ref), _row(cur), self.scores)
        return float(np.abs(z).max()), None


def _row(c: GridCounts) -> np.ndarray:
    return c.counts[None, :]

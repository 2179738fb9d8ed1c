"""Location and scale of the window vs the reference, on the fine grid: ``moments`` and ``ranks``.

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
on the reference. Its weak point is the variance's null on a skewed feature: a window's variance
is decided by a few large values, some beyond the reference's range, which resampling the
reference cannot produce; the calibrated tail is then too light (a log-normal's ``moments``
passed z 3.29 in 0.8 % of unchanged windows, 4x a normal pair's rate).

``ranks`` (the default since) asks the same two questions of the ranks, each a z under the
permutation null (:mod:`~driftline.detectors.ranks`): by default Mann-Whitney's rank sum for
location and Mood's squared distances from the middle rank for scale (``scores="wilcoxon"``,
checked against scipy); ``scores="normal"`` uses normal scores instead (van der Waerden's and
Klotz's tests: as efficient as the mean's and the variance's z on normal data, more weight on
the extremes, so more power for a 10 % wider spread or a heavy tail, and more exposed to the
reference's own draw of its extremes). Distribution-free: a skewed, discrete
or heavy-tailed feature's null is a normal pair's, and a monotone transform of a feature (a shift
in log of a log-normal) is found as on the normal. What it gives up is weight on the extremes: a
2 % heavy tail moves a handful of ranks, where it moves the variance a lot.
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

    def __init__(self, threshold: float | None = None, scores: str = "wilcoxon") -> None:
        super().__init__(threshold)
        self.scores = check_choice("scores", scores, SCORES, "rank scores")

    def compare(self, reference: Profile, window: Window, baseline: Window | None = None) -> tuple[float, float | None]:
        ref, cur = grid_sides(reference, window, baseline)
        z = rank_z(_row(ref), _row(cur), self.scores)
        return float(np.abs(z).max()), None


def _row(c: GridCounts) -> np.ndarray:
    return c.counts[None, :]

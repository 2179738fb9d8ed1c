"""All drift tests and their registry by YAML ``type`` name.

A test compares one feature's window sketch with its reference profile; see
:class:`driftline.detectors.drift_base.DriftTest` for the threshold convention.
"""

from __future__ import annotations

from .binned_tests import (
    ChiSquare,
    HellingerDistance,
    JensenShannonDistance,
    LInfinityDistance,
    PopulationStabilityIndex,
    UnseenCategoryShare,
)
from .drift_base import DriftTest, binned
from .moment_tests import MomentsTest, RanksTest
from .sample_tests import KolmogorovSmirnov, WassersteinDistance

__all__ = [
    "DRIFT_TESTS",
    "ChiSquare",
    "DriftTest",
    "HellingerDistance",
    "JensenShannonDistance",
    "KolmogorovSmirnov",
    "LInfinityDistance",
    "PopulationStabilityIndex",
    "UnseenCategoryShare",
    "WassersteinDistance",
    "binned",
]

DRIFT_TESTS: dict[str, type[DriftTest]] = {
    t.name: t
    for t in (
        ChiSquare, HellingerDistance, JensenShannonDistance, KolmogorovSmirnov, LInfinityDistance, MomentsTest,
        PopulationStabilityIndex, RanksTest, UnseenCategoryShare, WassersteinDistance,
    )
}

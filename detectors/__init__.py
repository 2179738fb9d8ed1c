"""Pure computation: reference profiles, window sketches, drift tests, detectors and metrics.

Imports only the standard library, numpy, scipy and river; no I/O except
``ReferenceProfile.save``/``load``; time is always an argument.
"""

from .baselines import BaselineHistory
from .calibration import Calibration
from .correction import Persistence, adjust_p_values
from .distances import (
    chi2_homogeneity,
    hellinger,
    jensen_shannon,
    ks_two_sample,
    l_infinity,
    psi,
    wasserstein,
)
from .drift_registry import (
    ChiSquare,
    DriftTest,
    HellingerDistance,
    JensenShannonDistance,
    KolmogorovSmirnov,
    LInfinityDistance,
    PopulationStabilityIndex,
    UnseenCategoryShare,
    WassersteinDistance,
)
from .errors import DetectorConfigError, DetectorError, DetectorStateError
from .explain import DriftOutcome, RankedFeature, exceedance, rank_drifted
from .labels import boolean_key, label_key
from .multivariate import PCAReconstructionDrift
from .operational import label_coverage, throughput
from .packing import decode_float, encode_float, pack_array, unpack_array
from .performance import PerformanceWindow
from .profile import CategoricalProfile, NumericProfile, ReferenceProfile
from .quality import DataQualityCheck, QualityResult
from .quantiles import QuantileSketch
from .registry import DETECTORS, make_detector
from .reservoir import Reservoir
from .results import ConceptDriftEvent, DriftResult, MetricValue, WindowReport
from .river_detectors import ConceptDriftMonitor, StreamingFeatureDetector
from .settings import DriftSettings, TestSpec
from .suite import DriftSuite
from .warmup import ReferenceBuilder
from .window import WindowSketch

__all__ = [
    "BaselineHistory",
    "Calibration",
    "DETECTORS",
    "CategoricalProfile",
    "ChiSquare",
    "ConceptDriftEvent",
    "ConceptDriftMonitor",
    "DataQualityCheck",
    "DetectorConfigError",
    "DetectorError",
    "DetectorStateError",
    "DriftOutcome",
    "DriftResult",
    "DriftSettings",
    "DriftSuite",
    "DriftTest",
    "HellingerDistance",
    "JensenShannonDistance",
    "KolmogorovSmirnov",
    "LInfinityDistance",
    "MetricValue",
    "NumericProfile",
    "PCAReconstructionDrift",
    "PerformanceWindow",
    "Persistence",
    "PopulationStabilityIndex",
    "QualityResult",
    "QuantileSketch",
    "RankedFeature",
    "ReferenceBuilder",
    "ReferenceProfile",
    "Reservoir",
    "StreamingFeatureDetector",
    "TestSpec",
    "UnseenCategoryShare",
    "WassersteinDistance",
    "WindowReport",
    "WindowSketch",
    "adjust_p_values",
    "boolean_key",
    "chi2_homogeneity",
    "decode_float",
    "encode_float",
    "hellinger",
    "jensen_shannon",
    "ks_two_sample",
    "l_infinity",
    "label_coverage",
    "label_key",
    "make_detector",
    "pack_array",
    "psi",
    "rank_drifted",
    "exceedance",
    "throughput",
    "unpack_array",
    "wasserstein",
]

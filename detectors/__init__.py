"""Pure computation: reference profiles, window sketches, drift tests, detectors and metrics.

Imports only the standard library, numpy, scipy and river; no I/O except
``ReferenceProfile.save``/``load``; time is always an argument.
"""

from .arms import ArmStats, label_values
from .baselines import BaselineHistory
from .calibration import Calibration
from .cbpe import CBPE_TASKS, CBPEReference, CBPEWindow, Estimate
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
from .dle import DLEWindow, LossModel
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
from .experiment import ChampionChallenger, ExperimentWindow
from .experiment_design import VERDICTS, ExperimentDesign, Guardrail
from .experiment_results import Evaluation, ExperimentResult, MetricComparison
from .explain import DriftOutcome, RankedFeature, exceedance, rank_drifted
from .fairness import (
    FairnessResult,
    FairnessThresholds,
    GroupCounts,
    GroupValue,
    fairness_measures,
    wilson_interval,
)
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
from .results import (
    ConceptDriftEvent,
    DriftResult,
    MetricValue,
    SegmentMetric,
    VersionTraffic,
    WindowReport,
)
from .river_detectors import ConceptDriftMonitor, StreamingFeatureDetector
from .score_calibration import ScoreCalibration
from .segments import OTHER, MisraGries, SegmentVocabulary
from .sequential import (
    ArmEstimate,
    Interval,
    Moments,
    difference_interval,
    paired_interval,
    quantile_ratio_interval,
)
from .settings import DriftSettings, TestSpec
from .suite import DriftSuite
from .warmup import ReferenceBuilder
from .window import WindowSketch

__all__ = [
    "CBPE_TASKS",
    "BaselineHistory",
    "Calibration",
    "DETECTORS",
    "VERDICTS",
    "ArmEstimate",
    "ArmStats",
    "ChampionChallenger",
    "Evaluation",
    "ExperimentDesign",
    "ExperimentResult",
    "ExperimentWindow",
    "Guardrail",
    "Interval",
    "MetricComparison",
    "Moments",
    "DLEWindow",
    "CBPEReference",
    "CBPEWindow",
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
    "FairnessResult",
    "FairnessThresholds",
    "GroupCounts",
    "GroupValue",
    "Estimate",
    "HellingerDistance",
    "JensenShannonDistance",
    "KolmogorovSmirnov",
    "LInfinityDistance",
    "LossModel",
    "MetricValue",
    "MisraGries",
    "NumericProfile",
    "OTHER",
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
    "SegmentMetric",
    "SegmentVocabulary",
    "ScoreCalibration",
    "StreamingFeatureDetector",
    "TestSpec",
    "UnseenCategoryShare",
    "VersionTraffic",
    "WassersteinDistance",
    "WindowReport",
    "WindowSketch",
    "adjust_p_values",
    "boolean_key",
    "chi2_homogeneity",
    "decode_float",
    "difference_interval",
    "encode_float",
    "hellinger",
    "jensen_shannon",
    "ks_two_sample",
    "l_infinity",
    "label_coverage",
    "label_values",
    "label_key",
    "make_detector",
    "pack_array",
    "paired_interval",
    "psi",
    "quantile_ratio_interval",
    "rank_drifted",
    "exceedance",
    "fairness_measures",
    "throughput",
    "unpack_array",
    "wasserstein",
    "wilson_interval",
]

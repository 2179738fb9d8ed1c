"""The one registry mapping a YAML ``type:`` to a detector class."""

from __future__ import annotations

from typing import Any

from .drift_registry import DRIFT_TESTS
from .errors import DetectorConfigError
from .multivariate import PCAReconstructionDrift
from .quality import DataQualityCheck
from .river_detectors import ConceptDriftMonitor, StreamingFeatureDetector

__all__ = ["DETECTORS", "make_detector"]

DETECTORS: dict[str, type] = {
    # per-feature drift tests (reference profile vs window sketch)
    **DRIFT_TESTS,
    # river change detectors; the algorithm is a parameter (detector=... / type=...)
    "concept_drift": ConceptDriftMonitor,
    "streaming_feature": StreamingFeatureDetector,
    # per-window data quality rates
    "data_quality": DataQualityCheck,
    # multivariate drift
    "pca_reconstruction": PCAReconstructionDrift,
}


def make_detector(type: str, /, **params: Any) -> Any:  # noqa: A002 - YAML key name
    """Construct the detector registered as ``type`` with keyword ``params``.

    >>> make_detector("psi", threshold=0.1)
    PopulationStabilityIndex(threshold=0.1)
    >>> make_detector("nope")
    Traceback (most recent call last):
    ...
    driftline.detectors.errors.DetectorConfigError: type: 'nope' is not a known detector (expected one of: chi2, concept_drift, data_quality, hellinger, jensen_shannon, ks, l_infinity, moments, pca_reconstruction, psi, ranks, streaming_feature, unseen_share, wasserstein)
    """
    cls = DETECTORS.get(type)
    if cls is None:
        raise DetectorConfigError(
            f"type: {type!r} is not a known detector (expected one of: {', '.join(sorted(DETECTORS))})"
        )
    try:
        return cls(**params)
    except TypeError as exc:
        raise DetectorConfigError(f"{type}: {exc}") from exc

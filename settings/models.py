"""``models:``: one monitored model each, with its features, reference, windows and detectors.

Detector hyperparameters are read into typed settings and checked once by building the
detector they configure, so its own checks (and their wording of what is expected) apply.

>>> from driftline.settings.reader import Reader
>>> r = Reader()
>>> m = parse_model(r, {"name": "credit", "features": {"income": "numeric"}, "window": {"size": "5m"},
...                     "concept": {"detector": "ddm"}, "streaming": [{"feature": "income", "type": "kswin"}]},
...                 "models[0]")
>>> r.problems, m.window_ms, m.concept, m.streaming[0].type
([], 300000, ConceptSettings(detector='ddm', params={}), 'kswin')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from driftline.detectors import (
    ConceptDriftMonitor,
    DataQualityCheck,
    DriftSettings,
    PCAReconstructionDrift,
    StreamingFeatureDetector,
)

from .drift import parse_drift
from .env import plain
from .errors import MISSING
from .reader import Reader, join
from .segments import FairnessSettings, SegmentSettings, parse_fairness, parse_segments

__all__ = ["FEATURE_KINDS", "TASKS", "ConceptSettings", "ModelSettings", "MultivariateSettings",
           "QualitySettings", "StreamingSettings", "parse_model"]

TASKS = ("binary_classification", "multiclass_classification", "regression")
# ``boolean`` is categorical with canonical keys: true, 1 and "True" are all the category "1".
FEATURE_KINDS = ("numeric", "categorical", "boolean")
_KEYS = ("name", "task", "positive_label", "features", "reference", "window", "drift", "concept", "quality",
         "multivariate", "streaming", "segments", "fairness", "estimate_performance")
_REFERENCE_KEYS = ("warmup_events", "path", "profile")


@dataclass(frozen=True)
class ConceptSettings:
    """``concept:``: the river detector on the error stream and its parameters."""

    detector: str = "adwin"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QualitySettings:
    """``quality:``: per-window rate thresholds of :class:`~driftline.detectors.DataQualityCheck`;
    ``None`` (YAML ``null``) turns a check off."""

    max_missing_rate: float | None = 0.1
    max_type_error_rate: float | None = 0.01
    max_out_of_range_rate: float | None = 0.05
    max_unseen_rate: float | None = 0.05


@dataclass(frozen=True)
class MultivariateSettings:
    """``multivariate: {type: pca_reconstruction, ...}``: :class:`~driftline.detectors.PCAReconstructionDrift`."""

    variance: float = 0.65
    chunk_size: int = 1000
    sigma: float = 3.0
    max_reference_rows: int = 100_000
    seed: int = 0


@dataclass(frozen=True)
class StreamingSettings:
    """One ``streaming:`` entry: a river change detector on one numeric feature's values."""

    feature: str
    type: str = "adwin"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSettings:
    name: str
    task: str
    features: Mapping[str, str]
    warmup_events: int | None = 5000
    reference_path: str | None = None
    reference_profile: str | None = None
    window_ms: int = 60_000
    allowed_lateness_ms: int = 0
    idle_close_ms: int = 10_000
    drift: DriftSettings = field(default_factory=DriftSettings)
    concept: ConceptSettings = field(default_factory=ConceptSettings)
    positive_label: Any = 1
    quality: QualitySettings = field(default_factory=QualitySettings)
    multivariate: MultivariateSettings | None = None  # enabled when given
    streaming: tuple[StreamingSettings, ...] = ()
    segments: SegmentSettings | None = None  # per-group metrics; enabled when given
    fairness: FairnessSettings | None = None  # needs segments
    # Performance before labels (CBPE, DLE): None ("auto") when the reference has the model's outputs.
    estimate_performance: bool | None = None


def parse_model(r: Reader, raw: Any, path: str) -> ModelSettings:
    m = r.mapping(raw, path, keys=_KEYS)
    name = r.string(m, "name", path, "", required=True)
    task = r.string(m, "task", path, "binary_classification", choices=TASKS)
    features = {}
    for fname, kind in r.section(m, "features", path).items():
        if kind not in FEATURE_KINDS:
            r.problem(join(join(path, "features"), fname), kind, "one of: " + ", ".join(FEATURE_KINDS))
        features[str(fname)] = str(kind)
    ref_path = join(path, "reference")
    ref = r.section(m, "reference", path, keys=_REFERENCE_KEYS)
    sources = [k for k in _REFERENCE_KEYS if ref.get(k) is not None]
    if len(sources) > 1:
        r.problem(ref_path, dict(ref), "exactly one of: " + ", ".join(_REFERENCE_KEYS))
    window_path = join(path, "window")
    window = r.section(m, "window", path, keys=("size", "allowed_lateness", "idle_close"))
    segments = parse_segments(r, m.get("segments"), join(path, "segments"), features)
    positive = m.get("positive_label", 1)
    if not isinstance(positive, str | int | float):
        r.problem(join(path, "positive_label"), positive, "a label: a string, number or boolean")
        positive = 1
    return ModelSettings(
        name=name,
        task=task,
        features=features,
        warmup_events=r.integer(ref, "warmup_events", ref_path, None if sources else 5000, low=10, high=1_000_000),
        reference_path=r.file(ref, "path", ref_path),
        reference_profile=r.file(ref, "profile", ref_path),
        window_ms=r.duration_ms(window, "size", window_path, 60_000, low=1000),
        allowed_lateness_ms=r.duration_ms(window, "allowed_lateness", window_path, 0),
        idle_close_ms=r.duration_ms(window, "idle_close", window_path, 10_000, low=100),
        drift=parse_drift(r, m.get("drift"), join(path, "drift")),
        concept=_concept(r, m.get("concept"), join(path, "concept")),
        positive_label=positive,
        quality=_quality(r, m.get("quality"), join(path, "quality")),
        multivariate=_multivariate(r, m.get("multivariate"), join(path, "multivariate"), features),
        streaming=tuple(s for where, item in r.items(m, "streaming", path)
                        if (s := _streaming(r, item, where, features)) is not None),
        segments=segments,
        fairness=parse_fairness(r, m.get("fairness"), join(path, "fairness"), segments),
        estimate_performance=_estimate_performance(r, m.get("estimate_performance", "auto"),
                                                   join(path, "estimate_performance")),
    )


def _estimate_performance(r: Reader, raw: Any, path: str) -> bool | None:
    if not isinstance(raw, bool) and raw != "auto":
        r.problem(path, raw, "true, false or auto")
        return None
    return None if raw == "auto" else raw


def _concept(r: Reader, raw: Any, path: str) -> ConceptSettings:
    c = r.mapping(raw, path, keys=("detector", "params"))
    detector = r.string(c, "detector", path, "adwin", choices=ConceptDriftMonitor.allowed)
    params = plain(dict(r.section(c, "params", path)))
    r.detector(join(path, "params"), lambda: ConceptDriftMonitor(detector, **params), params)
    return ConceptSettings(detector, params)


def _quality(r: Reader, raw: Any, path: str) -> QualitySettings:
    q = r.mapping(raw, path, keys=tuple(QualitySettings.__dataclass_fields__))
    defaults = asdict(QualitySettings())
    values = {key: None if key in q and q[key] is None else r.number(q, key, path, default)
              for key, default in defaults.items()}
    settings = QualitySettings(**values)
    r.detector(path, lambda: DataQualityCheck(**asdict(settings)))
    return settings


def _multivariate(r: Reader, raw: Any, path: str, features: Mapping[str, str]) -> MultivariateSettings | None:
    if raw is None:
        return None
    if sum(kind == "numeric" for kind in features.values()) < 2:
        # The PCA is fitted when the reference is ready: a worker would find out only then.
        r.problem(path, dict(raw) if isinstance(raw, Mapping) else raw, "a model with at least 2 numeric features")
    keys = ("type", *MultivariateSettings.__dataclass_fields__)
    mv = r.mapping(raw, path, keys=keys)
    r.string(mv, "type", path, "pca_reconstruction", choices=("pca_reconstruction",))
    defaults = MultivariateSettings()
    values = {}
    for key, default in asdict(defaults).items():
        read = r.integer if isinstance(default, int) else r.number
        values[key] = read(mv, key, path, default)
    settings = MultivariateSettings(**values)
    r.detector(path, lambda: PCAReconstructionDrift(**asdict(settings)))
    return settings


def _streaming(r: Reader, raw: Any, path: str, features: Mapping[str, str]) -> StreamingSettings | None:
    s = r.mapping(raw, path, keys=("feature", "type", "params"))
    feature = s.get("feature", MISSING)
    if features.get(feature) != "numeric":
        r.problem(join(path, "feature"), feature, "the name of a numeric feature of this model")
    kind = r.string(s, "type", path, "adwin", choices=StreamingFeatureDetector.allowed)
    params = plain(dict(r.section(s, "params", path)))
    r.detector(join(path, "params"), lambda: StreamingFeatureDetector(kind, **params), params)
    return StreamingSettings(str(feature), kind, params) if isinstance(feature, str) else None

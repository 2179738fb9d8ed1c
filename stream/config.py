"""Settings: YAML read once with ``yaml.safe_load`` into frozen, validated objects.

``${VAR}`` and ``${VAR:-default}`` are expanded from the environment before
validation. Every problem is collected and reported together as a
:class:`ConfigError`, one line each naming the key path, the bad value and what
was expected. Values under secret-looking keys are never echoed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from driftline.alerting.rules import DEFAULT_RULES, AlertRule, parse_rules
from driftline.detectors import DetectorConfigError, DriftSettings, make_detector
from driftline.sinks.alerts import parse_channel_configs
from driftline.sinks.retention import RetentionPolicy

from .errors import ConfigError, ConfigProblem, redact
from .parsing import Reader, parse_duration_ms

__all__ = [
    "ClickHouseSettings",
    "ConfigError",
    "KafkaSettings",
    "MetricsSettings",
    "ModelSettings",
    "Settings",
    "WorkerSettings",
    "load_settings",
    "parse_settings",
]

TASKS = ("binary_classification", "multiclass_classification", "regression")
FEATURE_KINDS = ("numeric", "categorical")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
# kafka.security key -> librdkafka property
SECURITY_KEYS = {
    "protocol": "security.protocol",
    "sasl_mechanism": "sasl.mechanism",
    "sasl_username": "sasl.username",
    "sasl_password": "sasl.password",
    "ssl_ca_location": "ssl.ca.location",
    "ssl_certificate_location": "ssl.certificate.location",
    "ssl_key_location": "ssl.key.location",
    "ssl_key_password": "ssl.key.password",
}
_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str = "127.0.0.1:9092"
    group_id: str = "driftline"
    predictions_topic: str = "driftline.predictions"
    feedback_topic: str = "driftline.feedback"
    alerts_topic: str = "driftline.alerts"
    dead_letter_topic: str = "driftline.dead-letter"
    batch_size: int = 10_000
    poll_timeout_s: float = 0.05
    session_timeout_ms: int = 10_000
    max_message_bytes: int = 1_048_576
    # Passed verbatim to librdkafka (security.protocol, sasl.*, ssl.*): see README "Security".
    client_options: Mapping[str, str] = field(default_factory=dict, repr=False)
    # ``kafka.security`` mapped to librdkafka keys (see SECURITY_KEYS); secrets stay out of repr.
    security: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ClickHouseSettings:
    url: str = "chdb://./.driftline/store"
    flush_rows: int = 50_000
    flush_interval_s: float = 1.0

    def __repr__(self) -> str:  # the URL may carry a password
        return (f"ClickHouseSettings(url={redact('url', self.url)!r}, flush_rows={self.flush_rows!r}, "
                f"flush_interval_s={self.flush_interval_s!r})")


@dataclass(frozen=True)
class MetricsSettings:
    port: int = 9108
    host: str = "127.0.0.1"
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class WorkerSettings:
    checkpoint_interval_s: float = 5.0
    join_max_delay_ms: int = 3_600_000
    join_max_pending: int = 200_000
    max_features: int = 500


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
    concept_detector: str = "adwin"
    concept_params: Mapping[str, Any] = field(default_factory=dict)
    positive_label: Any = 1
    quality: Mapping[str, Any] = field(default_factory=dict)  # DataQualityCheck thresholds
    multivariate: Mapping[str, Any] | None = None  # PCAReconstructionDrift parameters, when enabled
    streaming: tuple[Mapping[str, Any], ...] = ()  # [{feature, type, params}] river detectors on values


@dataclass(frozen=True)
class Settings:
    kafka: KafkaSettings
    clickhouse: ClickHouseSettings
    metrics: MetricsSettings
    worker: WorkerSettings
    models: tuple[ModelSettings, ...]
    alert_rules: tuple[AlertRule, ...]
    alert_channels: tuple[Mapping[str, Any], ...] = ()
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)

    def model(self, name: str) -> ModelSettings | None:
        return self._by_name.get(name)

    def __repr__(self) -> str:  # alert channels hold webhook secrets, tokens and keyed URLs
        channels = [{k: _redact_value(k, v) for k, v in c.items()} for c in self.alert_channels]
        return (f"Settings(kafka={self.kafka!r}, clickhouse={self.clickhouse!r}, metrics={self.metrics!r}, "
                f"worker={self.worker!r}, models={self.models!r}, alert_rules=<{len(self.alert_rules)} rules>, "
                f"alert_channels={channels!r})")

    @property
    def _by_name(self) -> dict[str, ModelSettings]:
        return {m.name: m for m in self.models}


def _redact_value(key: str, value: Any) -> Any:
    if key == "headers" and value:  # Authorization and API-key headers
        return "***"
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if key in ("url", "routing_key", "integration_key", "service_key") and isinstance(value, str) and value:
        return "***"
    return redact(str(key), value)


def expand_env(text: str, environ: Mapping[str, str]) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}``; an unset ``${VAR}`` becomes ''."""
    return _ENV_PATTERN.sub(lambda m: environ.get(m.group(1)) or (m.group(2) or ""), text)


def load_settings(path: str | Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read a YAML config file. Raises :class:`ConfigError` listing every problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem("<file>", str(path), f"a readable file ({exc.strerror})")]) from exc
    text = expand_env(text, os.environ if environ is None else environ)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem("<file>", str(path), f"valid YAML ({exc})")]) from exc
    return parse_settings(raw if raw is not None else {})


def parse_settings(raw: Any) -> Settings:
    r = Reader(raw)
    root = r.mapping("", raw)
    kafka_raw = r.section(root, "kafka")
    topics = r.section(kafka_raw, "topics", "kafka")
    kafka = KafkaSettings(
        bootstrap_servers=r.string(kafka_raw, "bootstrap_servers", "kafka", KafkaSettings.bootstrap_servers),
        group_id=r.string(kafka_raw, "group_id", "kafka", KafkaSettings.group_id),
        predictions_topic=r.string(topics, "predictions", "kafka.topics", KafkaSettings.predictions_topic),
        feedback_topic=r.string(topics, "feedback", "kafka.topics", KafkaSettings.feedback_topic),
        alerts_topic=r.string(topics, "alerts", "kafka.topics", KafkaSettings.alerts_topic),
        dead_letter_topic=r.string(topics, "dead_letter", "kafka.topics", KafkaSettings.dead_letter_topic),
        batch_size=r.integer(kafka_raw, "batch_size", "kafka", KafkaSettings.batch_size, low=1, high=1_000_000),
        poll_timeout_s=r.duration(kafka_raw, "poll_timeout", "kafka", 50) / 1000,
        session_timeout_ms=r.duration(kafka_raw, "session_timeout", "kafka", KafkaSettings.session_timeout_ms),
        max_message_bytes=r.integer(kafka_raw, "max_message_bytes", "kafka", KafkaSettings.max_message_bytes, low=1024),
        client_options=r.string_map(kafka_raw, "options", "kafka"),
        security=_parse_kafka_security(r, r.section(kafka_raw, "security", "kafka")),
    )
    ch_raw = r.section(root, "clickhouse")
    clickhouse = ClickHouseSettings(
        url=r.url(ch_raw, "url", "clickhouse", ClickHouseSettings.url, schemes=("clickhouse", "clickhouses", "chdb")),
        flush_rows=r.integer(ch_raw, "flush_rows", "clickhouse", ClickHouseSettings.flush_rows, low=1),
        flush_interval_s=r.duration(ch_raw, "flush_interval", "clickhouse", 1000) / 1000,
    )
    m_raw = r.section(root, "metrics")
    metrics = MetricsSettings(
        port=r.integer(m_raw, "port", "metrics", MetricsSettings.port, low=0, high=65535),
        host=r.string(m_raw, "host", "metrics", MetricsSettings.host),
        token=r.string(m_raw, "token", "metrics", None) or None,
    )
    w_raw = r.section(root, "worker")
    join_raw = r.section(w_raw, "join", "worker")
    worker = WorkerSettings(
        checkpoint_interval_s=r.duration(w_raw, "checkpoint_interval", "worker", 5000) / 1000,
        join_max_delay_ms=r.duration(join_raw, "max_delay", "worker.join", WorkerSettings.join_max_delay_ms),
        join_max_pending=r.integer(join_raw, "max_pending", "worker.join", WorkerSettings.join_max_pending, low=1),
        max_features=r.integer(w_raw, "max_features", "worker", WorkerSettings.max_features, low=1),
    )
    models = tuple(_parse_model(r, m, f"models[{i}]") for i, m in enumerate(r.sequence(root, "models", "")))
    names = [m.name for m in models]
    for name in {n for n in names if names.count(n) > 1}:
        r.problem("models", name, "unique model names")
    if not models:
        r.problem("models", [], "at least one model")
    alerts_raw = r.section(root, "alerts")
    rules: tuple[AlertRule, ...] = DEFAULT_RULES
    try:
        if alerts_raw.get("rules") is not None:
            rules = parse_rules(alerts_raw.get("rules"), path="alerts.rules")
    except ValueError as exc:
        r.detector_problem(exc, "alerts.rules")
    channels = tuple(r.sequence(alerts_raw, "channels", "alerts"))
    try:
        parse_channel_configs(list(channels), path="alerts.channels")
    except ValueError as exc:
        r.detector_problem(exc, "alerts.channels")
    retention = RetentionPolicy()
    try:
        retention = RetentionPolicy.from_mapping(root.get("retention"), path="retention")
    except ValueError as exc:
        r.detector_problem(exc, "retention")
    r.raise_if_problems()
    return Settings(kafka, clickhouse, metrics, worker, models, rules, channels, retention)


def _parse_kafka_security(r: Reader, raw: Mapping[str, Any]) -> dict[str, str]:
    """``kafka.security`` -> librdkafka properties; SASL needs a mechanism, a username and a password."""
    path = "kafka.security"
    out: dict[str, str] = {}
    for key, value in raw.items():
        if key not in SECURITY_KEYS:
            r.problem(f"{path}.{key}", value, "one of: " + ", ".join(SECURITY_KEYS))
        elif not isinstance(value, str) or not value:
            r.problem(f"{path}.{key}", value, "a non-empty string (secrets as ${VAR} from the environment)")
        else:
            out[SECURITY_KEYS[key]] = value
    protocol = out.get("security.protocol", "PLAINTEXT")
    if protocol.upper() not in SECURITY_PROTOCOLS:
        r.problem(f"{path}.protocol", protocol, "one of: " + ", ".join(SECURITY_PROTOCOLS))
    mechanism = out.get("sasl.mechanism")
    if mechanism is not None and mechanism.upper() not in SASL_MECHANISMS:
        r.problem(f"{path}.sasl_mechanism", mechanism, "one of: " + ", ".join(SASL_MECHANISMS))
    if protocol.upper().startswith("SASL"):
        for key in ("sasl_mechanism", "sasl_username", "sasl_password"):
            if SECURITY_KEYS[key] not in out and key not in raw:
                r.problem(f"{path}.{key}", None, f"a value when protocol is {protocol}")
    return out


def _parse_model(r: Reader, raw: Any, path: str) -> ModelSettings:
    m = r.mapping(path, raw)
    name = r.string(m, "name", path, None)
    if not name:
        r.problem(f"{path}.name", m.get("name"), "a non-empty string")
    task = r.choice(m, "task", path, "binary_classification", TASKS)
    features = r.mapping(f"{path}.features", m.get("features", {}))
    for fname, kind in features.items():
        if kind not in FEATURE_KINDS:
            r.problem(f"{path}.features.{fname}", kind, "one of: " + ", ".join(FEATURE_KINDS))
    ref = r.section(m, "reference", path)
    ref_keys = [k for k in ("warmup_events", "path", "profile") if k in ref]
    if len(ref_keys) > 1:
        r.problem(f"{path}.reference", dict(ref), "exactly one of warmup_events, path, profile")
    window = r.section(m, "window", path)
    drift = DriftSettings()
    try:
        drift = DriftSettings.from_dict(m.get("drift") or {}, path=f"{path}.drift")
    except (DetectorConfigError, ValueError) as exc:
        r.detector_problem(exc, f"{path}.drift")
    concept = r.section(m, "concept", path)
    _try_detector(r, f"{path}.concept", "concept_drift", {"detector": concept.get("detector", "adwin"),
                                                         **r.mapping(f"{path}.concept.params", concept.get("params"))})
    quality = r.section(m, "quality", path)
    _try_detector(r, f"{path}.quality", "data_quality", quality)
    multivariate = m.get("multivariate")
    if multivariate is not None:
        multivariate = dict(r.mapping(f"{path}.multivariate", multivariate))
        kind = multivariate.pop("type", "pca_reconstruction")
        if kind != "pca_reconstruction":
            r.problem(f"{path}.multivariate.type", kind, "pca_reconstruction")
        _try_detector(r, f"{path}.multivariate", "pca_reconstruction", multivariate)
    streaming = []
    for i, raw in enumerate(r.sequence(m, "streaming", path)):
        item = r.mapping(f"{path}.streaming[{i}]", raw)
        if features.get(item.get("feature")) != "numeric":
            r.problem(f"{path}.streaming[{i}].feature", item.get("feature"), "the name of a numeric feature of this model")
        params = {"type": item.get("type", "adwin"), **r.mapping(f"{path}.streaming[{i}].params", item.get("params"))}
        _try_detector(r, f"{path}.streaming[{i}]", "streaming_feature", params)
        streaming.append({"feature": item.get("feature"), **params})
    return ModelSettings(
        name=name or "",
        task=task,
        features={str(k): str(v) for k, v in features.items()},
        warmup_events=r.integer(ref, "warmup_events", f"{path}.reference", 5000 if not ref_keys else None, low=10, high=1_000_000),
        reference_path=r.string(ref, "path", f"{path}.reference", None),
        reference_profile=r.string(ref, "profile", f"{path}.reference", None),
        window_ms=r.duration(window, "size", f"{path}.window", 60_000, low=1000),
        allowed_lateness_ms=r.duration(window, "allowed_lateness", f"{path}.window", 0),
        idle_close_ms=r.duration(window, "idle_close", f"{path}.window", 10_000, low=100),
        drift=drift,
        concept_detector=r.string(concept, "detector", f"{path}.concept", "adwin"),
        concept_params=r.mapping(f"{path}.concept.params", concept.get("params", {})),
        positive_label=m.get("positive_label", 1),
        quality=dict(quality),
        multivariate=multivariate,
        streaming=tuple(streaming),
    )


def _try_detector(r: Reader, path: str, kind: str, params: Mapping[str, Any]) -> None:
    """Construct the detector once so that a bad parameter is reported with its key path."""
    try:
        make_detector(kind, **dict(params))
    except (DetectorConfigError, ValueError) as exc:
        r.problem(path, dict(params), f"valid {kind} parameters ({exc})")


__all__ += ["expand_env", "parse_duration_ms"]  # noqa: PLE0605

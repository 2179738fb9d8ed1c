"""Settings: the one place that reads YAML and environment variables.

A config file is read once (``yaml.safe_load``), ``${VAR}`` / ``${VAR:-default}`` are expanded
in string values only, and every section is parsed into frozen, typed settings. All problems
of a file are reported together, one line each: ``key.path: <value> is invalid, expected
<what>``, secrets never shown. Durations everywhere follow one grammar (``500ms``, ``60s``,
``5m``, ``1h``, ``1d``, ``1h30m``; a bare number is seconds).

This layer sits just above :mod:`driftline.detectors` (whose own checks validate detector
hyperparameters) and below everything else: ``alerting``, ``sinks``, ``stream``, ``cli`` and
``demo`` take their typed settings from here.

Modules: ``config`` (the whole file, :class:`Settings`), ``kafka``, ``service`` (clickhouse,
metrics, worker), ``limits`` (what one event may be), ``models``, ``drift``, ``rules``,
``channels``, ``retention``, ``experiments``; ``reader`` (typed reads that collect problems), ``env``,
``durations``, ``errors``.
"""

from .channels import (
    CHANNEL_SETTINGS,
    AlertmanagerSettings,
    ChannelFilter,
    ChannelSettings,
    KafkaChannelSettings,
    PagerDutySettings,
    SlackSettings,
    WebhookSettings,
    parse_channels,
)
from .config import Settings, load_settings, parse_settings, read_yaml
from .durations import DURATION, parse_duration_ms
from .errors import ConfigError, ConfigProblem, redact, redact_url
from .experiments import Arm, ExperimentSettings
from .kafka import KafkaSecurity, KafkaSettings
from .limits import EventLimits, EventTimeBounds, VersionLimits
from .models import (
    ConceptSettings,
    ModelSettings,
    MultivariateSettings,
    QualitySettings,
    StreamingSettings,
)
from .reader import Reader
from .retention import RetentionPolicy, parse_retention
from .rules import (
    ACTIONS,
    EXPERIMENT_VERDICTS,
    KINDS,
    SEVERITIES,
    ConceptWhen,
    DriftWhen,
    ExperimentWhen,
    FairnessWhen,
    LifecycleWhen,
    MetricWhen,
    QualityWhen,
    RuleSettings,
    SegmentMetricWhen,
    parse_rules,
)
from .segments import (
    FairnessSettings,
    SegmentDriftSettings,
    SegmentKey,
    SegmentSettings,
    combination_name,
)
from .service import ClickHouseSettings, MetricsSettings, WorkerSettings

__all__ = [
    "ACTIONS",
    "CHANNEL_SETTINGS",
    "DURATION",
    "EXPERIMENT_VERDICTS",
    "KINDS",
    "SEVERITIES",
    "AlertmanagerSettings",
    "Arm",
    "ChannelFilter",
    "ChannelSettings",
    "ClickHouseSettings",
    "ConceptSettings",
    "ConceptWhen",
    "ConfigError",
    "ConfigProblem",
    "DriftWhen",
    "EventLimits",
    "EventTimeBounds",
    "ExperimentSettings",
    "ExperimentWhen",
    "FairnessSettings",
    "FairnessWhen",
    "KafkaChannelSettings",
    "KafkaSecurity",
    "KafkaSettings",
    "LifecycleWhen",
    "MetricWhen",
    "MetricsSettings",
    "ModelSettings",
    "MultivariateSettings",
    "PagerDutySettings",
    "QualitySettings",
    "QualityWhen",
    "Reader",
    "RetentionPolicy",
    "RuleSettings",
    "SegmentDriftSettings",
    "SegmentKey",
    "SegmentMetricWhen",
    "SegmentSettings",
    "Settings",
    "SlackSettings",
    "StreamingSettings",
    "VersionLimits",
    "WebhookSettings",
    "WorkerSettings",
    "combination_name",
    "load_settings",
    "parse_channels",
    "parse_duration_ms",
    "parse_retention",
    "parse_rules",
    "parse_settings",
    "read_yaml",
    "redact",
    "redact_url",
]

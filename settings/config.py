"""The whole config file: read once with ``yaml.safe_load`` into one frozen :class:`Settings`.

:func:`load_settings` reads the file, expands ``${VAR}`` references in string values
(:mod:`driftline.settings.env`) and parses every section; :func:`parse_settings` does the
same for a mapping already loaded. Every problem of every section is collected and
raised together as one :class:`~driftline.settings.ConfigError`: a bad channel does not
hide a bad rule. Keys and defaults are those of the README's annotated config.

>>> s = parse_settings({"models": [{"name": "credit", "features": {"income": "numeric"}}]})
>>> s.kafka.batch_size, s.model("credit").window_ms, s.alert_rules, s.retention.raw_events_days
(10000, 60000, None, 30)
>>> parse_settings({"models": [{"name": "m", "task": "clustering"}], "retention": {"raw_events": "x"},
...                 "alerts": {"rules": [{"name": "r", "kind": "nope", "severity": "warning"}],
...                            "channels": [{"type": "sms"}]}})
Traceback (most recent call last):
...
driftline.settings.errors.ConfigError: models[0].task: 'clustering' is invalid, expected one of: binary_classification, multiclass_classification, regression
alerts.rules[0].kind: 'nope' is invalid, expected one of: data_drift, prediction_drift, concept_drift, covariate_shift, performance, data_quality, latency, experiment, rollback_not_effective, segment_performance, fairness
alerts.channels[0].type: 'sms' is invalid, expected one of: alertmanager, kafka, pagerduty, slack, webhook
retention.raw_events: 'x' is invalid, expected a whole number of days such as 30d (or 30)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .channels import ChannelSettings, read_channels
from .env import expand_env
from .errors import MISSING, ConfigError, ConfigProblem
from .experiments import ExperimentSettings, check_models, read_experiments
from .kafka import KafkaSettings, parse_kafka
from .models import ModelSettings, parse_model
from .reader import Reader, join
from .retention import RetentionPolicy, read_retention
from .rules import RuleSettings, read_rules
from .service import (
    ClickHouseSettings,
    MetricsSettings,
    WorkerSettings,
    parse_clickhouse,
    parse_metrics,
    parse_worker,
)

__all__ = ["Settings", "load_settings", "parse_settings", "read_yaml"]

_SECTIONS = ("kafka", "clickhouse", "metrics", "worker", "retention", "models", "alerts", "experiments")


@dataclass(frozen=True)
class Settings:
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    clickhouse: ClickHouseSettings = field(default_factory=ClickHouseSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    models: tuple[ModelSettings, ...] = ()
    # ``None``: ``alerts.rules`` is absent and the alerting layer's default rules apply.
    alert_rules: tuple[RuleSettings, ...] | None = None
    alert_channels: tuple[ChannelSettings, ...] = ()
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    # What the config turns off on purpose, one line each (a channel whose optional URL is empty).
    notes: tuple[str, ...] = ()
    experiments: tuple[ExperimentSettings, ...] = ()

    def model(self, name: str) -> ModelSettings | None:
        return next((m for m in self.models if m.name == name), None)


def read_yaml(path: str | Path, environ: Mapping[str, str] | None = None) -> Any:
    """The parsed YAML file (``None`` when empty), references expanded from ``environ``
    (default ``os.environ``). A missing file or bad YAML is a :class:`ConfigError` on ``<file>``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem("<file>", str(path), f"a readable file ({exc.strerror})")]) from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem("<file>", str(path), f"valid YAML ({_yaml_problem(exc)})")]) from exc
    return expand_env(raw, os.environ if environ is None else environ)


def _two_stage(r: Reader, models: tuple[ModelSettings, ...], experiments: Any) -> None:
    """What two-stage aggregation cannot give the same results for whatever the keying (docs/deployment.md).

    Streaming detectors are allowed: under two stages they read each window's mean of their feature.
    """
    for i, m in enumerate(models):
        where = join("models", i)
        if m.reference_path is None and m.reference_profile is None:
            r.problem(join(where, "reference"), "warmup_events",
                      "a reference path or profile with worker.aggregation: two_stage (a warm-up reference "
                      "depends on which events a partition saw first)")
        drift = m.segments.drift if m.segments is not None else None
        if drift is not None and drift.reference == "segment":
            r.problem(join(join(join(where, "segments"), "drift"), "reference"), "segment",
                      "global with worker.aggregation: two_stage (a group's own reference depends on arrival order)")
    if experiments:
        names = [e.get("name") if isinstance(e, Mapping) else e for e in experiments] \
            if isinstance(experiments, list) else experiments
        r.problem("experiments", names, "no experiments with worker.aggregation: two_stage (not merged across "
                  "partitions yet)")


def _within_limits(r: Reader, models: tuple[ModelSettings, ...], worker: WorkerSettings) -> None:
    """A configured name longer than the event limits would dead-letter every event that uses it."""
    limits = worker.limits
    for i, m in enumerate(models):
        if len(m.name.encode()) > limits.model:
            r.problem(join(join("models", i), "name"), m.name,
                      f"a name of at most {limits.model} bytes (worker.limits.model)")
        for feature in m.features:
            if len(feature.encode()) > limits.feature_name:
                r.problem(join(join(join("models", i), "features"), feature), feature,
                          f"a feature name of at most {limits.feature_name} bytes (worker.limits.feature_name)")


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: what the parser found and where (the file's text is not echoed)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem


def load_settings(path: str | Path, environ: Mapping[str, str] | None = None, *,
                  check_files: bool = True) -> Settings:
    """Read a config file. Raises :class:`ConfigError` listing every problem.

    The files it names (``reference.path``, ``reference.profile``, the Kafka TLS files) are
    resolved from the file's own directory and, unless ``check_files`` is false (``driftline
    baseline`` writes the profile the config names), must be readable."""
    return parse_settings(read_yaml(path, environ), base_dir=Path(path).resolve().parent, check_files=check_files)


def parse_settings(raw: Any, environ: Mapping[str, str] | None = None, *,
                   base_dir: str | Path | None = None, check_files: bool = True) -> Settings:
    """Settings from a parsed config mapping; with ``environ``, ``${VAR}`` references are expanded first.

    With ``base_dir``, relative file paths are resolved from it and checked (see :meth:`Reader.file`);
    without, they stay as written."""
    if environ is not None:
        raw = expand_env(raw, environ)
    r = Reader(base_dir, check_files=check_files)
    root = r.mapping({} if raw is None else raw, "", keys=_SECTIONS)
    kafka = parse_kafka(r, root.get("kafka"))
    clickhouse = parse_clickhouse(r, root.get("clickhouse"))
    metrics = parse_metrics(r, root.get("metrics"))
    # The default oldest event age follows the raw-event retention (its problems are reported below).
    worker = parse_worker(r, root.get("worker"),
                          raw_events_days=read_retention(Reader(), root.get("retention"), "retention").raw_events_days)
    models = tuple(parse_model(r, item, where) for where, item in r.items(root, "models", ""))
    names = [m.name for m in models]
    for i, name in enumerate(names):
        if name and name in names[:i]:
            r.problem(join(join("models", i), "name"), name, "a name no other model uses")
    _within_limits(r, models, worker)
    if worker.aggregation == "two_stage":
        _two_stage(r, models, root.get("experiments"))
    if not models and (raw is None or isinstance(raw, Mapping)) and not any(p.path == "models" for p in r.problems):
        r.problem("models", root.get("models", MISSING), "a list of at least one model")
    alerts = r.section(root, "alerts", "", keys=("rules", "channels"))
    rules = None if alerts.get("rules") is None else read_rules(r, alerts["rules"], "alerts.rules")
    channels = () if alerts.get("channels") is None else read_channels(r, alerts["channels"], "alerts.channels")
    retention = read_retention(r, root.get("retention"), "retention")
    experiments = () if root.get("experiments") is None else check_models(
        r, read_experiments(r, root["experiments"], "experiments"), {m.name: m.task for m in models})
    r.raise_if_problems()
    return Settings(kafka, clickhouse, metrics, worker, models, rules, channels, retention, tuple(r.notes), experiments)

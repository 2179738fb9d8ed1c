"""The whole config: the README's annotated config is the contract, every section is typed, and one
pass reports every problem of every section."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from driftline.cli import main
from driftline.detectors import DriftSettings, TestSpec
from driftline.settings import (
    AlertmanagerSettings,
    ChannelFilter,
    ClickHouseSettings,
    ConceptSettings,
    ConceptWhen,
    ConfigError,
    DriftWhen,
    FairnessSettings,
    KafkaSecurity,
    KafkaSettings,
    MetricsSettings,
    MetricWhen,
    ModelSettings,
    MultivariateSettings,
    PagerDutySettings,
    QualitySettings,
    RetentionPolicy,
    RuleSettings,
    SegmentKey,
    SegmentSettings,
    Settings,
    SlackSettings,
    StreamingSettings,
    WebhookSettings,
    WorkerSettings,
    load_settings,
    parse_settings,
)

ROOT = Path(__file__).resolve().parents[2]
ENV = {"KAFKA_PASSWORD": "kafka-pw-1", "CLICKHOUSE_PASSWORD": "ch-pw-2", "DRIFTLINE_TOKEN": "tok-3",
       "RETRAIN_WEBHOOK_URL": "https://ci.example/retrain?key=url-4", "RETRAIN_WEBHOOK_SECRET": "hook-5",
       "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/slack-6", "PAGERDUTY_ROUTING_KEY": "pd-7"}


def readme_config() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("A complete, annotated config")
    return re.search(r"```yaml\n(.*?)```", readme[start:], re.S).group(1)


@pytest.fixture(scope="module")
def documented() -> Settings:
    return parse_settings(yaml.safe_load(readme_config()), environ=ENV)


def test_the_readme_config_gives_typed_kafka_clickhouse_metrics_worker(documented):
    s = documented
    assert s.kafka == KafkaSettings(
        security=KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "driftline", "kafka-pw-1", "/etc/ssl/kafka-ca.pem"),
        client_options={})
    assert s.kafka.poll_timeout_s == 0.05 and s.kafka.session_timeout_ms == 10_000
    assert s.clickhouse == ClickHouseSettings("clickhouse://default:ch-pw-2@127.0.0.1:9000/driftline", 50_000, 1.0)
    assert s.metrics == MetricsSettings(9108, "127.0.0.1", "tok-3")
    assert s.worker == WorkerSettings(5.0, 3_600_000, 200_000, 500)
    assert s.retention == RetentionPolicy(30, 365, {})


def test_the_readme_config_gives_a_typed_model(documented):
    (model,) = documented.models
    assert model == ModelSettings(
        name="credit", task="binary_classification",
        features={"income": "numeric", "age": "numeric", "country": "categorical", "has_cosigner": "boolean"},
        warmup_events=5000, window_ms=60_000, allowed_lateness_ms=0, idle_close_ms=10_000,
        drift=DriftSettings(numeric=(TestSpec("wasserstein", "auto"), TestSpec("ranks", "auto"),
                                     TestSpec("moments", "auto")),
                            categorical=(TestSpec("chi2", "auto"),), correction="holm", persistence=(1, 1),
                            importances={"income": 0.6, "age": 0.3, "country": 0.1}),
        concept=ConceptSettings("adwin", {"delta": 0.002}),
        positive_label=1,
        quality=QualitySettings(0.1, 0.01, 0.05, 0.05),
        multivariate=MultivariateSettings(variance=0.65),
        streaming=(StreamingSettings("income", "adwin"),),
        segments=SegmentSettings((SegmentKey("region", "segment"), SegmentKey("country", "feature"))),
        fairness=FairnessSettings(("region",)),
    )


def test_the_readme_config_gives_typed_rules_and_channels(documented):
    assert documented.alert_rules == (
        RuleSettings("data-drift", "data_drift", "warning", "notify", DriftWhen()),
        RuleSettings("concept-drift", "concept_drift", "critical", "retrain", ConceptWhen()),
        RuleSettings("covariate-shift", "covariate_shift", "warning", "notify", ConceptWhen()),
        RuleSettings("accuracy-low", "performance", "critical", "deactivate", MetricWhen("accuracy", "<", 0.8),
                     for_windows=2),
    )
    retrain, slack, pagerduty, alertmanager = documented.alert_channels
    assert retrain == WebhookSettings("retrain", ENV["RETRAIN_WEBHOOK_URL"], secret="hook-5",
                                      filter=ChannelFilter(frozenset({"retrain"}), None, "warning", False, False))
    assert slack == SlackSettings(
        "slack", ENV["SLACK_WEBHOOK_URL"],
        dashboard_url="http://grafana:3000/d/driftline-model?var-model={model}&var-version={version}")
    assert pagerduty == PagerDutySettings("pagerduty", "pd-7", ChannelFilter(min_severity="critical"))
    assert alertmanager == AlertmanagerSettings("alertmanager", "http://alertmanager:9093")


def test_no_secret_of_the_readme_config_is_in_its_repr(documented):
    text = repr(documented)
    assert [v for v in ENV.values() if v.rsplit("/", 1)[-1].split("=")[-1] in text] == []


def test_an_absent_section_gets_its_defaults():
    s = parse_settings({"models": [{"name": "m"}]})
    assert (s.kafka, s.clickhouse, s.metrics, s.worker, s.retention) == \
        (KafkaSettings(), ClickHouseSettings(), MetricsSettings(), WorkerSettings(), RetentionPolicy())
    assert s.alert_rules is None and s.alert_channels == ()  # None: the alerting layer's default rules
    assert s.models[0] == ModelSettings("m", "binary_classification", {})
    assert parse_settings({"models": [{"name": "m"}], "alerts": {"rules": []}}).alert_rules == ()


BROKEN = """
models:
  - name: credit
    features: {income: numeric}
    concept: {detector: adwin, params: {delta: 2}}
alerts:
  rules:
    - {name: acc, kind: performance, severity: warning, when: {metric: accuracy, op: "=", value: 0.8}}
  channels:
    - {type: slack, url: "ftp://hooks.slack.com/services/T/B/X"}
retention:
  raw_events: 36h
"""


def test_one_pass_reports_a_bad_model_rule_channel_and_retention_together(tmp_path):
    path = tmp_path / "driftline.yaml"
    path.write_text(BROKEN)
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "models[0].concept.params.delta: 2 is invalid, expected a number in [0.0, 1.0)",
        "alerts.rules[0].when.op: '=' is invalid, expected one of: <, <=, >, >=",
        "alerts.channels[0].url: '***' is invalid, expected a URL with scheme http:// or https://",
        "retention.raw_events: '36h' is invalid, expected a whole number of days such as 30d (or 30)",
    ]


def test_every_line_has_the_one_format(tmp_path):
    path = tmp_path / "driftline.yaml"
    path.write_text(BROKEN + "kafka: {batch_size: 0, security: {protocol: X}, topics: {predictons: p}}\n"
                             "worker: {join: {max_pending: 0}}\nmetrics: {port: x}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert len(info.value.problems) == 9
    for line in str(info.value).splitlines():
        assert re.fullmatch(r"[\w.\[\]<>]+: .+ is invalid, expected .+", line), line


@pytest.mark.parametrize(("section", "key"), [
    ("kafka", "batchsize"), ("clickhouse", "flush_row"), ("metrics", "hots"), ("worker", "join_max_delay"),
    ("retention", "raw"), ("alerts", "rule"),
])
def test_a_key_a_section_does_not_know_is_a_problem(section, key):
    with pytest.raises(ConfigError) as info:
        parse_settings({"models": [{"name": "m"}], section: {key: 1}})
    assert str(info.value).startswith(f"{section}.{key}: 1 is invalid, expected a known key: ")


def test_an_unknown_top_level_section_is_a_problem():
    with pytest.raises(ConfigError, match=r"^modles: \[\] is invalid, expected a known key: kafka, clickhouse"):
        parse_settings({"models": [{"name": "m"}], "modles": []})

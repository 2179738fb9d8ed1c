"""``alerts.channels`` into typed settings per channel type; problems named by key path, secrets never shown.

Rendering and delivery from these settings: tests/sinks/test_alert_channels.py.
"""

from __future__ import annotations

import pytest
from driftline.settings import (
    CHANNEL_SETTINGS,
    AlertmanagerSettings,
    ChannelFilter,
    ConfigError,
    KafkaChannelSettings,
    PagerDutySettings,
    SlackSettings,
    WebhookSettings,
    parse_channels,
)
from driftline.sinks.alerts import CHANNEL_TYPES

DASHBOARD = "http://grafana:3000/d/x?var-model={model}&var-version={version}"


def test_each_type_gets_its_typed_settings():
    channels = parse_channels([
        {"type": "webhook", "name": "ci", "url": "https://api.github.com/repos/a/b/dispatches",
         "format": "github_dispatch", "event_type": "retrain", "headers": {"Authorization": "Bearer x"},
         "actions": ["retrain"], "send_repeats": True},
        {"type": "slack", "url": "https://hooks.slack.com/services/T/B/X", "dashboard_url": DASHBOARD,
         "max_features": 3, "kinds": ["data_drift"]},
        {"type": "pagerduty", "routing_key": "k", "min_severity": "critical"},
        {"type": "alertmanager", "url": "http://am:9093", "ttl": "2h", "send_resolved": False},
        {"type": "kafka", "topic": "driftline.alerts"},
    ])
    assert channels == (
        WebhookSettings("ci", "https://api.github.com/repos/a/b/dispatches",
                        ChannelFilter(frozenset({"retrain"}), None, "warning", False, True),
                        headers=(("Authorization", "Bearer x"),), format="github_dispatch", event_type="retrain"),
        SlackSettings("slack", "https://hooks.slack.com/services/T/B/X",
                      ChannelFilter(kinds=frozenset({"data_drift"})), DASHBOARD, 3),
        PagerDutySettings("pagerduty", "k", ChannelFilter(min_severity="critical")),
        AlertmanagerSettings("alertmanager", "http://am:9093", ChannelFilter(send_resolved=False), 7_200_000),
        KafkaChannelSettings("kafka", "driftline.alerts"),
    )


def test_every_settings_type_has_a_channel_class():
    assert set(CHANNEL_SETTINGS) == set(CHANNEL_TYPES)


def test_unnamed_channels_are_named_after_their_type():
    names = [c.name for c in parse_channels([
        {"type": "slack", "url": "https://h/x"}, {"type": "webhook", "url": "https://a/x"},
        {"type": "webhook", "url": "https://b/x"}])]
    assert names == ["slack", "webhook-1", "webhook-2"]


@pytest.mark.parametrize(("raw", "message"), [
    ([{"type": "webhook"}],
     "alerts.channels[0].url: <missing> is invalid, expected a URL with scheme http:// or https://"),
    ([{"type": "slack", "url": "https://hooks.slack.com/x"}, {"type": "webhook", "url": "ftp://x"}],
     "alerts.channels[1].url: '***' is invalid, expected a URL with scheme http:// or https://"),
    ([{"type": "slack", "url": "hooks.slack.com/services/SECRET"}],
     "alerts.channels[0].url: '***' is invalid, expected a URL with scheme http:// or https://"),
    ([{"type": "webhook", "url": "https://x", "actions": ["reboot"]}],
     "alerts.channels[0].actions: ['reboot'] is invalid, expected a list drawn from: notify, retrain, deactivate, rollback, promote"),
    ([{"type": "webhook", "url": "https://x", "min_severity": "info"}],
     "alerts.channels[0].min_severity: 'info' is invalid, expected one of: warning, critical"),
    ([{"type": "pagerduty"}], "alerts.channels[0].routing_key: <missing> is invalid, expected a non-empty string"),
    ([{"type": "alertmanager", "url": "http://am:9093", "ttl": "forever"}],
     "alerts.channels[0].ttl: 'forever' is invalid, expected a duration like 500ms"),
    ([{"type": "slack", "url": "https://h/x", "dashboard_url": "http://g/{modle}"}],
     "alerts.channels[0].dashboard_url: 'http://g/{modle}' is invalid, expected placeholders among {model}"),
    ([{"type": "webhook", "url": "https://x", "format": "gitlab_trigger"}],
     "alerts.channels[0].token: <missing> is invalid, expected a non-empty string"),
    ([{"type": "webhook", "url": "https://x", "headers": {"Authorization": 5}}],
     "alerts.channels[0].headers.Authorization: '***' is invalid, expected a string"),
    ([{"type": "kafka", "topic": "t", "partitions": 3}],
     "alerts.channels[0].partitions: 3 is invalid, expected a known key: type, name, actions, kinds, "
     "min_severity, send_resolved, send_repeats, topic"),
    ([{"type": "webhook", "name": "a", "url": "https://x"}, {"type": "slack", "name": "a", "url": "https://y"}],
     "alerts.channels[1].name: 'a' is invalid, expected a name no other channel uses"),
    ([{"type": "email"}],
     "alerts.channels[0].type: 'email' is invalid, expected one of: alertmanager, kafka, pagerduty, slack, webhook"),
    (["slack"], "alerts.channels[0]: 'slack' is invalid, expected a mapping with a type"),
    ({"type": "slack"}, "alerts.channels: {'type': 'slack'} is invalid, expected a list of channels"),
])
def test_problems_name_the_key_path(raw, message):
    with pytest.raises(ConfigError) as info:
        parse_channels(raw)
    assert str(info.value).startswith(message)


def test_every_bad_channel_is_reported_not_only_the_first():
    with pytest.raises(ConfigError) as info:
        parse_channels([{"type": "sms"}, {"type": "webhook", "url": "https://x", "format": "x"},
                        {"type": "pagerduty", "routing_key": "k", "url": "mailto:x"}])
    assert [p.path for p in info.value.problems] == [
        "alerts.channels[0].type", "alerts.channels[1].format", "alerts.channels[2].url"]


def test_secrets_never_appear_in_repr_or_errors():
    channels = parse_channels([
        {"type": "slack", "url": "https://hooks.slack.com/services/T/B/SECRETPATH"},
        {"type": "pagerduty", "routing_key": "PDKEY123"},
        {"type": "webhook", "url": "https://h/x?token=QS", "secret": "HMACKEY", "headers": {"Authorization": "B AUTH"},
         "format": "gitlab_trigger", "token": "GLTOKEN"},
    ])
    text = repr(channels)
    with pytest.raises(ConfigError) as info:
        parse_channels([
            {"type": "slack", "url": "ftp://hooks.slack.com/services/T/B/SECRETPATH"},
            {"type": "pagerduty", "routing_key": ["PDKEY123"]},
            {"type": "webhook", "url": "https://h/x", "secret": ["HMACKEY"], "token": 7, "format": "x",
             "headers": {"Authorization": ["B AUTH"]}},
        ])
    text += str(info.value)
    assert len(info.value.problems) == 6
    for secret in ("SECRETPATH", "PDKEY123", "HMACKEY", "AUTH", "QS", "GLTOKEN"):
        assert secret not in text

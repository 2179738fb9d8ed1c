"""Alert channels: exact wire formats and filters, built from typed settings; sent to a real local HTTP server.

How ``alerts.channels`` is read and validated: tests/settings/test_channels.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest
from driftline.alerting import Alert, FeatureEvidence
from driftline.settings import parse_channels
from driftline.sinks.alerts import (
    AlertDispatcher,
    ChannelConfigError,
    KafkaDeliveryError,
    MemoryDeliveryLog,
    build_channels,
    verify,
)
from driftline.sinks.alerts.alertmanager import alertmanager_alerts

NOW_S = 1_714_564_800.0  # 2024-05-01T12:00:00Z
SLACK_URL = "https://hooks.slack.com/services/T000/B000/SECRETPATH"


class Receiver:
    """A real loopback HTTP server that records every request and answers 200."""

    def __init__(self):
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def make_alert(**overrides) -> Alert:
    fields = dict(
        alert_id="0123456789abcdef0123456789abcdef", dedup_key="fraud/v3/data_drift", status="firing",
        kind="data_drift", severity="critical", action="retrain", model="fraud", version="v3",
        features=(FeatureEvidence("amount", "psi", 0.41, 0.2), FeatureEvidence("age", "ks", 0.31, 0.05, 0.001)),
        window_start_ms=1_714_561_200_000, window_end_ms=1_714_564_800_000,
        summary="Data drift on fraud/v3: 2 of 9 drifted", ts_ms=1_714_564_801_000,
        evidence={"rule": "drift", "metrics": {"accuracy": 0.91}}, rule="drift", reason="new",
    )
    fields.update(overrides)
    return Alert(**fields)


async def send_via_dispatcher(channel_dicts, alert, *, clock=lambda: NOW_S):
    channels = build_channels(parse_channels(channel_dicts))
    log = MemoryDeliveryLog()
    dispatcher = AlertDispatcher(client=httpx.AsyncClient(), channels=channels, delivery_log=log, clock=clock)
    await dispatcher.start()
    dispatcher.submit(alert)
    await dispatcher.stop(drain_timeout=10)
    return list(log.records)


async def test_generic_webhook_is_the_v1_json_signed_with_v2(receiver):
    alert = make_alert()
    (record,) = await send_via_dispatcher(
        [{"type": "webhook", "url": receiver.url + "/hook", "secret": "topsecret"}], alert)
    assert record.status == "delivered" and record.attempts == 1 and record.last_status_code == 200
    (req,) = receiver.requests
    headers = req["headers"]
    assert req["path"] == "/hook"
    assert headers["Content-Type"] == "application/json"
    assert headers["Idempotency-Key"] == alert.alert_id
    assert headers["X-Driftline-Timestamp"] == "1714564800"
    signed = f"1714564800.{alert.alert_id}.".encode() + req["body"]
    expected = hmac.new(b"topsecret", signed, hashlib.sha256).hexdigest()
    assert headers["X-Driftline-Signature"] == f"v2={expected}"
    assert verify("topsecret", headers["X-Driftline-Timestamp"], headers["Idempotency-Key"], req["body"],
                  headers["X-Driftline-Signature"], now=NOW_S + 10)
    # The key is covered: the same request replayed under another key does not verify.
    assert not verify("topsecret", headers["X-Driftline-Timestamp"], "f" * 32, req["body"],
                      headers["X-Driftline-Signature"], now=NOW_S + 10)
    body = json.loads(req["body"])
    assert body == alert.to_dict()
    assert body["action"] == "retrain" and body["evidence"] == {"rule": "drift", "metrics": {"accuracy": 0.91}}
    assert body["window_start"] == "2024-05-01T11:00:00.000Z" and body["ts"] == "2024-05-01T12:00:01.000Z"


def _documented_verifier():
    """``verify_driftline`` as docs/alerts.md shows it to receivers."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "alerts.md").read_text()
    section = text[text.index("### Verifying the signature"):]
    code = section[section.index("```python") + len("```python"):]
    namespace: dict = {}
    exec(code[:code.index("```")], namespace)  # noqa: S102 - the project's own documentation
    return namespace["verify_driftline"]


async def test_the_documented_receiver_snippet_verifies_a_signed_request(receiver):
    verify_driftline = _documented_verifier()
    alert = make_alert()
    now = time.time()  # the snippet reads the clock: sign at the real time
    await send_via_dispatcher([{"type": "webhook", "url": receiver.url, "secret": "topsecret"}], alert,
                              clock=lambda: now)
    (req,) = receiver.requests
    headers, body = req["headers"], req["body"]
    assert verify_driftline(b"topsecret", headers, body)
    assert not verify_driftline(b"other", headers, body)
    assert not verify_driftline(b"topsecret", {**headers, "Idempotency-Key": "f" * 32}, body)
    assert not verify_driftline(b"topsecret", headers, body + b" ")
    stale = {**headers, "X-Driftline-Timestamp": str(int(now) - 3600)}
    assert not verify_driftline(b"topsecret", stale, body)


async def test_webhook_without_secret_sends_no_signature(receiver):
    await send_via_dispatcher([{"type": "webhook", "url": receiver.url}], make_alert())
    assert "X-Driftline-Signature" not in receiver.requests[0]["headers"]


SLACK_EXPECTED = {
    "text": "[FIRING] critical: Data drift on fraud/v3: 2 of 9 drifted",
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                    "text": ":red_circle: FIRING critical: Data drift on fraud/v3"}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": "*Model*\nfraud"},
            {"type": "mrkdwn", "text": "*Version*\nv3"},
            {"type": "mrkdwn", "text": "*Kind*\ndata_drift"},
            {"type": "mrkdwn", "text": "*Severity*\ncritical"},
            {"type": "mrkdwn", "text": "*Window*\n2024-05-01T11:00:00.000Z → 2024-05-01T12:00:00.000Z"},
            {"type": "mrkdwn", "text": "*Action*\nretrain"},
        ]},
        {"type": "section", "text": {"type": "mrkdwn", "text": "Data drift on fraud/v3: 2 of 9 drifted"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            "*Top features*\n• `amount` psi = 0.41 (threshold 0.2)\n"
            "• `age` ks = 0.31 (threshold 0.05, p = 0.001)")}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": (
            "<http://grafana:3000/d/driftline-model?var-model=fraud&var-version=v3|Open dashboard> · "
            "alert `0123456789abcdef0123456789abcdef` · `fraud/v3/data_drift`")}]},
    ],
}


async def test_slack_block_kit_exact(receiver):
    dashboard = "http://grafana:3000/d/driftline-model?var-model={model}&var-version={version}"
    # The real Slack URL is https; point the channel at the receiver to capture the bytes.
    await send_via_dispatcher([{"type": "slack", "url": receiver.url + "/services/T/B/X",
                                "dashboard_url": dashboard}], make_alert())
    (req,) = receiver.requests
    assert req["path"] == "/services/T/B/X"
    assert json.loads(req["body"]) == SLACK_EXPECTED


def test_slack_escapes_and_truncates_features():
    (channel,) = build_channels(parse_channels([{"type": "slack", "url": SLACK_URL, "max_features": 1}]))
    alert = make_alert(status="resolved", severity="warning", model="a<b>", summary="x & y")
    body = channel.render(alert, now_s=NOW_S).json()
    assert body["blocks"][0]["text"]["text"] == ":large_green_circle: RESOLVED warning: Data drift on a<b>/v3"
    assert body["blocks"][1]["fields"][0]["text"] == "*Model*\na&lt;b&gt;"
    assert body["blocks"][2]["text"]["text"] == "x &amp; y"
    assert body["blocks"][3]["text"]["text"].endswith("… and 1 more")
    assert "Open dashboard" not in body["blocks"][4]["elements"][0]["text"]


async def test_pagerduty_events_v2_fields(receiver):
    alert = make_alert()
    await send_via_dispatcher([{"type": "pagerduty", "routing_key": "R0UTINGKEY", "url": receiver.url + "/v2/enqueue",
                                "dashboard_url": "http://grafana:3000/d/x?var-model={model}"}], alert)
    (req,) = receiver.requests
    assert req["path"] == "/v2/enqueue"
    assert json.loads(req["body"]) == {
        "routing_key": "R0UTINGKEY",
        "event_action": "trigger",
        "dedup_key": "fraud/v3/data_drift",
        "payload": {
            "summary": "Data drift on fraud/v3: 2 of 9 drifted",
            "source": "driftline/fraud/v3",
            "severity": "critical",
            "timestamp": "2024-05-01T12:00:01.000Z",
            "component": "fraud",
            "group": "v3",
            "class": "data_drift",
            "custom_details": {
                "alert_id": alert.alert_id, "action": "retrain", "reason": "new",
                "window_start": "2024-05-01T11:00:00.000Z", "window_end": "2024-05-01T12:00:00.000Z",
                "features": alert.to_dict()["features"],
                "evidence": {"rule": "drift", "metrics": {"accuracy": 0.91}},
            },
        },
        "client": "driftline",
        "client_url": "http://grafana:3000/d/x?var-model=fraud",
        "links": [{"href": "http://grafana:3000/d/x?var-model=fraud", "text": "Driftline dashboard"}],
    }


def test_pagerduty_resolve_and_default_url():
    (channel,) = build_channels(parse_channels([{"type": "pagerduty", "routing_key": "k"}]))
    request = channel.render(make_alert(status="resolved", reason="resolved"), now_s=NOW_S)
    assert request.url == "https://events.pagerduty.com/v2/enqueue"
    body = request.json()
    assert (body["event_action"], body["dedup_key"]) == ("resolve", "fraud/v3/data_drift")


def test_alertmanager_payload_firing_resolved_and_escalation():
    per_feature = make_alert(dedup_key="fraud/v3/data_quality/age", kind="data_quality", severity="warning")
    firing = alertmanager_alerts(per_feature, now_ms=1_714_564_802_000, ttl_ms=3_600_000,
                                 dashboard_url="http://grafana:3000/d/x?var-model={model}")
    assert firing == [{
        "labels": {"alertname": "DriftlineDataQuality", "model": "fraud", "version": "v3",
                   "kind": "data_quality", "severity": "warning", "feature": "age"},
        "annotations": {
            "summary": "Data drift on fraud/v3: 2 of 9 drifted",
            "description": ("Data drift on fraud/v3: 2 of 9 drifted\nAction: retrain. Window "
                            "2024-05-01T11:00:00.000Z → 2024-05-01T12:00:00.000Z.\n"
                            "Features: amount psi=0.41, age ks=0.31"),
            "action": "retrain", "alert_id": per_feature.alert_id, "dedup_key": "fraud/v3/data_quality/age"},
        "startsAt": "2024-05-01T11:00:00.000Z",
        "endsAt": "2024-05-01T13:00:02.000Z",
        "generatorURL": "http://grafana:3000/d/x?var-model=fraud",
    }]
    resolved = alertmanager_alerts(make_alert(status="resolved", reason="resolved",
                                              evidence={"firing_since": 1_714_557_600_000}),
                                   now_ms=1_714_564_802_000, ttl_ms=3_600_000)
    assert resolved[0]["startsAt"] == "2024-05-01T10:00:00.000Z"
    assert resolved[0]["endsAt"] == "2024-05-01T12:00:02.000Z"
    assert "feature" not in resolved[0]["labels"] and "generatorURL" not in resolved[0]
    escalated = alertmanager_alerts(make_alert(reason="escalation"), now_ms=1_714_564_802_000, ttl_ms=60_000)
    assert [(a["labels"]["severity"], a["endsAt"]) for a in escalated] == [
        ("critical", "2024-05-01T12:01:02.000Z"), ("warning", "2024-05-01T12:00:02.000Z")]


async def test_alertmanager_channel_posts_to_api_v2(receiver):
    await send_via_dispatcher([{"type": "alertmanager", "url": receiver.url + "/", "ttl": "5m"}], make_alert())
    (req,) = receiver.requests
    assert req["path"] == "/api/v2/alerts"
    (item,) = json.loads(req["body"])
    assert item["labels"]["alertname"] == "DriftlineDataDrift" and item["endsAt"] == "2024-05-01T12:05:00.000Z"


def test_github_repository_dispatch_format():
    (channel,) = build_channels(parse_channels([{
        "type": "webhook", "url": "https://api.github.com/repos/acme/models/dispatches", "format": "github_dispatch",
        "event_type": "driftline-retrain", "actions": ["retrain"], "headers": {"Authorization": "Bearer ghp_x"}}]))
    alert = make_alert()
    request = channel.render(alert, now_s=NOW_S)
    assert request.header("Authorization") == "Bearer ghp_x"
    assert request.header("Accept") == "application/vnd.github+json"
    body = request.json()
    assert body["event_type"] == "driftline-retrain"
    assert len(body["client_payload"]) <= 10  # GitHub's limit on top-level keys
    assert body["client_payload"]["model"] == "fraud" and body["client_payload"]["alert"] == alert.to_dict()
    assert "ghp_x" not in repr(channel.config) and "ghp_x" not in repr(request)


def test_gitlab_pipeline_trigger_format():
    (channel,) = build_channels(parse_channels([{
        "type": "webhook", "url": "https://gitlab.example.com/api/v4/projects/42/trigger/pipeline",
        "format": "gitlab_trigger", "token": "glptt-secret", "ref": "release", "actions": ["retrain"]}]))
    request = channel.render(make_alert(), now_s=NOW_S)
    assert request.header("Content-Type") == "application/x-www-form-urlencoded"
    form = dict(parse_qsl(request.body.decode()))
    assert form["token"] == "glptt-secret" and form["ref"] == "release"
    assert form["variables[DRIFTLINE_MODEL]"] == "fraud" and form["variables[DRIFTLINE_ACTION]"] == "retrain"
    assert json.loads(form["variables[DRIFTLINE_ALERT]"])["alert_id"] == make_alert().alert_id


def test_filters_actions_kinds_severity_and_action_channel_defaults():
    configs = parse_channels([
        {"type": "webhook", "name": "retrain", "url": "https://ci/x", "actions": ["retrain"]},
        {"type": "webhook", "name": "crit-drift", "url": "https://ops/x", "kinds": ["data_drift"],
         "min_severity": "critical"},
        {"type": "webhook", "name": "all", "url": "https://all/x", "send_repeats": False},
    ])
    retrain, crit, every = build_channels(configs)
    cases = {
        "new": make_alert(),
        "repeat": make_alert(reason="repeat"),
        "resolved": make_alert(status="resolved", reason="resolved"),
        "notify": make_alert(action="notify"),
        "warning": make_alert(severity="warning"),
        "latency": make_alert(kind="latency"),
    }
    accepted = {name: [k for k, a in cases.items() if ch.accepts(a)]
                for name, ch in (("retrain", retrain), ("crit", crit), ("all", every))}
    assert accepted == {
        "retrain": ["new", "warning", "latency"],  # firing only, once per incident
        "crit": ["new", "repeat", "resolved", "notify"],
        "all": ["new", "resolved", "notify", "warning", "latency"],
    }


def test_secrets_never_appear_in_repr_or_errors():
    configs = parse_channels([
        {"type": "slack", "url": SLACK_URL},
        {"type": "pagerduty", "routing_key": "PDKEY123"},
        {"type": "webhook", "url": "https://h/x?token=QS", "secret": "HMACKEY", "headers": {"Authorization": "B AUTH"}},
    ])
    text = repr(configs) + repr([c.render(make_alert(), now_s=NOW_S) for c in build_channels(configs)])
    for secret in ("SECRETPATH", "PDKEY123", "HMACKEY", "AUTH", "QS"):
        assert secret not in text


async def test_no_channel_repr_or_delivery_error_shows_a_url_secret():
    """Channel objects, their requests and the errors of a failed delivery show URLs by host only,
    even when a password holds an ``@`` (the part after it used to leak)."""
    closed = "127.0.0.1:9"  # discard port: the connection is refused
    configs = parse_channels([
        {"type": "alertmanager", "url": f'http://am:P@SS"am@{closed}/AMPATH'},
        {"type": "webhook", "url": f'http://u:P@SS"hook@{closed}/HOOKPATH?k=HOOKQS', "secret": "HMACKEY"},
        {"type": "slack", "url": f"http://{closed}/services/T/B/SLACKPATH"},
        {"type": "pagerduty", "routing_key": "PDKEY123", "url": f"http://u:P@SS\"pd@{closed}/PDPATH"},
        {"type": "kafka", "topic": "driftline.alerts"},
    ])
    channels = build_channels(configs, producer=FakeProducer())
    text = repr(channels) + repr([c.render(make_alert(), now_s=NOW_S) for c in channels if hasattr(c, "render")])
    assert "AlertmanagerChannel(AlertmanagerSettings(name='alertmanager', url='http://127.0.0.1:9/***'" in text
    log = MemoryDeliveryLog()
    dispatcher = AlertDispatcher(client=httpx.AsyncClient(), channels=[c for c in channels if hasattr(c, "render")],
                                 delivery_log=log, clock=lambda: NOW_S, max_attempts=1)
    await dispatcher.start()
    dispatcher.submit(make_alert())
    await dispatcher.stop(drain_timeout=10)
    assert [r.status for r in log.records] == ["failed"] * 4
    text += repr(list(log.records))
    for secret in ("SS\"", "AMPATH", "HOOKPATH", "HOOKQS", "HMACKEY", "SLACKPATH", "PDKEY123", "PDPATH"):
        assert secret not in text, secret


class FakeProducer:
    """Stands in for confluent_kafka.Producer at the edge."""

    def __init__(self, unflushed=0):
        self.produced, self.unflushed = [], unflushed

    def produce(self, topic, value=None, key=None, on_delivery=None):
        self.produced.append((topic, key, value))
        on_delivery(None, None)

    def flush(self, timeout=None):
        return self.unflushed


def test_kafka_channel_produces_keyed_json():
    producer = FakeProducer()
    (channel,) = build_channels(parse_channels([{"type": "kafka", "topic": "driftline.alerts"}]),
                                producer=producer)
    alert = make_alert()
    channel.deliver(alert, timeout=1)
    ((topic, key, value),) = producer.produced
    assert (topic, key) == ("driftline.alerts", b"fraud/v3/data_drift")
    assert json.loads(value) == alert.to_dict()
    with pytest.raises(KafkaDeliveryError) as info:
        build_channels(parse_channels([{"type": "kafka", "topic": "t"}]),
                       producer=FakeProducer(unflushed=1))[0].deliver(alert, timeout=1)
    assert info.value.retriable


def test_a_kafka_channel_is_given_its_producer_and_never_builds_one():
    (settings,) = parse_channels([{"type": "kafka", "topic": "t"}])
    assert build_channels([settings], producer=FakeProducer())[0].name == "kafka"
    with pytest.raises(ChannelConfigError, match="'kafka': a kafka channel needs a producer"):
        build_channels([settings])

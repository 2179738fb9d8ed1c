"""Redaction: a URL's userinfo runs to the LAST ``@`` before the host, and no settings repr shows a secret."""

from __future__ import annotations

import re

import pytest
from driftline.settings import load_settings, redact_url
from driftline.settings.errors import mask_url_password

# Secrets with the characters that broke the old redaction and the old text substitution.
PASSWORD = 'p@ss"w0rd-7c1e'
SECRETS = {
    "CH_PASSWORD": PASSWORD,
    "SASL_PASSWORD": 'sasl"@-4b2a',
    "KEY_PASSWORD": 'key"@-9f0e',
    "OPTION_PASSWORD": 'opt"@-1d3c',
    "TOKEN": 'tok"@-5e6f',
    "HOOK_SECRET": 'hook"@-8a9b',
    "HOOK_URL": "https://ci.example/hooks/path-2c4d?key=query-3e5f",
    "GL_TOKEN": 'gl"@-6a7b',
    "SLACK_URL": "https://hooks.slack.com/services/T/B/slack-0f1e",
    "PD_KEY": 'pd"@-2b3c',
    "AM_URL": 'http://am-user:am"p@ss-4d5e@alertmanager:9093/prefix-6f7a',
    "DASHBOARD": "https://grafana.example/d/x?auth=dash-8b9c&model={model}",
}


@pytest.mark.parametrize(("url", "shown"), [
    ("clickhouse://u:pw@h:9000/db", "clickhouse://u:***@h:9000/db"),
    ("clickhouse://u:p@ss@h:9000/db", "clickhouse://u:***@h:9000/db"),  # the last @ before the host
    ('clickhouse://u:p@ss"w0rd@h/db', "clickhouse://u:***@h/db"),
    ("clickhouse://u:a@b@c@[::1]:9000/db", "clickhouse://u:***@[::1]:9000/db"),
    # "/", "?" or "#" unencoded in a password end the authority early: everything to the last @ goes.
    ("clickhouse://u:p/ss@h/db", "clickhouse://u:***@h/db"),
    ("clickhouse://u:p#s@s@h/db", "clickhouse://u:***@h/db"),
    ("clickhouse://u:pw@h/db?mail=a@b", "clickhouse://u:***@h/db?mail=a@b"),  # an @ after the host stays
    ("clickhouse://u@h/db", "clickhouse://u@h/db"),  # no password
    ("clickhouse://u:${PW:-}@h/db", "clickhouse://u:${PW:-}@h/db"),  # a reference, not a secret
    ("127.0.0.1:9092", "127.0.0.1:9092"),
])
def test_mask_url_password(url, shown):
    assert mask_url_password(url) == shown


@pytest.mark.parametrize(("url", "shown"), [
    ("https://hooks.slack.com/services/T/B/X", "https://hooks.slack.com/***"),
    ("http://u:p@ss@am:9093/x?y=z", "http://am:9093/***"),
    ("https://u:p/ss@host/x", "https://host/***"),
    ("http://u:pw@[::1]:80/x", "http://[::1]:80/***"),
    ("https://h:notaport/x", "***"),
    ("not a url", "***"),
])
def test_redact_url_keeps_only_scheme_and_host(url, shown):
    assert redact_url(url) == shown


CONFIG = """
kafka:
  security: {protocol: SASL_SSL, sasl_mechanism: PLAIN, sasl_username: u, sasl_password: "${SASL_PASSWORD}",
             ssl_ca_location: ca.pem, ssl_key_password: "${KEY_PASSWORD}"}
  options: {"sasl.oauthbearer.client.secret": "${OPTION_PASSWORD}"}
clickhouse: {url: "clickhouse://driftline:${CH_PASSWORD}@ch.example:9000/driftline"}
metrics: {token: "${TOKEN}"}
models:
  - {name: m, features: {x: numeric}}
alerts:
  channels:
    - {type: webhook, name: hook, url: "${HOOK_URL}", secret: "${HOOK_SECRET}", headers: {X-Key: "${HOOK_SECRET}"}}
    - {type: webhook, name: gitlab, url: "https://gitlab.example/trigger", format: gitlab_trigger, token: "${GL_TOKEN}"}
    - {type: slack, url: "${SLACK_URL}", dashboard_url: "${DASHBOARD}"}
    - {type: pagerduty, routing_key: "${PD_KEY}", dashboard_url: "${DASHBOARD}"}
    - {type: alertmanager, url: "${AM_URL}", dashboard_url: "${DASHBOARD}"}
    - {type: kafka, topic: driftline.alerts}
"""


def leaks(text: str) -> list[str]:
    """The secrets ``text`` shows, whole or in part: each marked part of a secret (``word-<4 hex>``,
    such as a password's tail after its ``@`` or a URL's path) counts."""
    return [name for name, value in SECRETS.items()
            if any(part in text for part in re.findall(r'[\w"]*-[0-9a-f]{4}', value))]


def test_no_settings_repr_shows_a_secret(tmp_path):
    path = tmp_path / "driftline.yaml"
    path.write_text(CONFIG)
    (tmp_path / "ca.pem").write_text("a CA certificate\n")  # next to the config: a file it names must exist
    settings = load_settings(path, environ=SECRETS)
    assert settings.clickhouse.url == f"clickhouse://driftline:{PASSWORD}@ch.example:9000/driftline"
    assert settings.alert_channels[4].url == SECRETS["AM_URL"]
    texts = [repr(settings), str(settings), repr(settings.clickhouse), repr(settings.kafka), repr(settings.metrics),
             *(repr(c) for c in settings.alert_channels)]
    assert leaks("\n".join(texts)) == []
    assert "clickhouse://driftline:***@ch.example:9000/driftline" in repr(settings.clickhouse)
    assert "AlertmanagerSettings(name='alertmanager', url='http://alertmanager:9093/***'" in repr(settings)
    assert leaks(SECRETS["AM_URL"] + PASSWORD) == ["CH_PASSWORD", "AM_URL"]  # the check itself can fail

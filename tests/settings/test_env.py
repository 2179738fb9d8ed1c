"""``${VAR}`` is expanded after the YAML is parsed, into string values only, and never printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from driftline.cli import main
from driftline.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]
# Everything that broke the old text substitution: quotes, a YAML comment, a flow mapping, a key.
NASTY = 'pa"ss@w#rd: {x: 1} # not a comment\nmodels: []'
MODEL = "models:\n  - name: m\n    features: {x: numeric}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "driftline.yaml"
    path.write_text(text)
    return path


def test_a_value_with_quotes_at_signs_and_hashes_is_taken_verbatim(tmp_path):
    path = write(tmp_path, MODEL + """
kafka:
  group_id: "${GROUP}"
  security: {protocol: SASL_SSL, sasl_mechanism: PLAIN, sasl_username: u, sasl_password: "${PW}"}
alerts:
  channels:
    - {type: webhook, url: "https://ci.example/hook", secret: "${HOOK_SECRET}"}
""")
    secret = NASTY.replace("pa", "secret-pa")
    settings = load_settings(path, environ={"GROUP": NASTY, "PW": secret, "HOOK_SECRET": secret})
    assert settings.kafka.group_id == NASTY
    assert settings.kafka.security.sasl_password == secret
    assert settings.alert_channels[0].secret == secret
    assert [m.name for m in settings.models] == ["m"]  # the value's "models: []" stayed text
    assert type(settings.kafka.group_id) is str  # settings hold plain strings
    assert "secret-pa" not in repr(settings)


def test_a_value_cannot_add_a_key_and_a_key_is_never_expanded(tmp_path):
    path = write(tmp_path, MODEL + 'kafka:\n  group_id: "${GROUP}"\n')
    settings = load_settings(path, environ={"GROUP": "g\nbatch_size: 0\nbootstrap_servers: evil:9092"})
    assert settings.kafka.batch_size == 10_000 and settings.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert settings.kafka.group_id == "g\nbatch_size: 0\nbootstrap_servers: evil:9092"

    path = write(tmp_path, MODEL + 'kafka:\n  "${KEY}": 1\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={"KEY": "batch_size"})
    assert str(info.value).startswith("kafka.${KEY}: 1 is invalid, expected a known key: bootstrap_servers")


def test_a_secret_from_the_environment_is_never_printed(tmp_path):
    secret = 'hunter"2@#x'
    env = {"HOOK_URL": f"ftp://ci.example/{secret}", "PW": secret, "TOKEN": secret}
    path = write(tmp_path, MODEL + """
kafka:
  batch_size: 0
  security: {protocol: SASL_SSL, sasl_mechanism: MD5, sasl_username: u, sasl_password: "${PW}"}
metrics: {token: "${TOKEN}", port: -1}
clickhouse: {url: "clickhouse://default:${PW}@127.0.0.1:9000/x", flush_rows: 0}
alerts:
  channels:
    - {type: webhook, url: "${HOOK_URL}", secret: "${PW}", format: nope}
""")
    result = CliRunner().invoke(main, ["check-config", str(path)], env=env)
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert "alerts.channels[0].url: '${HOOK_URL}' is invalid, expected a URL with scheme http:// or https://" in lines
    assert len(lines) == 6, result.output  # batch_size, mechanism, port, flush_rows, url, format
    assert "hunter" not in result.output

    done = subprocess.run([sys.executable, "-m", "driftline.cli", "check-config", str(path)], cwd=ROOT, timeout=60,
                          capture_output=True, text=True, env={**env, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2 and "hunter" not in done.stdout + done.stderr


def test_a_misspelt_key_and_a_literal_url_password_are_not_shown(tmp_path):
    path = write(tmp_path, MODEL + """
kafka:
  security: {protocol: SASL_SSL, sasl_mechanism: PLAIN, sasl_username: u, sasl_pasword: "literal-pw-1"}
clickhouse: {url: "http://u:literal-pw-2@h/db"}
""")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(info.value).splitlines()[:2] == [
        "kafka.security.sasl_pasword: '***' is invalid, expected a known key: protocol, sasl_mechanism, "
        "sasl_username, sasl_password, ssl_ca_location, ssl_certificate_location, ssl_key_location, ssl_key_password",
        "kafka.security.sasl_password: <missing> is invalid, expected a value when protocol is SASL_SSL",
    ]
    assert "literal-pw" not in str(info.value) and "http://u:***@h/db" in str(info.value)


def test_an_unset_variable_is_named_in_the_problem(tmp_path):
    path = write(tmp_path, MODEL + 'alerts:\n  channels:\n    - {type: pagerduty, routing_key: "${PD_KEY}"}\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(info.value) == ("alerts.channels[0].routing_key: '${PD_KEY}' (PD_KEY not set) is invalid, "
                               "expected a non-empty string")


def test_an_empty_optional_value_means_not_set(tmp_path):
    path = write(tmp_path, MODEL + """
kafka:
  security: {protocol: SSL, ssl_ca_location: ca.pem, ssl_key_password: "${KEY_PW:-}"}
clickhouse: {url: "clickhouse://default:${CH_PASSWORD:-}@127.0.0.1:9000/driftline"}
metrics: {token: "${DRIFTLINE_TOKEN:-}"}
alerts:
  channels:
    - {type: webhook, url: "https://ci.example/hook", secret: "${HOOK_SECRET:-}", token: "${GL_TOKEN:-}"}
    - {type: pagerduty, routing_key: k, url: "${PD_URL:-}", dashboard_url: "${DASHBOARD:-}"}
""")
    (tmp_path / "ca.pem").write_text("a CA certificate\n")
    settings = load_settings(path, environ={})
    assert settings.metrics.token is None
    assert settings.kafka.security.ssl_key_password is None
    assert settings.kafka.security.client_properties() == {"security.protocol": "SSL",
                                                           "ssl.ca.location": str(tmp_path / "ca.pem")}
    assert settings.clickhouse.url == "clickhouse://default:@127.0.0.1:9000/driftline"
    hook, pagerduty = settings.alert_channels
    assert hook.secret is None and hook.token is None
    assert pagerduty.url == "https://events.pagerduty.com/v2/enqueue" and pagerduty.dashboard_url is None


def test_an_empty_value_where_one_is_required_is_a_problem(tmp_path):
    path = write(tmp_path, MODEL + """
clickhouse: {url: "${DRIFTLINE_CLICKHOUSE_URL:-}"}
alerts:
  channels:
    - {type: webhook, url: "${HOOK_URL:-https://gitlab.example/trigger}", format: gitlab_trigger, token: "${GL_TOKEN:-}"}
""")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    # (An empty optional URL turns its channel off instead: see the test below.)
    assert [p.path for p in info.value.problems] == ["clickhouse.url", "alerts.channels[0].token"]


def test_defaults_apply_when_unset_or_empty_and_numbers_may_come_from_the_environment(tmp_path):
    path = write(tmp_path, MODEL + 'kafka: {bootstrap_servers: "${BROKERS:-kafka:9092}", batch_size: "${BATCH}"}\n'
                                   'metrics: {port: "${PORT:-9200}"}\n')
    assert load_settings(path, environ={"BATCH": "500"}).kafka.bootstrap_servers == "kafka:9092"
    settings = load_settings(path, environ={"BROKERS": "", "BATCH": "500", "PORT": "9300"})
    assert (settings.kafka.bootstrap_servers, settings.kafka.batch_size, settings.metrics.port) == \
        ("kafka:9092", 500, 9300)
    with pytest.raises(ConfigError, match=r"^kafka.batch_size: '\$\{BATCH\}' is invalid, expected an integer"):
        load_settings(path, environ={"BATCH": "many"})


def test_a_channel_whose_optional_secret_is_empty_is_off_and_said(tmp_path):
    """Issue 18: ``url: "${SLACK_WEBHOOK_URL:-}"`` (the README's pattern for an optional value) was rejected
    when the variable was unset; the channel is now off, with a note, while an unset ``${VAR}`` stays a problem."""
    from click.testing import CliRunner
    from driftline.cli import main

    path = write(tmp_path, MODEL + """
alerts:
  channels:
    - {type: slack, url: "${SLACK_WEBHOOK_URL:-}"}
    - {type: pagerduty, name: pager, routing_key: "${PD_KEY:-}"}
    - {type: webhook, name: retrain, url: "https://ci.example/retrain", secret: "${HOOK_SECRET:-}"}
""")
    settings = load_settings(path, environ={})
    assert [c.name for c in settings.alert_channels] == ["retrain"]
    assert settings.notes == ("alerts.channels[0] (slack) is off: its url '${SLACK_WEBHOOK_URL:-}' is empty",
                              "alerts.channels[1] (pager) is off: its routing_key '${PD_KEY:-}' is empty")
    on = load_settings(path, environ={"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/X", "PD_KEY": "k"})
    assert [c.name for c in on.alert_channels] == ["slack", "pager", "retrain"] and on.notes == ()
    result = CliRunner().invoke(main, ["check-config", str(path)], env={"SLACK_WEBHOOK_URL": None, "PD_KEY": None})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [f"note: {n}" for n in settings.notes]
    path.write_text(MODEL + 'alerts:\n  channels:\n    - {type: slack, url: "${SLACK_WEBHOOK_URL}"}\n')
    with pytest.raises(ConfigError, match=r"SLACK_WEBHOOK_URL not set"):
        load_settings(path, environ={})

"""Every invalid config gives exit code 2 from ``driftline check-config``, one line per problem in the
one format (``key.path: <value> is invalid, expected <what>``), naming the key."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from driftline.cli import main

ROOT = Path(__file__).resolve().parents[2]

VALID = """
kafka:
  bootstrap_servers: 127.0.0.1:9092
clickhouse:
  url: clickhouse://default:@127.0.0.1:9000/driftline
models:
  - name: credit
    task: binary_classification
    features: {income: numeric, country: categorical}
"""

MODEL = "  - name: credit\n    task: binary_classification\n    features: {income: numeric}\n"

# (case id, config text, key path the message must name)
CASES = [
    ("not-yaml", "kafka: [unclosed", "<file>"),
    ("root-not-mapping", "- a\n- b\n", "<root>"),
    ("kafka-not-mapping", "kafka: 5\nmodels:\n" + MODEL, "kafka"),
    ("batch-size-type", "kafka: {batch_size: many}\nmodels:\n" + MODEL, "kafka.batch_size"),
    ("batch-size-range", "kafka: {batch_size: 0}\nmodels:\n" + MODEL, "kafka.batch_size"),
    ("poll-timeout", "kafka: {poll_timeout: soon}\nmodels:\n" + MODEL, "kafka.poll_timeout"),
    ("session-timeout", "kafka: {session_timeout: -3s}\nmodels:\n" + MODEL, "kafka.session_timeout"),
    ("max-message-bytes", "kafka: {max_message_bytes: 10}\nmodels:\n" + MODEL, "kafka.max_message_bytes"),
    ("topic-type", "kafka: {topics: {predictions: 5}}\nmodels:\n" + MODEL, "kafka.topics.predictions"),
    ("options-not-mapping", "kafka: {options: [a]}\nmodels:\n" + MODEL, "kafka.options"),
    ("security-unknown-key", "kafka: {security: {sasl_pasword: x}}\nmodels:\n" + MODEL, "kafka.security.sasl_pasword"),
    ("security-protocol", "kafka: {security: {protocol: CARRIER_PIGEON}}\nmodels:\n" + MODEL, "kafka.security.protocol"),
    ("security-mechanism", "kafka: {security: {protocol: SASL_SSL, sasl_mechanism: MD5, sasl_username: u, "
                           "sasl_password: p}}\nmodels:\n" + MODEL, "kafka.security.sasl_mechanism"),
    ("sasl-missing-password", "kafka: {security: {protocol: SASL_SSL, sasl_mechanism: PLAIN, sasl_username: u}}"
                              "\nmodels:\n" + MODEL, "kafka.security.sasl_password"),
    ("sasl-password-env-unset", "kafka: {security: {protocol: SASL_PLAINTEXT, sasl_mechanism: PLAIN, "
                                "sasl_username: u, sasl_password: '${DRIFTLINE_TEST_UNSET_SECRET}'}}\nmodels:\n" + MODEL,
     "kafka.security.sasl_password"),
    ("clickhouse-url-scheme", "clickhouse: {url: 'http://x'}\nmodels:\n" + MODEL, "clickhouse.url"),
    ("flush-rows", "clickhouse: {flush_rows: 0}\nmodels:\n" + MODEL, "clickhouse.flush_rows"),
    ("flush-interval", "clickhouse: {flush_interval: often}\nmodels:\n" + MODEL, "clickhouse.flush_interval"),
    ("metrics-port", "metrics: {port: 70000}\nmodels:\n" + MODEL, "metrics.port"),
    ("metrics-host", "metrics: {host: 127}\nmodels:\n" + MODEL, "metrics.host"),
    ("metrics-token-type", "metrics: {token: 12345}\nmodels:\n" + MODEL, "metrics.token"),
    ("checkpoint-interval", "worker: {checkpoint_interval: x}\nmodels:\n" + MODEL, "worker.checkpoint_interval"),
    ("join-max-pending", "worker: {join: {max_pending: 0}}\nmodels:\n" + MODEL, "worker.join.max_pending"),
    ("max-features", "worker: {max_features: 0}\nmodels:\n" + MODEL, "worker.max_features"),
    ("no-models", "kafka: {}\n", "models"),
    ("models-not-list", "models: {a: 1}\n", "models"),
    ("duplicate-models", "models:\n" + MODEL + MODEL, "models[1].name"),
    ("model-no-name", "models:\n  - task: regression\n    features: {a: numeric}\n", "models[0].name"),
    ("model-task", "models:\n  - name: m\n    task: clustering\n    features: {a: numeric}\n", "models[0].task"),
    ("feature-kind", "models:\n  - name: m\n    features: {a: text}\n", "models[0].features.a"),
    ("reference-two-sources", "models:\n  - name: m\n    features: {a: numeric}\n    reference: {warmup_events: 100, "
                              "path: x.csv}\n", "models[0].reference"),
    ("warmup-range", "models:\n  - name: m\n    features: {a: numeric}\n    reference: {warmup_events: 1}\n",
     "models[0].reference.warmup_events"),
    ("window-size", "models:\n  - name: m\n    features: {a: numeric}\n    window: {size: 10ms}\n", "models[0].window.size"),
    ("idle-close", "models:\n  - name: m\n    features: {a: numeric}\n    window: {idle_close: 1ms}\n",
     "models[0].window.idle_close"),
    ("drift-test", "models:\n  - name: m\n    features: {a: numeric}\n    drift: {numeric: [{type: nope}]}\n",
     "models[0].drift.numeric[0].type"),
    ("alert-rules", "models:\n" + MODEL + "alerts: {rules: [{name: r, kind: nope}]}\n", "alerts.rules[0].kind"),
    ("alert-channel-type", "models:\n" + MODEL + "alerts: {channels: [{type: carrier_pigeon}]}\n", "alerts.channels[0].type"),
    ("webhook-url-env-unset", "models:\n" + MODEL + "alerts: {channels: [{type: webhook, url: '${DRIFTLINE_TEST_UNSET_URL}'}]}\n",
     "alerts.channels[0].url"),
    ("unknown-section", "modles: []\nmodels:\n" + MODEL, "modles"),
    ("unknown-kafka-key", "kafka: {sesion_timeout: 10s}\nmodels:\n" + MODEL, "kafka.sesion_timeout"),
    ("concept-param", "models:\n" + MODEL + "    concept: {detector: adwin, params: {delta: 5}}\n",
     "models[0].concept.params.delta"),
    ("quality-threshold", "models:\n" + MODEL + "    quality: {max_missing_rate: 2}\n",
     "models[0].quality.max_missing_rate"),
    ("multivariate-param", "models:\n" + MODEL + "    multivariate: {variance: 0}\n", "models[0].multivariate.variance"),
    ("streaming-feature", "models:\n" + MODEL + "    streaming: [{feature: nope}]\n", "models[0].streaming[0].feature"),
    ("rule-when", "models:\n" + MODEL + "alerts: {rules: [{name: r, kind: latency, severity: warning, "
                  "when: {metric: x, op: '>', value: high}}]}\n", "alerts.rules[0].when.value"),
    ("retention-days", "models:\n" + MODEL + "retention: {raw_events: 12h}\n", "retention.raw_events"),
    ("retention-table", "models:\n" + MODEL + "retention: {tables: {predictons: 7}}\n", "retention.tables.predictons"),
]
ONE_FORMAT = re.compile(r"[^\s:]+: .+ is invalid, expected .+")


def _check(tmp_path: Path, text: str):
    path = tmp_path / "driftline.yaml"
    path.write_text(text)
    return CliRunner().invoke(main, ["check-config", str(path)], env={"DRIFTLINE_TEST_UNSET_SECRET": None,
                                                                     "DRIFTLINE_TEST_UNSET_URL": None})


def test_the_valid_config_passes(tmp_path):
    result = _check(tmp_path, VALID)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("text,key", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_config_exits_2_naming_the_key(tmp_path, text, key):
    result = _check(tmp_path, text)
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert any(line.startswith(key + ":") for line in lines), result.output
    assert all(ONE_FORMAT.fullmatch(line) for line in lines), result.output


def test_missing_file_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["check-config", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 2 and "<file>" in result.output


def test_the_real_command_exits_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("kafka: {batch_size: 0}\nmodels:\n" + MODEL)
    done = subprocess.run([sys.executable, "-m", "driftline.cli", "check-config", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "kafka.batch_size" in done.stderr, done

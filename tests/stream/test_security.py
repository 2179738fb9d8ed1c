"""Secrets come from the environment and never show up in output, reprs, errors or the worker log;
client security settings reach the clients; the web endpoints bind loopback and honour a bearer
token (the probes excepted); payload limits hold. The login form and a browser using it:
tests/stream/test_web_access.py and tests/integration/test_worker_web.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from clickhouse_driver import Client
from driftline.cli import main
from driftline.settings import load_settings
from driftline.sinks.errors import StoreError
from driftline.sinks.metrics import WorkerMetrics
from driftline.sinks.store import ClickHouseStore, connect_params
from driftline.stream.events import EventDecoder, PredictionEvent
from driftline.stream.wiring import consumer_config, producer_config
from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parents[2]

SECRETS = {  # with '"' and '@': the tail after an '@' once leaked through URL redaction
    "DL_SASL_PASSWORD": 'sasl-Pa55"@sasl-tail-7f3a',
    "DL_CH_PASSWORD": 'ch-Pa55"@ch-tail-0b1c',
    "DL_WEBHOOK_SECRET": 'hook-S3cret"@hook-tail-9e8d',
    "DL_METRICS_TOKEN": 'tok-4a5b"@tok-tail-6c7d',
    "DL_WEBHOOK_URL": "http://127.0.0.1:9/hook?key=url-Key-55aa",
}

CONFIG = """
kafka:
  bootstrap_servers: "{bootstrap}"
  group_id: sec-{run}
  topics: {{predictions: p-{run}, feedback: f-{run}, alerts: a-{run}, dead_letter: d-{run}}}
  security:
    protocol: {protocol}
    sasl_mechanism: SCRAM-SHA-512
    sasl_username: driftline
    sasl_password: "${{DL_SASL_PASSWORD}}"
    ssl_ca_location: ca.pem
  options: {{"client.rack": "r1"}}
clickhouse:
  url: "{ch_url}"
metrics:
  port: {port}
  token: "${{DL_METRICS_TOKEN}}"
models:
  - name: credit
    features: {{income: numeric}}
alerts:
  channels:
    - {{type: webhook, name: hook, url: "${{DL_WEBHOOK_URL}}", secret: "${{DL_WEBHOOK_SECRET}}"}}
"""


def _config(tmp_path, *, protocol="SASL_SSL", bootstrap="127.0.0.1:9092", run="x", port=9108,
            ch_url="clickhouses://driftline:${DL_CH_PASSWORD}@127.0.0.1:9440/driftline?ca_certs=/etc/ssl/ca.pem"):
    path = tmp_path / "driftline.yaml"
    path.write_text(CONFIG.format(protocol=protocol, bootstrap=bootstrap, run=run, port=port, ch_url=ch_url))
    (tmp_path / "ca.pem").write_text("a CA certificate\n")  # relative: read next to the config
    return path


def _leaks(text: str) -> list[str]:
    return [name for name, value in SECRETS.items()
            if any(part in text for part in (value, value.split("?")[-1], value.split("@")[-1]))]


def test_kafka_security_reaches_consumer_and_producer_config(tmp_path):
    settings = load_settings(_config(tmp_path), environ=SECRETS)
    for config in (consumer_config(settings), producer_config(settings)):
        assert config["security.protocol"] == "SASL_SSL"
        assert config["sasl.mechanism"] == "SCRAM-SHA-512"
        assert config["sasl.username"] == "driftline"
        assert config["sasl.password"] == SECRETS["DL_SASL_PASSWORD"]
        assert config["ssl.ca.location"] == str(tmp_path / "ca.pem")
        assert config["client.rack"] == "r1"  # kafka.options, verbatim


def test_kafka_options_override_security_keys(tmp_path):
    path = _config(tmp_path)
    path.write_text(path.read_text().replace('"client.rack": "r1"', '"sasl.mechanism": "PLAIN"'))
    assert consumer_config(load_settings(path, environ=SECRETS))["sasl.mechanism"] == "PLAIN"


def test_clickhouse_tls_url_reaches_the_driver(tmp_path):
    settings = load_settings(_config(tmp_path), environ=SECRETS)
    params = connect_params(settings.clickhouse.url)
    assert params == {"host": "127.0.0.1", "port": 9440, "user": "driftline", "password": SECRETS["DL_CH_PASSWORD"],
                      "database": "driftline", "secure": True, "ca_certs": "/etc/ssl/ca.pem"}


def test_secrets_are_not_in_repr_of_settings(tmp_path):
    settings = load_settings(_config(tmp_path), environ=SECRETS)
    assert _leaks(repr(settings)) == []
    assert _leaks(str(settings.kafka)) == [] and _leaks(repr(settings.clickhouse)) == []


def test_check_config_output_never_shows_a_secret(tmp_path):
    ok = CliRunner().invoke(main, ["check-config", str(_config(tmp_path))], env=SECRETS)
    assert ok.exit_code == 0, ok.output
    bad = _config(tmp_path, protocol="NOPE")
    bad.write_text(bad.read_text().replace("sasl_mechanism: SCRAM-SHA-512", "sasl_mechanism: 5")
                   .replace("sasl_password:", "sasl_pasword:").replace("token:", "token: [")
                   .replace('"${DL_METRICS_TOKEN}"', '"${DL_METRICS_TOKEN}"]'))
    failed = CliRunner().invoke(main, ["check-config", str(bad)], env=SECRETS)
    assert failed.exit_code == 2 and "kafka.security.protocol" in failed.output
    assert _leaks(ok.output + failed.output) == [], failed.output
    done = subprocess.run([sys.executable, "-m", "driftline.cli", "check-config", str(bad)], cwd=ROOT, timeout=60,
                          capture_output=True, text=True, env={**SECRETS, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2 and _leaks(done.stdout + done.stderr) == []


def test_store_errors_do_not_carry_the_password():
    store = ClickHouseStore(f"clickhouse://driftline:{SECRETS['DL_CH_PASSWORD']}@127.0.0.1:1/driftline",
                            client_factory=Client, settings={"connect_timeout": 1})
    with pytest.raises(StoreError) as caught:
        store.execute("SELECT 1")
    assert _leaks(str(caught.value)) == [] and _leaks(repr(caught.value)) == []


def test_payload_limits():
    decoder = EventDecoder(PredictionEvent, topic="p", known_models={"m"}, max_bytes=2048, max_features=3)
    event = {"event_id": "e", "model": "m", "version": "v", "ts": 1, "prediction": 1}
    big = json.dumps({**event, "features": {"x": "y" * 4096}}).encode()
    wide = json.dumps({**event, "features": {f"f{i}": i for i in range(4)}}).encode()
    fits = json.dumps({**event, "features": {f"f{i}": i for i in range(3)}}).encode()
    batch = decoder.decode([(0, 0, big, 0), (0, 1, wide, 0), (0, 2, fits, 0)])
    assert [d.reason for d in batch.dead] == ["too_large", "too_many_features"] and len(batch.events) == 1
    metrics = WorkerMetrics(CollectorRegistry(), max_versions=3)
    labels = [metrics.version_label("m", f"v{i}") for i in range(10)]
    assert labels == ["v0", "v1", "v2"] + ["_other"] * 7
    assert metrics.version_label("m", "v1") == "v1"


def _listening_addresses(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if int(hex_port, 16) == port and state == "0A":  # LISTEN
                found.add(address)
    return found


@pytest.mark.integration
def test_running_worker_binds_loopback_requires_the_token_and_logs_no_secret(broker, clickhouse, tmp_path):
    from tests.support.servers import free_port
    from tests.support.waiting import wait_until

    run = tmp_path.name[-8:].replace("_", "")
    port = free_port()
    broker.create_topics([f"p-{run}", f"f-{run}", f"a-{run}", f"d-{run}"], partitions=1)
    path = _config(tmp_path, protocol="PLAINTEXT", bootstrap=broker.bootstrap_servers, run=run, port=port,
                   ch_url=f"clickhouse://default:@127.0.0.1:{clickhouse.tcp_port}/sec_{run}")
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "driftline.cli", "run", "--config", str(path),
                                   "--datadir", str(tmp_path / "faust")], cwd=ROOT, stdout=log,
                                  stderr=subprocess.STDOUT, env={**__import__("os").environ, **SECRETS})
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {SECRETS['DL_METRICS_TOKEN']}"}
    try:
        def answers():
            try:
                return httpx.get(f"{base}/healthz", headers=auth, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, 90, "the worker's web server")
        for page in ("/metrics", "/", "/api/models", "/static/index.html"):
            assert httpx.get(base + page, timeout=5).status_code == 401, page
            wrong = {"Authorization": "Bearer nope"}
            assert httpx.get(base + page, headers=wrong, timeout=5).status_code == 401, page
        for probe in ("/healthz", "/livez"):  # metrics.public by default: probes send no secret
            assert httpx.get(base + probe, timeout=5).status_code == 200, probe
        assert httpx.get(f"{base}/metrics", headers=auth, timeout=5).status_code == 200
        assert httpx.get(f"{base}/api/models", headers=auth, timeout=5).status_code == 200
        assert _listening_addresses(port) == {"0100007F"}, "the web server must listen on 127.0.0.1 only"
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
    text = log_path.read_text(errors="replace")
    assert _leaks(text) == [], text[-3000:]


def test_kafka_security_reaches_fausts_connection_too():
    import faust
    from driftline.settings import parse_settings
    from driftline.stream.wiring import faust_credentials

    base = {"models": [{"name": "m", "features": {"x": "numeric"}}]}
    assert faust_credentials(parse_settings(base)) is None
    settings = parse_settings({**base, "kafka": {"security": {
        "protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "driftline", "sasl_password": "pw"}}})
    creds = faust_credentials(settings)
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.username, creds.password, str(creds.mechanism.value)) == ("driftline", "pw", "SCRAM-SHA-512")

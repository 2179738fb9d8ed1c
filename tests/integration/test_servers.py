"""The launchers in tests.support and driftline.demo, against the real binaries."""

from __future__ import annotations

import doctest
import threading
import time
import uuid

import driftline.demo.broker
import httpx
import pytest
from clickhouse_driver.errors import NetworkError
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from driftline.demo import BrokerStartError, EmbeddedBroker
from prometheus_client import CollectorRegistry, Counter, start_http_server

import tests.support.servers as servers
import tests.support.waiting as waiting
from tests.support.kafka import count_records
from tests.support.servers import (
    AlertmanagerServer,
    PlannedResponse,
    PrometheusServer,
    ServerError,
    WebhookReceiver,
    find_binary,
    free_port,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- Tansu ------------------------------------------------------------------------------------


def test_broker_round_trip_of_1000_messages(broker):
    topic = unique("roundtrip")
    broker.create_topics({topic: 4})
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "linger.ms": 5})
    for i in range(1000):
        producer.produce(topic, key=f"k{i % 37}".encode(), value=f"{i}".encode())
    assert producer.flush(30) == 0

    consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": unique("g"),
                         "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
    received: list[int] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 60
        while len(received) < 1000 and time.monotonic() < deadline:
            for message in consumer.consume(500, timeout=0.5):
                assert message.error() is None, message.error()
                received.append(int(message.value()))
    finally:
        consumer.close()
    assert sorted(received) == list(range(1000))
    assert count_records(broker.bootstrap_servers, topic) == 1000


def test_broker_creates_topics_idempotently_with_their_partition_counts(broker):
    one, two = unique("one"), unique("two")
    broker.create_topics([one], partitions=2)
    broker.create_topics({one: 4, two: 1})  # `one` exists already: left as it is
    topics = AdminClient({"bootstrap.servers": broker.bootstrap_servers}).list_topics(timeout=10).topics
    assert (len(topics[one].partitions), len(topics[two].partitions)) == (2, 1)
    assert count_records(broker.bootstrap_servers, two) == 0
    with pytest.raises(AssertionError, match="Unknown topic"):
        count_records(broker.bootstrap_servers, unique("missing"))


def test_broker_restart_keeps_the_port_and_forgets_the_data(tmp_path):
    with EmbeddedBroker(log_dir=tmp_path) as own:
        own.create_topics(["t"])
        bootstrap = own.bootstrap_servers
        own.restart()
        assert own.bootstrap_servers == bootstrap
        assert "t" not in AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
        with pytest.raises(BrokerStartError, match="already in use"):
            EmbeddedBroker(port=own.port, log_dir=tmp_path / "second").start()
    assert not own.running
    assert "listening on" in (tmp_path / "tansu.log").read_text()


def test_broker_start_failure_shows_the_output(tmp_path):
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\necho 'no storage for you' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(BrokerStartError, match=r"(?s)exited with status 3.*no storage for you"):
        EmbeddedBroker(binary=fake, log_dir=tmp_path).start()


# --- ClickHouse ----------------------------------------------------------------------------------


def test_clickhouse_replacing_merge_tree_final(clickhouse):
    client = clickhouse.client()
    table = unique("rmt").replace("-", "_")
    client.execute(f"CREATE TABLE {table} (id String, version UInt32, model LowCardinality(String)) "
                   "ENGINE = ReplacingMergeTree(version) ORDER BY id")
    rows = [("a", 1, "credit"), ("a", 2, "credit"), ("b", 1, "price")]
    client.execute(f"INSERT INTO {table} (id, version, model) VALUES", rows)
    assert client.execute(f"SELECT count() FROM {table} FINAL") == [(2,)]
    assert client.execute(f"SELECT version FROM {table} FINAL WHERE id = 'a'") == [(2,)]
    assert clickhouse.url == f"clickhouse://default:@127.0.0.1:{clickhouse.tcp_port}/driftline"


def test_clickhouse_stop_and_start_keep_ports_and_data(clickhouse):
    table = unique("kept").replace("-", "_")
    client = clickhouse.client()
    client.execute(f"CREATE TABLE {table} (n UInt64) ENGINE = MergeTree ORDER BY n")
    client.execute(f"INSERT INTO {table} (n) VALUES", [(n,) for n in range(100)])
    ports = (clickhouse.tcp_port, clickhouse.http_port)
    clickhouse.stop()
    try:
        with pytest.raises((NetworkError, OSError, EOFError)):
            clickhouse.client().execute("SELECT 1")
    finally:
        clickhouse.start()
    assert (clickhouse.tcp_port, clickhouse.http_port) == ports
    assert clickhouse.client().execute(f"SELECT count(), sum(n) FROM {table}") == [(100, 4950)]


# --- Prometheus and Alertmanager ---------------------------------------------------------------------


def test_prometheus_scrapes_and_answers_queries(tmp_path):
    registry = CollectorRegistry()
    Counter("driftline_smoke", "a counter to scrape", registry=registry).inc(3)
    target = free_port()
    metrics_server, thread = start_http_server(target, addr="127.0.0.1", registry=registry)
    config = (f"global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n"
              f"scrape_configs:\n  - job_name: app\n    static_configs: [{{targets: ['127.0.0.1:{target}']}}]\n")
    try:
        with PrometheusServer(config, tmp_path) as prometheus:
            assert prometheus.query("up")["resultType"] == "vector"
            result = wait_until(lambda: prometheus.query("up")["result"], 30, "a scrape of the target", interval=0.1)
            assert result[0]["metric"]["job"] == "app" and result[0]["value"][1] == "1"
            smoke = wait_until(lambda: prometheus.query("driftline_smoke_total")["result"], 30, "the counter", interval=0.1)
            assert smoke[0]["value"][1] == "3"
            with pytest.raises(ServerError, match="failed with HTTP 400"):
                prometheus.query("up{")
    finally:
        metrics_server.shutdown()
        metrics_server.server_close()


def test_alertmanager_accepts_alerts_and_notifies_a_webhook(tmp_path, webhook_receiver):
    config = ("route: {receiver: hook, group_wait: 0s, group_interval: 1s, group_by: [alertname]}\n"
              f"receivers:\n  - name: hook\n    webhook_configs: [{{url: '{webhook_receiver.url}'}}]\n")
    with AlertmanagerServer(config, tmp_path) as alertmanager:
        alert = {"labels": {"alertname": "DriftlineSmoke", "model": "credit"},
                 "annotations": {"summary": "smoke test"}}
        response = httpx.post(f"{alertmanager.url}/api/v2/alerts", json=[alert], timeout=5)
        assert response.status_code == 200, response.text
        listed = httpx.get(f"{alertmanager.url}/api/v2/alerts", timeout=5).json()
        assert [a["labels"]["alertname"] for a in listed] == ["DriftlineSmoke"]
        (note,) = webhook_receiver.wait_for(lambda requests: requests, timeout=30)
    assert note.method == "POST" and note.headers["content-type"].startswith("application/json")
    assert note.json()["alerts"][0]["labels"]["model"] == "credit"


def test_alertmanager_bad_config_fails_with_its_log(tmp_path):
    with pytest.raises(ServerError, match="(?s)exited with status 1.*root route must specify a default receiver"):
        AlertmanagerServer("route: {}\nreceivers: []\n", tmp_path).start()


def test_missing_binaries_fail_loudly(tmp_path):
    with pytest.raises(ServerError, match="apt-get install prometheus"):
        find_binary("/nonexistent/prometheus", install_hint="apt-get install prometheus")
    server = PrometheusServer("scrape_configs: []\n", tmp_path, binary="/nonexistent/prometheus")
    with pytest.raises(ServerError, match="cannot run prometheus"):
        server.start()


# --- WebhookReceiver ----------------------------------------------------------------------------------


def test_webhook_receiver_follows_its_response_plan(webhook_receiver):
    webhook_receiver.add_plan([(500,), (429, {"Retry-After": "2"}), PlannedResponse(202, delay=0.3, body=b"later")])
    with httpx.Client(timeout=5) as http:
        first = http.post(webhook_receiver.url, content=b'{"n": 1}', headers={"X-Sig": "abc"})
        second = http.post(webhook_receiver.url, json={"n": 2})
        started = time.monotonic()
        third = http.put(webhook_receiver.url + "/x", content=b"3")
        elapsed = time.monotonic() - started
        fourth = http.post(webhook_receiver.url, content=iter([b"chunk", b"ed"]))  # chunked upload
    assert [r.status_code for r in (first, second, third, fourth)] == [500, 429, 202, 200]
    assert second.headers["Retry-After"] == "2" and third.content == b"later" and elapsed >= 0.3
    requests = webhook_receiver.requests
    assert [(r.method, r.path) for r in requests] == [
        ("POST", "/hook"), ("POST", "/hook"), ("PUT", "/hook/x"), ("POST", "/hook")]
    assert requests[0].headers["x-sig"] == requests[0].headers["X-SIG"] == "abc"
    assert requests[1].json() == {"n": 2} and requests[3].body == b"chunked"


def test_webhook_receiver_records_requests_whose_client_gave_up(webhook_receiver):
    webhook_receiver.add_plan([(200, {}, 1.0)])
    with pytest.raises(httpx.TimeoutException):
        httpx.post(webhook_receiver.url, content=b"slow", timeout=0.2)
    assert [r.body for r in webhook_receiver.wait_for(lambda rs: len(rs) == 1, timeout=5)] == [b"slow"]
    with pytest.raises(AssertionError, match="condition not met"):
        webhook_receiver.wait_for(lambda rs: len(rs) == 2, timeout=0.2)


def test_webhook_receiver_wait_for_sees_requests_from_other_threads():
    with WebhookReceiver(path="/alerts") as receiver:
        threading.Timer(0.2, lambda: httpx.post(receiver.url, content=b"late", timeout=5)).start()
        (request,) = receiver.wait_for(lambda rs: rs, timeout=5)
    assert request.path == "/alerts" and request.body == b"late"


@pytest.mark.parametrize("module", [driftline.demo.broker, servers, waiting], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    # stream/ is outside pytest's doctest paths and tests/support is kept out of collection.
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0

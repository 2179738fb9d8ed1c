"""Produces the broker does not acknowledge, through the real worker on the real broker (Tansu).

* A dead letter over the producer's message limit is cut to fit and marked (header and table).
* While the dead-letter topic is missing, every dead letter fails delivery: the failures are
  counted, the checkpoint is postponed (no offset committed past them), and once the topic
  exists the dead letters produced again arrive and checkpoints resume.
"""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from tests.faults.harness import Scenario
from tests.integration.traffic import make_traffic
from tests.support.kafka import produce
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def read_topic(bootstrap: str, topic: str, want: int, timeout: float = 60.0) -> list:
    """The first ``want`` records of ``topic`` (every partition), as (value, headers)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        got = []
        wait_until(lambda: got.extend((m.value(), dict(m.headers() or ())) for m in consumer.consume(100, 0.5)
                                      if m.error() is None) or len(got) >= want, timeout, f"{want} records on {topic}")
        return got
    finally:
        consumer.close()


def metric(worker, name: str, **labels) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(v for k, v in worker.metrics().items()
               if k.split("{")[0] == name and all(w in k for w in wanted))


def test_an_oversized_dead_letter_is_cut_to_the_producers_limit_and_marked(broker, clickhouse, tmp_path):
    t = make_traffic(300, seed=5, n_malformed=0)
    big = b'{"event_id": "huge", "model": "credit", ' + b"x" * 60_000  # not JSON, 60 kB
    sc = Scenario(broker, clickhouse, tmp_path, partitions=1,
                  kafka_extra="  max_message_bytes: 100000\n  options: {message.max.bytes: 20000}\n")
    produce(sc.bootstrap, sc.topics["predictions"], [*t.predictions[:100], ("credit", big), *t.predictions[100:]])
    worker = sc.start_worker()
    try:
        wait_until(lambda: sc.stored("dead_letters") == 1 and sc.stored("predictions") == t.n_predictions, 90,
                   "the dead letter and every valid event stored", process=worker.proc, log=worker.log_path)
        ((value, headers),) = read_topic(sc.bootstrap, sc.topics["dead_letter"], 1)
        row = sc.rows("SELECT reason, truncated, payload_bytes, length(payload) FROM {db}.dead_letters FINAL")
        assert worker.alive()
        truncated = metric(worker, "driftline_dead_letters_truncated_total")
    finally:
        worker.stop()
    assert headers["driftline-truncated"] == str(len(big)).encode() and headers["driftline-reason"] == b"invalid_json"
    assert big.startswith(value) and 15_000 < len(value) + sum(len(k) + len(v) for k, v in headers.items()) <= 20_000
    assert row == [("invalid_json", 1, len(big), len(big))]  # the table keeps its own (64 KiB) cut
    assert truncated == 1


class MissingDeadLetterTopic(Scenario):
    """The dead-letter topic does not exist until the test creates it."""

    def create_topics(self) -> None:
        self.broker.create_topics([t for name, t in self.topics.items() if name != "dead_letter"],
                                  partitions=self.partitions)


def test_offsets_wait_for_dead_letters_the_broker_has_not_acknowledged(broker, clickhouse, tmp_path):
    t = make_traffic(500, seed=9, n_malformed=0)
    malformed = [("credit", b"{not json %d" % i) for i in range(5)]
    sc = MissingDeadLetterTopic(
        broker, clickhouse, tmp_path, partitions=1,
        kafka_extra="  options: {message.timeout.ms: 2000, allow.auto.create.topics: false}\n")
    produce(sc.bootstrap, sc.topics["predictions"], [*malformed, *t.predictions])
    end = len(malformed) + len(t.predictions)
    worker = sc.start_worker()

    def checkpointed() -> int:
        rows = sc.rows("SELECT offsets FROM {db}.checkpoints FINAL WHERE kafka_partition = 0")
        return json.loads(rows[0][0]).get(sc.topics["predictions"], 0) if rows else 0

    try:
        wait_until(lambda: metric(worker, "driftline_produce_failures_total", topic=sc.topics["dead_letter"]) > 0
                   and metric(worker, "driftline_checkpoints_total", result="postponed") >= 2, 120,
                   "dead letters failing and checkpoints postponed", process=worker.proc, log=worker.log_path)
        wait_until(lambda: sc.stored("predictions") == t.n_predictions, 60, "every valid event stored")
        assert checkpointed() == 0  # nothing committed past the unacknowledged dead letters
        assert metric(worker, "driftline_checkpoints_total", result="ok") == 0

        broker.create_topics([sc.topics["dead_letter"]], partitions=1)
        wait_until(lambda: checkpointed() == end, 120, "checkpoints resumed once the dead letters are on the topic",
                   process=worker.proc, log=worker.log_path)
        records = read_topic(sc.bootstrap, sc.topics["dead_letter"], len(malformed))
        assert worker.alive()
    finally:
        worker.stop()
        log = worker.log()
    assert sorted({value for value, _ in records}) == sorted(value for _, value in malformed)
    assert "not acknowledged by the broker" in log and "checkpoint postponed" in log
    print(f"FIGURES produce failures: {len(records)} dead-letter records for {len(malformed)} dead letters")

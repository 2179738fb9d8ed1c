"""Issue 12: nothing a producer sends can stall, blind or crash driftline, and nothing is lost silently.

A real worker on the real broker, with the ClickHouse 18.16 server and with the embedded
store, gets seeded normal traffic for three models with a hostile mix in the middle of it:
event times in the years 0001, 1969, 1970, 2099 and 9999, a few events half a day ahead
(admitted: the watermark must not follow them), 3,000 distinct versions, a 100 KB version,
a 200 KB event_id, a 10 KB feature name, a 100 KB categorical value, a feature value of
1e308, and feedback with a year-9999 time or a 100 KB label. Afterwards every normal event
is stored exactly once, every hostile one is stored or dead-lettered with its reason, the
windows after the mix still close with drift results and accuracy, the worker is up and
the consumer lag is zero. The run prints what was sent, stored and dead-lettered, the
worker's peak RSS, the largest checkpoint and how long the lag took to drain.

A batch spanning 150 months (admitted: no oldest age) is a test of its own: the store
must take it or dead-letter what it rejects (``store_rejected``), never stall or drop it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.faults.harness import MODELS, ROOT, Worker
from tests.integration.traffic import START_MS, STEP_MS, make_traffic
from tests.support.kafka import count_records
from tests.support.servers import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

N_PER_MODEL = 6_000  # 60 s of event time per model, 10 s windows
HOSTILE_AT = 3_000  # the mix goes in after this many events per model (30 s of event time)
DAY_MS = 86_400_000
KB = 1024


@dataclass
class Sent:
    """What was produced: per topic and partition the next offset, and where each hostile record went."""

    ends: dict[tuple[str, int], int] = field(default_factory=dict)
    hostile: list[tuple[str, str, int, int, str]] = field(default_factory=list)  # name, topic, partition, offset, expected
    counts: Counter = field(default_factory=Counter)


class Sender:
    def __init__(self, bootstrap: str, sent: Sent) -> None:
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "message.max.bytes": 2_000_000})
        self.sent = sent

    def send(self, topic: str, key: str, value: bytes, *, hostile: str | None = None, expected: str = "") -> None:
        def delivered(err, msg):
            assert err is None, f"{hostile or 'record'} not delivered: {err}"
            at = (msg.topic(), msg.partition())
            self.sent.ends[at] = max(self.sent.ends.get(at, 0), msg.offset() + 1)
            if hostile:
                self.sent.hostile.append((hostile, msg.topic(), msg.partition(), msg.offset(), expected))

        while True:
            try:
                self.producer.produce(topic, key=key.encode(), value=value, on_delivery=delivered)
                break
            except BufferError:
                self.producer.poll(0.1)
        self.producer.poll(0)
        self.sent.counts["hostile" if hostile else topic] += 1

    def flush(self) -> None:
        assert self.producer.flush(60) == 0


def rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def credit(event_id: str, ts, **change) -> dict:
    event = {"event_id": event_id, "model": "credit", "version": "v1", "ts": ts,
             "features": {"income": 51_000.0, "age": 41.0, "country": "DE"}, "prediction": 1, "score": 0.6}
    return {**event, **change}


def hostile_predictions(ts_ms: int, now_ms: int) -> list[tuple[str, dict, str]]:
    """(name, event, expected outcome) of the hostile predictions; ``ts_ms`` is the normal traffic's time."""
    times = {"ts-0001": "0001-01-01T00:00:00Z", "ts-1969": "1969-12-31T23:59:59Z", "ts-1970": "1970-01-01T00:00:00Z",
             "ts-2099": "2099-06-01T12:00:00Z", "ts-9999": "9999-12-31T23:59:59Z", "ts-epoch-0": 0}
    out = [(name, credit(f"h-{name}", ts), "out_of_range") for name, ts in times.items()]
    out += [
        ("version-100KB", credit("h-version", ts_ms, version="v" * (100 * KB)), "field_too_long"),
        ("event_id-200KB", credit("e" * (200 * KB), ts_ms), "field_too_long"),
        ("feature-name-10KB", credit("h-name", ts_ms, features={"income": 1.0, "n" * (10 * KB): 1.0}), "field_too_long"),
        ("categorical-100KB", credit("h-cat", ts_ms, features={"income": 1.0, "country": "c" * (100 * KB)}),
         "field_too_long"),
        ("value-1e308", credit("h-1e308", ts_ms, features={"income": 1e308, "age": -1e308, "country": "DE"}), "stored"),
    ]
    # Half a day ahead: inside the bounds, so stored, and too few to move the watermark.
    out += [(f"future-12h-{i}", credit(f"h-future-{i}", rfc3339(now_ms + DAY_MS // 2 + i)), "stored") for i in range(3)]
    out += [(f"versions-3000-{i}", credit(f"h-build-{i}", ts_ms, version=f"build-{i}"), "stored") for i in range(3_000)]
    return out


def hostile_feedback(ts_ms: int) -> list[tuple[str, dict, str]]:
    return [("label-ts-9999", {"event_id": "c-1", "model": "credit", "ts": "9999-12-31T23:59:59Z", "label": 1},
             "out_of_range"),
            ("label-100KB", {"event_id": "c-2", "model": "credit", "ts": ts_ms, "label": "l" * (100 * KB)},
             "field_too_long")]


@dataclass
class Run:
    """One worker on fresh topics, group and database (or embedded store directory)."""

    broker: object
    tmp_path: Path
    store: str  # "server" or "embedded"
    clickhouse: object = None
    worker_extra: str = ""
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        self.topics = {"predictions": f"p-{self.run}", "feedback": f"f-{self.run}", "alerts": f"a-{self.run}",
                       "dead_letter": f"d-{self.run}"}
        self.broker.create_topics(list(self.topics.values()), partitions=2)
        self.db = f"hostile_{self.run}"
        if self.store == "server":
            self.url = f"clickhouse://default:@127.0.0.1:{self.clickhouse.tcp_port}/{self.db}"
            self.client = self.clickhouse.client(database=None)
        else:
            self.url = f"chdb://{self.tmp_path}/store?database={self.db}"
        self.group = f"g-{self.run}"
        self.sent = Sent()
        self.sender = Sender(self.broker.bootstrap_servers, self.sent)
        self.worker: Worker | None = None
        self.peak_rss = 0
        self.largest_checkpoint = 0

    def start(self) -> Worker:
        port = free_port()
        config = self.tmp_path / "driftline.yaml"
        config.write_text(f"""
kafka:
  bootstrap_servers: "{self.broker.bootstrap_servers}"
  group_id: {self.group}
  session_timeout: 4s
  batch_size: 2000
  topics: {json.dumps(self.topics)}
clickhouse:
  url: "{self.url}"
  flush_rows: 5000
metrics:
  port: {port}
worker:
  checkpoint_interval: 1s
{self.worker_extra}
{MODELS}
""")
        log_path = self.tmp_path / "worker.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "driftline.cli", "run", "--config", str(config),
                                     "--datadir", str(self.tmp_path / "faust")],
                                    stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        self.worker = Worker(proc, log_path, port)
        return self.worker

    def send(self, topic: str, key: str, value: dict | list, **hostile) -> None:
        self.sender.send(self.topics[topic], key, json.dumps(value).encode(), **hostile)

    # -- while it runs ---------------------------------------------------------------------------
    def lag(self) -> int:
        """Produced minus committed, over every partition the worker was sent anything on."""
        consumer = Consumer({"bootstrap.servers": self.broker.bootstrap_servers, "group.id": self.group,
                             "enable.auto.commit": False})
        try:
            committed = consumer.committed([TopicPartition(t, p) for t, p in self.sent.ends], timeout=10)
        finally:
            consumer.close()
        return sum(end - max(tp.offset, 0) for tp, end in zip(committed, self.sent.ends.values(), strict=True))

    def sample(self) -> None:
        """Peak RSS (VmHWM) of the worker, and the largest checkpoint the server holds, so far."""
        try:
            for line in Path(f"/proc/{self.worker.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_rss = max(self.peak_rss, int(line.split()[1]) * 1024)
        except OSError:
            pass
        if self.store == "server":
            size = self.scalar("SELECT max(length(state)) FROM {db}.checkpoints")
            self.largest_checkpoint = max(self.largest_checkpoint, size or 0)

    def wait_drained(self, timeout: float) -> float:
        started = time.monotonic()

        def drained():
            self.sample()
            return self.lag() == 0

        wait_until(drained, timeout, "consumer lag drained to zero", interval=0.5, process=self.worker.proc,
                   log=self.worker.log_path)
        return time.monotonic() - started

    # -- what the store holds --------------------------------------------------------------------
    def query(self, sql: str) -> list[tuple]:
        sql = sql.replace("{db}", self.db)
        if self.store == "server":
            return self.client.execute(sql)
        from driftline.stream.wiring import build_store

        store = build_store(self.url)  # the worker has stopped: chdb takes one process per directory
        try:
            return store.execute(sql)
        finally:
            store.close()

    def scalar(self, sql: str):
        try:
            return self.query(sql)[0][0]
        except Exception:  # noqa: BLE001 - database or table not there yet
            return None


def produce_mix(run: Run) -> tuple[int, int]:
    """Normal traffic with the hostile mix in its middle; returns (normal predictions, normal feedback)."""
    traffic = make_traffic(N_PER_MODEL)
    for key, value in traffic.feedback_early:
        run.sender.send(run.topics["feedback"], key, value)
    split = 3 * HOSTILE_AT  # three models, interleaved
    for key, value in traffic.predictions[:split]:
        run.sender.send(run.topics["predictions"], key, value)
    ts_ms = START_MS + HOSTILE_AT * STEP_MS
    now_ms = int(time.time() * 1000)
    for name, event, expected in hostile_predictions(ts_ms, now_ms):
        run.send("predictions", "credit", event, hostile=name, expected=expected)
    for name, event, expected in hostile_feedback(ts_ms):
        run.send("feedback", "credit", event, hostile=name, expected=expected)
    for key, value in traffic.predictions[split:]:
        run.sender.send(run.topics["predictions"], key, value)
    for key, value in traffic.feedback_late:
        run.sender.send(run.topics["feedback"], key, value)
    run.sender.flush()
    return traffic.n_predictions, traffic.n_feedback


@pytest.mark.parametrize("store", ["server", "embedded"])
def test_a_hostile_producer_neither_stalls_nor_blinds_nor_crashes_the_worker(broker, clickhouse, tmp_path, store):
    run = Run(broker, tmp_path, store, clickhouse)
    worker = run.start()
    try:
        n_predictions, n_feedback = produce_mix(run)
        produced = time.monotonic()
        drain_s = run.wait_drained(90)
        # Then every window of credit v1 closes, the last ones on idle_close: six of predictions, six
        # of labels and one more of labels (joined half a second after the last prediction), and the
        # window of the events half a day ahead.
        wait_until(lambda: worker.metrics().get('driftline_windows_closed_total{model="credit",version="v1"}', 0) >= 14,
                   30, "credit's windows closed", interval=0.5, process=worker.proc, log=worker.log_path)
        metrics = worker.metrics()
        run.sample()
        assert worker.alive() and metrics.get("driftline_worker_up") == 1.0
        assert not [k for k in metrics if k.startswith("driftline_late_events_total") and metrics[k]], \
            "the future-dated events made normal traffic late"
    finally:
        code = worker.stop()
        log_tail = worker.log()[-3000:]
    assert code == 0, log_tail

    # Every normal event stored exactly once.
    normal = "NOT startsWith(event_id, 'h-') AND length(event_id) < 100"
    assert run.query(f"SELECT count(), uniqExact(event_id, model) FROM {{db}}.predictions FINAL WHERE {normal}") \
        == [(n_predictions, n_predictions)]
    assert run.query("SELECT count(), uniqExact(event_id, model) FROM {db}.feedback FINAL") \
        == [(n_feedback, n_feedback)]

    # Every hostile record stored or dead-lettered, with the reason expected for it.
    stored = {("predictions", p, o) for p, o in run.query("SELECT kafka_partition, kafka_offset FROM {db}.predictions FINAL")}
    stored |= {("feedback", p, o) for p, o in run.query("SELECT kafka_partition, kafka_offset FROM {db}.feedback FINAL")}
    topic_names = {v: k for k, v in run.topics.items()}
    dead = {(topic_names[t], p, o): (reason, detail) for t, p, o, reason, detail in
            run.query("SELECT topic, kafka_partition, kafka_offset, reason, detail FROM {db}.dead_letters FINAL")}
    outcomes = {}
    for name, topic, partition, offset, expected in run.sent.hostile:
        at = (topic_names[topic], partition, offset)
        outcome = "stored" if at in stored else dead.get(at, ("lost", ""))[0]
        outcomes[name] = outcome
        assert outcome == expected, (name, outcome, dead.get(at))
        assert outcome == "stored" or dead[at][1], f"{name}: dead letter without a detail"
    assert len(dead) == sum(1 for *_, expected in run.sent.hostile if expected != "stored")
    assert count_records(broker.bootstrap_servers, run.topics["dead_letter"]) == len(dead)
    reasons = Counter(reason for reason, _ in dead.values())
    counted = {k.split('"')[1]: v for k, v in metrics.items() if k.startswith("driftline_dead_letters_total{")}
    assert counted == dict(reasons)
    assert run.query("SELECT version, count() FROM {db}.predictions FINAL WHERE event_id = 'h-1e308' GROUP BY version") \
        == [("v1", 1)]

    # The windows after the mix still close, with drift results and accuracy.
    after_s = (START_MS + HOSTILE_AT * STEP_MS) // 1000
    windows = run.query(
        "SELECT toUnixTimestamp(window_start) AS w, countIf(metric = 'accuracy'), countIf(metric = 'predictions') "
        f"FROM {{db}}.window_metrics FINAL WHERE model = 'credit' AND version = 'v1' AND w >= {after_s} "
        f"AND w < {after_s + 30} GROUP BY w ORDER BY w")  # not the window of the events half a day ahead
    assert [w for w, *_ in windows] == [after_s + 10 * k for k in range(3)], windows
    assert all(accuracy == 1 and predictions == 1 for _, accuracy, predictions in windows), windows
    drifted = run.query(f"SELECT toUnixTimestamp(window_start) AS w, max(drifted) FROM {{db}}.drift_results FINAL "
                        f"WHERE model = 'credit' AND version = 'v1' AND feature = 'income' AND w >= {after_s} "
                        f"AND w < {after_s + 30} GROUP BY w ORDER BY w")
    assert drifted == [(w, 1) for w, *_ in windows]  # income shifts at the middle of the traffic
    other = run.scalar("SELECT count() FROM {db}.window_metrics FINAL WHERE model = 'credit' AND version = '_other' "
                       "AND metric = 'predictions'")
    assert other, "the 3,000 versions past the cap are monitored as _other"
    if store == "embedded":
        run.largest_checkpoint = run.scalar("SELECT max(length(state)) FROM {db}.checkpoints") or 0
    assert 0 < run.largest_checkpoint < 8_000_000
    print(f"\nhostile producer on the {store} store: sent {n_predictions} normal predictions, {n_feedback} "
          f"normal labels and {len(run.sent.hostile)} hostile records; stored {sum(o == 'stored' for o in outcomes.values())}"
          f" hostile, dead-lettered {dict(reasons)}; peak RSS {run.peak_rss / 2**20:.0f} MiB; largest checkpoint "
          f"{run.largest_checkpoint / 1000:.0f} kB; lag drained {drain_s:.1f} s after the last record was produced "
          f"({time.monotonic() - produced:.1f} s to the end of the checks)")


def months_back(now_ms: int, months: int) -> list[int]:
    """The 15th of each of the ``months`` months before this one, noon UTC: all in the past (this
    month's 15th is in the future until the 15th, past ``event_time.max_future``)."""
    now = datetime.fromtimestamp(now_ms / 1000, UTC)
    out = []
    for k in range(1, months + 1):
        year, month = divmod(now.year * 12 + now.month - 1 - k, 12)
        out.append(int(datetime(year, month + 1, 15, 12, tzinfo=UTC).timestamp() * 1000))
    return out


@pytest.mark.parametrize("store", ["server", "embedded"])
def test_a_batch_spanning_150_months_is_stored_or_dead_lettered_never_stalled_or_dropped(broker, clickhouse, tmp_path,
                                                                                        store):
    # No oldest age: the events are admitted and reach the store together, in one insert across
    # 150 monthly partitions (more than ClickHouse's max_partitions_per_insert_block, 100).
    run = Run(broker, tmp_path, store, clickhouse, worker_extra="  event_time: {max_age: 0}")
    worker = run.start()
    traffic = make_traffic(1_000)
    try:
        for key, value in traffic.predictions:
            run.sender.send(run.topics["predictions"], key, value)
        run.sender.flush()
        run.wait_drained(60)  # normal traffic first: the old events are late for its windows
        for k, ts in enumerate(months_back(int(time.time() * 1000), 150)):
            run.send("predictions", "credit", credit(f"h-month-{k}", ts), hostile=f"month-{k}", expected="stored")
        after = make_traffic(200)
        for key, value in after.predictions:
            renamed = json.loads(value)
            renamed["event_id"] = f"after-{renamed['event_id']}"
            renamed["ts"] += 10 * 60_000  # after the first traffic, not late
            run.send("predictions", key, renamed)
        run.sender.flush()
        drain_s = run.wait_drained(45)
        time.sleep(2)  # a flush and a checkpoint after the lag drained
        assert worker.alive()
    finally:
        worker.stop()
    stored = set(run.query("SELECT kafka_partition, kafka_offset FROM {db}.predictions FINAL "
                           "WHERE startsWith(event_id, 'h-month-')"))
    dead = {(p, o): reason for p, o, reason in
            run.query("SELECT kafka_partition, kafka_offset, reason FROM {db}.dead_letters FINAL")}
    # Each event of the batch is stored, or dead-lettered with the store's reason: none is lost.
    outcomes = Counter("stored" if (p, o) in stored else dead.get((p, o), "lost")
                       for _, _, p, o, _ in run.sent.hostile)
    assert set(outcomes) <= {"stored", "store_rejected"} and sum(outcomes.values()) == 150, outcomes
    assert run.scalar("SELECT count() FROM {db}.predictions FINAL WHERE startsWith(event_id, 'after-')") \
        == after.n_predictions
    print(f"\n150 months on the {store} store: {dict(outcomes)}, lag drained in {drain_s:.1f} s")

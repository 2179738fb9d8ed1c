"""``driftline replay``: each line as written, to the right topic, keyed by model, paced by its own ts (issue 18)."""

from __future__ import annotations

import json

from driftline.cli.replay import replay_lines

T0 = 1_795_600_800_000


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeProducer:
    """Records (wall time, topic, key, value); ``poll(t)`` lets the fake clock run ``t``."""

    def __init__(self, clock: Clock, fail: bool = False) -> None:
        self.clock, self.fail, self.sent, self.pending = clock, fail, [], []

    def produce(self, topic, key=None, value=None, on_delivery=None):
        self.sent.append((round(self.clock.now - 100.0, 3), topic, key, value))
        self.pending.append(on_delivery)

    def poll(self, timeout=0):
        self.clock.now += timeout
        for callback in self.pending:
            callback("broker down" if self.fail else None, None)
        self.pending.clear()
        return 0

    def flush(self, timeout=0):
        self.poll(0)
        return 0


def line(**event) -> bytes:
    return json.dumps(event).encode() + b"\n"


LINES = [
    line(event_id="a", model="loan", version="v1", ts=T0, features={"x": 1}, prediction=1),
    line(event_id="a", model="loan", ts=T0 + 2000, label=1),
    b"\n",
    b"not json\n",
    line(event_id="b", model="loan", version="v1", ts="2026-11-25T10:00:05Z", features={"x": 2}, prediction=0),
    line(event_id="c", model="loan", version="v1", ts=T0 + 1000, features={"x": 3}, prediction=0),  # out of order
]


def test_lines_go_as_written_to_their_topic_keyed_by_model_and_paced_by_event_time():
    assert T0 == 1_795_600_800_000 and json.loads(LINES[4])["ts"] == "2026-11-25T10:00:05Z"  # T0 + 5 s
    clock = Clock()
    producer = FakeProducer(clock)
    count = replay_lines(LINES, producer, predictions_topic="p", feedback_topic="f", speed=10, clock=clock)
    assert [(t, topic, key) for t, topic, key, _ in producer.sent] == [
        (0.0, "p", b"loan"), (0.2, "f", b"loan"), (0.2, "p", None), (0.5, "p", b"loan"), (0.5, "p", b"loan")]
    assert [v for *_, v in producer.sent] == [x.strip() for x in LINES if x.strip()]
    assert (count.predictions, count.labels, count.first_ms, count.last_ms, count.failed) == (4, 1, T0, T0 + 5000, 0)


def test_max_speed_never_waits_and_failed_deliveries_are_counted():
    clock = Clock()
    producer = FakeProducer(clock, fail=True)
    count = replay_lines(LINES, producer, predictions_topic="p", feedback_topic="f", speed=None, clock=clock)
    assert [t for t, *_ in producer.sent] == [0.0] * 5
    assert (count.failed, count.error) == (5, "broker down")

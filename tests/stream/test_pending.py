"""The compact label join against a plain reference join (dicts), on seeded random operations."""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
from driftline.stream.join import LabelJoin
from driftline.stream.pending import PendingTable, event_keys


class ReferenceJoin:
    """The join's contract with Python dicts: keyed by (model, event_id), insertion-ordered, a resent
    entry replaces the pending one (and becomes the newest), expiry drops entries from the front
    while they are past the horizon."""

    def __init__(self, max_delay_ms: int, max_pending: int) -> None:
        self.max_delay_ms, self.max_pending = max_delay_ms, max_pending
        self.predictions: dict = {}
        self.feedback: dict = {}
        self.evicted = self.expired_predictions = self.expired_feedback = 0

    def _put(self, table: dict, key, value) -> None:
        table.pop(key, None)
        table[key] = value

    def _bound(self) -> None:
        for table in (self.predictions, self.feedback):
            while len(table) > self.max_pending:
                del table[next(iter(table))]
                self.evicted += 1

    def add_predictions(self, events, ts, model, version):
        joined = []
        for e, t in zip(events, ts, strict=True):
            waiting = self.feedback.pop((model, e.event_id), None)
            if waiting is None:
                self._put(self.predictions, (model, e.event_id), (version, e.prediction, e.score, t))
            else:
                joined.append((model, version, e.event_id, e.prediction, e.score, waiting[0], t, waiting[1]))
        self._bound()
        return joined

    def add_feedbacks(self, events, ts):
        joined = []
        for e, t in zip(events, ts, strict=True):
            waiting = self.predictions.pop((e.model, e.event_id), None)
            if waiting is None:
                self._put(self.feedback, (e.model, e.event_id), (e.label, t))
            else:
                version, prediction, score, pts = waiting
                joined.append((e.model, version, e.event_id, prediction, score, e.label, pts, t))
        self._bound()
        return joined

    def expire(self, watermark):
        horizon = watermark - self.max_delay_ms
        for name in ("predictions", "feedback"):
            table = getattr(self, name)
            dropped = 0
            while table and next(iter(table.values()))[-1] < horizon:
                del table[next(iter(table))]
                dropped += 1
            setattr(self, f"expired_{name}", getattr(self, f"expired_{name}") + dropped)


def as_tuple(j) -> tuple:
    return (j.model, j.version, j.event_id, j.prediction, j.score, j.label, j.prediction_ts_ms, j.label_ts_ms)


VALUES = [0.0, 1.0, 2.5, 1, 0, True, False, "yes", "no", "é", 2 ** 60, -3]


@pytest.mark.parametrize("seed", range(6))
def test_random_operations_match_the_reference(seed):
    rng = random.Random(seed)
    cap = rng.choice([5, 40, 1000])
    join, ref = LabelJoin(max_delay_ms=500, max_pending=cap), ReferenceJoin(500, cap)
    clock = 0
    for _ in range(300):
        clock += rng.randint(0, 30)
        op = rng.random()
        ids = [f"e{rng.randint(0, 120)}" for _ in range(rng.randint(0, 25))]
        ts = [clock + rng.randint(-50, 50) for _ in ids]
        if op < 0.45:
            model, version = rng.choice(["m", "n"]), rng.choice(["v1", "v2"])
            events = [SimpleNamespace(event_id=i, prediction=rng.choice(VALUES),
                                      score=rng.choice([None, 0.25, 0.9])) for i in ids]
            got = join.add_predictions(events, ts, model, version)
            assert [as_tuple(j) for j in got] == ref.add_predictions(events, ts, model, version)
        elif op < 0.9:
            events = [SimpleNamespace(event_id=i, model=rng.choice(["m", "n"]), label=rng.choice(VALUES))
                      for i in ids]
            got = join.add_feedbacks(events, ts)
            assert [as_tuple(j) for j in got] == ref.add_feedbacks(events, ts)
        else:
            join.expire(clock)
            ref.expire(clock)
        assert join.pending == (len(ref.predictions), len(ref.feedback))
        assert (join.evicted, join.expired_predictions, join.expired_feedback) == \
            (ref.evicted, ref.expired_predictions, ref.expired_feedback)
    predictions, feedback = join.pending_rows()
    assert [row[1:] for row in predictions] == [(k[0], *v) for k, v in ref.predictions.items()]
    assert [row[1:] for row in feedback] == [(k[0], *v) for k, v in ref.feedback.items()]


def test_values_keep_their_type_through_the_tables():
    join = LabelJoin(max_delay_ms=10_000, max_pending=100)
    for i, value in enumerate(VALUES):
        join.add_prediction(f"p{i}", "m", "v", value, None, i)
    got = [join.add_feedback(f"p{i}", "m", value, 100)[0].prediction for i, value in enumerate(VALUES)]
    assert got == VALUES and [type(v) for v in got] == [type(v) for v in VALUES]


def test_pending_rows_reload_into_a_new_join():
    join = LabelJoin(max_delay_ms=10_000, max_pending=100)
    join.add_predictions([SimpleNamespace(event_id=f"e{i}", prediction="1", score=0.5) for i in range(5)],
                         list(range(5)), "m", "v1")
    join.add_feedback("x", "m", "0", 3)
    again = LabelJoin(max_delay_ms=10_000, max_pending=100)
    again.load_pending(*join.pending_rows())
    assert again.pending == (5, 1)
    (joined,) = again.add_feedback("e3", "m", "0", 9)
    assert (joined.event_id, joined.version, joined.prediction, joined.score, joined.prediction_ts_ms) == \
        ("e3", "v1", "1", 0.5, 3)
    assert [j.label for j in again.add_prediction("x", "m", "v1", "1", None, 4)] == ["0"]


def test_a_pending_entry_takes_at_most_128_bytes():
    join = LabelJoin(max_delay_ms=10 ** 12, max_pending=10 ** 6)
    n = 200_000
    for lo in range(0, n, 10_000):
        join.add_predictions([SimpleNamespace(event_id=f"event-{i:012d}", prediction=1.0, score=0.5)
                              for i in range(lo, lo + 10_000)], list(range(lo, lo + 10_000)), "m", "v1")
        join.add_feedbacks([SimpleNamespace(event_id=f"label-{i:012d}", model="m", label=1.0)
                            for i in range(lo, lo + 5_000)], list(range(lo, lo + 5_000)))
    assert join.pending == (n, n // 2)
    assert join.nbytes / sum(join.pending) <= 128


def test_keys_of_another_model_differ_and_a_found_key_is_taken_once():
    k_m, k_n = event_keys(["a", "b"], "m"), event_keys(["a", "b"], "n")
    assert not np.any(k_m[0] == k_n[0]) and not np.any(k_m[1] == k_n[1])
    table = PendingTable({})
    table.add(*k_m, np.array([1, 2]), {})
    found = table.find(*event_keys(["a", "a", "b"], ["m", "n", "m"]))
    assert (found >= 0).tolist() == [True, False, True]
    table.take(found[found >= 0])
    assert table.alive == 0 and (table.find(*k_m) < 0).all()

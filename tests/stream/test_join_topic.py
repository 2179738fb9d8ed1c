"""The label join across partitions (issue 17): predictions keyed at random over 4 partitions and labels
keyed at random independently (most land on another partition than their prediction), delayed, some
sent before their prediction, replayed after a source's kill -9, a join partition restarted from its
checkpoint: the reports equal those of one partition holding everything, to 1e-9."""

from __future__ import annotations

import json
import random
import zlib

import numpy as np
import pytest
from driftline.settings import parse_settings
from driftline.stream.join import LabelJoin
from driftline.stream.join_topic import (
    IDLE,
    NEVER,
    JoinInbox,
    JoinRelay,
    join_keys,
    pending_restore,
    pending_snapshot,
    routing_key,
)
from driftline.stream.processor import BatchOutput, Processor

from tests.stream.test_two_stage_merge import (
    END_MS,
    EVENTS,
    PARTITIONS,
    START_MS,
    STEP_MS,
    N,
    close,
    owners,
    partials_of,
    settings,
    two_stage_settings,
)
from tests.support.segment_traffic import config, reference_profiles, segment_traffic
from tests.support.two_stage_cluster import FEEDBACK, PREDICTIONS, Cluster

LATENESS = "10s"  # covers the labels' disorder below (3 batches late, 1 early): nothing is late anywhere


def one_partition(traffic, references):
    """Model keying on one partition, labels right after their predictions: the reference."""
    raw = config(fairness_min_group=1)
    for m in raw["models"]:
        m["segments"]["drift"] = {"features": ["income"], "reference": "global"}
        m["window"]["allowed_lateness"] = LATENESS
    processor = Processor(parse_settings(raw), references=references)
    state, out = processor.new_partition(0), BatchOutput()
    for lo in range(0, EVENTS, 500):
        processor.process(state, [(0, i, traffic.predictions[i][1], 0) for i in range(lo, min(lo + 500, EVENTS))],
                          [(0, i, traffic.feedback[i][1], 0) for i in range(lo, min(lo + 500, EVENTS))], START_MS, out)
    own = owners(processor, references)
    for partial in partials_of({0: state}):
        own[(partial.model, partial.version)].add(partial, START_MS)
    reports = [r for owner in own.values() for r in owner.close_ready(END_MS)]
    return sorted(reports, key=lambda r: (r.model, r.window_start_ms, r.n_predictions == 0))


def disordered(traffic, seed):
    """(prediction partition, label partition, label send slot) per event: independent keys; a label
    sent up to 1,500 events after its prediction, one in ten 500 events before it."""
    rng = random.Random(seed)
    out = []
    for i in range(EVENTS):
        slot = i + (-500 if rng.random() < 0.1 else rng.randrange(0, 1_500))
        out.append((rng.randrange(PARTITIONS), rng.randrange(PARTITIONS), slot))
    return out


def run(traffic, references, plan, *, kill=None, restart=None, seed=0, slow=None):
    """Produce by send slot, step the partitions in a random order with random batch sizes; ``kill=(p, at)``
    restores source partition p from its checkpoint taken ``at`` steps earlier (it replays its input and
    sends its records again); ``restart=(p, at)`` restarts join partition p from a fresh checkpoint;
    partition ``slow`` reads 30 messages a batch, far behind the others until the traffic ends."""
    processor = Processor(two_stage_settings(allowed_lateness=LATENESS), references=references)
    cluster = Cluster(processor, PARTITIONS)
    sends = sorted([(i, "p", i) for i in range(EVENTS)] + [(slot, "l", i) for i, (_, _, slot) in enumerate(plan)])
    rng = random.Random(seed)
    saved, steps, done = {}, dict.fromkeys(range(PARTITIONS), 0), set()
    for lo in range(0, len(sends), 400):
        for _, side, i in sends[lo:lo + 400]:
            p_pred, p_label, _ = plan[i]
            if side == "p":
                cluster.produce(PREDICTIONS, p_pred, traffic.predictions[i][1])
            else:
                cluster.produce(FEEDBACK, p_label, traffic.feedback[i][1])
        for p in rng.sample(range(PARTITIONS), PARTITIONS):
            cluster.step(p, START_MS, batch=30 if p == slow else rng.choice((50, 200, 700)))
            steps[p] += 1
            if kill and p == kill[0] and steps[p] == kill[1]:
                saved["kill"] = cluster.states[p].snapshot()
            if kill and p == kill[0] and steps[p] == kill[1] + 3:  # killed 3 batches after its checkpoint
                cluster.states[p] = processor.restore_partition(saved["kill"])
                done.add("kill")
            if restart and p == restart[0] and steps[p] == restart[1]:
                cluster.states[p] = processor.restore_partition(cluster.states[p].snapshot())
                done.add("restart")
    assert done == {name for name, action in (("kill", kill), ("restart", restart)) if action}
    cluster.settle(START_MS)
    cluster.settle(END_MS)
    assert not cluster.reports
    return cluster


@pytest.fixture(scope="module")
def reference_reports(traffic, references):
    return one_partition(traffic, references)


def test_labels_keyed_independently_of_their_predictions_join_as_on_one_partition(traffic, references,
                                                                                  reference_reports):
    plan = disordered(traffic, 1)
    assert sum(p != q for p, q, _ in plan) > EVENTS // 2  # most labels are on another partition
    cluster = run(traffic, references, plan, slow=3)  # its labels' windows wait for it on every join partition
    reports, _ = cluster.close(1, END_MS)
    assert len(reports) == len(reference_reports) == 14
    close(reports, reference_reports)
    labels = {r.window_start_ms: m.value for r in reports for m in r.metrics if m.name == "labels"}
    assert sum(labels.values()) > 0
    # Every join happened: nothing is pending, expired or late on any partition.
    for state in cluster.states.values():
        assert state.join.pending == (0, 0)
        assert all(m.late_labels == 0 for m in state.monitors.values())


def test_a_source_replaying_after_kill_9_and_a_join_partition_restart_change_nothing(traffic, references,
                                                                                      reference_reports):
    plan = disordered(traffic, 2)
    cluster = run(traffic, references, plan, kill=(1, 9), restart=(2, 14), seed=3)
    reports, _ = cluster.close(3, END_MS, split=len(cluster.partials) // 3)
    close(reports, reference_reports)
    assert cluster.states[1].offsets  # the victim replayed: its records reached the join partitions twice
    taken = [o for s in cluster.states.values() for (src, side), o in s.inbox.taken.items() if src == 1]
    assert taken and all(o >= 0 for o in taken)


def test_model_keyed_traffic_through_the_join_topic_equals_the_reference(traffic, references, reference_reports):
    plan = [(0, 0, i) for i in range(EVENTS)]
    cluster = run(traffic, references, plan)
    reports, _ = cluster.close(0, END_MS)
    close(reports, reference_reports)


# -- the pieces ---------------------------------------------------------------------------------------
def test_join_keys_are_stable_across_processes_and_route_to_one_partition():
    k1, k2 = join_keys(["e1", "e2"], "m")
    assert (k1.tolist(), k2.tolist()) == (join_keys(["e1"], ["m"])[0].tolist() + join_keys(["e2"], "m")[0].tolist(),
                                          join_keys(["e1", "e2"], ["m", "m"])[1].tolist())
    assert join_keys(["e1"], "m")[0][0] != join_keys(["e1"], "n")[0][0]  # the model is part of the key
    for partitions in (1, 4, 12):
        for j in range(partitions):
            assert zlib.crc32(routing_key(j, partitions)) % partitions == j  # librdkafka's default partitioner


def test_a_source_mark_is_the_lower_side_window_aligned_and_idle_after_idle_close():
    s = two_stage_settings().models[0]
    relay = JoinRelay(started_at_ms=START_MS)
    idle = s.idle_close_ms

    class Monitor:
        watermark_ms, last_event_at_ms = START_MS + 25_000, START_MS

    assert relay.mark(s, [Monitor()], START_MS) == NEVER  # no label yet: labels may still come from anywhere
    relay.saw_labels(s.name, np.arange(START_MS, START_MS + 17_000, 1_000), START_MS)
    assert relay.mark(s, [Monitor()], START_MS) == START_MS + 10_000  # labels at 11 s (6th highest), aligned
    assert relay.mark(s, [], START_MS + 1) == NEVER  # no monitor yet: predictions may still come
    assert relay.mark(s, [Monitor()], START_MS + idle) == IDLE
    relay.restart(START_MS + idle)  # the worker did not read meanwhile: not idle
    assert relay.mark(s, [], START_MS + idle) == NEVER
    assert relay.mark(s, [], START_MS + 2 * idle) == IDLE
    again = JoinRelay.restore(json.loads(json.dumps(relay.snapshot())))
    assert again.mark(s, [], START_MS + idle) == NEVER and again.mark(s, [], START_MS + 2 * idle) == IDLE


def test_the_inbox_takes_a_record_once_and_holds_windows_until_every_source_marked():
    inbox = JoinInbox()
    assert inbox.fresh(0, "l", np.array([7, 8])).tolist() == [True, True]
    assert inbox.fresh(0, "l", np.array([7, 9])).tolist() == [False, True]  # 7 was taken: a replay
    assert inbox.fresh(0, "p", np.array([8])).tolist() == [True]  # per side
    assert inbox.fresh(0, "l", np.array([], np.int64)).tolist() == [] and inbox.taken[(0, "l")] == 9
    inbox.marks["m"] = {0: 10_000, 1: IDLE, 2: 20_000}
    assert inbox.label_mark("m", 4) == NEVER  # source 3 never heard from: it may still send
    inbox.marks["m"][3] = 30_000
    assert inbox.label_mark("m", 4) == 10_000
    assert JoinInbox.restore(json.loads(json.dumps(inbox.snapshot()))).__dict__ == inbox.__dict__


def test_pending_entries_survive_a_checkpoint_in_either_order():
    join = LabelJoin(max_delay_ms=60_000, max_pending=10)
    k1, k2 = join_keys(["a", "b"], "m")
    from driftline.stream.join_topic import Record

    join.add_predictions([Record(prediction="1", score=0.9)], [1_000], "m", "v1", None, [("east",)],
                         keys=(k1[:1], k2[:1]))
    join.add_feedbacks([Record(model="m", label="0")], [2_000], keys=(k1[1:], k2[1:]))
    restored = pending_restore(json.loads(json.dumps(pending_snapshot(join))), max_delay_ms=60_000, max_pending=10)
    assert restored.pending == (1, 1)
    joined = restored.add_feedbacks([Record(model="m", label="1")], [3_000], keys=(k1[:1], k2[:1]))
    assert [(j.version, j.prediction, j.score, j.label, j.segments, j.ts_ms) for j in joined] == [
        ("v1", "1", 0.9, "1", ("east",), 3_000)]
    joined = restored.add_predictions([Record(prediction="0", score=None)], [1_500], "m", "v2", keys=(k1[1:], k2[1:]))
    assert [(j.version, j.label, j.ts_ms) for j in joined] == [("v2", "0", 2_000)]


def test_the_join_topic_is_created_and_read_under_two_stages_only():
    from driftline.stream.topics import worker_topics

    names = {t.name: t for t in worker_topics(two_stage_settings(), 6)}
    assert names["driftline.join"].partitions == 6 and "READ" in names["driftline.join"].operations
    assert "driftline.join" not in {t.name for t in worker_topics(settings(), 6)}
    # Any keying works under two stages; one partition's join needs model keying.
    two, one = ({t.name: t for t in worker_topics(s, 6)} for s in (two_stage_settings(), settings()))
    for topic in ("driftline.predictions", "driftline.feedback"):
        assert "any keying" in two[topic].purpose and "keyed by model" not in two[topic].purpose
        assert "keyed by model" in one[topic].purpose
    assert parse_settings({**config(), "kafka": {"topics": {"join": "j"}}}).kafka.join_topic == "j"


def test_records_on_the_wrong_partition_still_join_and_are_reported(traffic, references, caplog):
    processor = Processor(two_stage_settings(), references=references)
    processor.two_stage.partitions = 2
    states = [processor.new_partition(p) for p in range(2)]
    out = BatchOutput()
    processor.process(states[0], [(0, 0, traffic.predictions[0][1], 0)], [(0, 0, traffic.feedback[0][1], 0)],
                      START_MS, out)
    (key, value), = processor.join_exchange.messages(out)
    wrong = 1 - zlib.crc32(key) % 2  # another partitioner put it on the other partition
    processor.join_exchange.receive(states[wrong], [(wrong, 0, value, None)], "join", START_MS)
    monitor = states[wrong].monitors[("loans", "v1")]
    assert sum(w.labels for w in monitor.label_windows.values()) == 1
    assert processor.join_exchange.misrouted == 1 and "partitioner" in caplog.text


def test_per_partition_keeps_its_own_join_and_sends_nothing(traffic, references):
    processor = Processor(settings(), references=references)
    assert processor.join_exchange is None
    state = processor.new_partition(0)
    assert state.relay is None and state.inbox is None
    assert "join_topic" not in json.loads(state.snapshot())


@pytest.fixture(scope="module")
def traffic():
    return segment_traffic(N, START_MS, bias_at=N // 2, step_ms=STEP_MS, shift_at=N // 2)


@pytest.fixture(scope="module")
def references(traffic):
    return reference_profiles(traffic)


def test_the_producer_keeps_its_order_under_two_stages_only():
    from driftline.stream.wiring import producer_config

    assert producer_config(two_stage_settings()).get("enable.idempotence") is True  # a retry never reorders
    assert "enable.idempotence" not in producer_config(settings())

"""Two-stage aggregation without I/O: the same traffic keyed at random over 4 partitions, merged by one owner
per model version, gives the reports one partition holding all of it gives (to 1e-9), whatever order the
partials arrive in, delivered twice, and across a checkpoint of the owner."""

from __future__ import annotations

import itertools
import json
import random

import numpy as np
import pytest
from driftline.settings import parse_settings
from driftline.stream.partials import Partial, merge_partials, take_partials
from driftline.stream.processor import BatchOutput, Processor
from driftline.stream.stage2 import WindowOwner
from driftline.stream.two_stage import IDLE

from tests.support.segment_traffic import config, reference_profiles, segment_traffic
from tests.support.two_stage_cluster import FEEDBACK, PREDICTIONS, Cluster

START_MS = 1_700_000_000_000
N = 6_000  # predictions per model
EVENTS = 2 * N  # both models' predictions, interleaved
STEP_MS = 5  # 30 s of event time: three 10 s windows per model
END_MS = START_MS + 3_600_000  # every window is ready by then (idle)
PARTITIONS = 4


def settings():
    raw = config(fairness_min_group=1)
    for m in raw["models"]:
        m["segments"]["drift"] = {"features": ["income"], "reference": "global"}
    return parse_settings(raw)


@pytest.fixture(scope="module")
def traffic():
    return segment_traffic(N, START_MS, bias_at=N // 2, step_ms=STEP_MS, shift_at=N // 2)


@pytest.fixture(scope="module")
def references(traffic):
    return reference_profiles(traffic)


def stage1(traffic, references, keying):
    """Each partition's processor state after its share of the traffic (a label on its prediction's partition)."""
    processor = Processor(settings(), references=references)
    states = {p: processor.new_partition(p) for p in set(keying)}
    out = BatchOutput()
    for p, state in states.items():
        mine = [i for i, k in enumerate(keying) if k == p]
        preds = [(p, i, traffic.predictions[i][1], 0) for i in mine]
        fb = [(p, i, traffic.feedback[i][1], 0) for i in mine]
        for lo in range(0, len(preds), 500):
            processor.process(state, preds[lo:lo + 500], fb[lo:lo + 500], START_MS, out)
    return processor, states


def partials_of(states) -> list[Partial]:
    return [p for state in states.values() for monitor in state.monitors.values()
            for p in take_partials(monitor, state.partition, END_MS)]


def owners(processor, references):
    return {(m, "v1"): WindowOwner(processor._monitor(processor.new_partition(99), m, "v1"), wait_ms=60_000,
                                   idle_ms=3_000, partitions=PARTITIONS) for m in references}


def stage2(processor, references, partials, *, checkpoint_after: int | None = None):
    own = owners(processor, references)
    reports = []
    for i, partial in enumerate(partials):
        own[(partial.model, partial.version)].add(partial, START_MS)
        if checkpoint_after == i:
            own = {k: WindowOwner.restore(json.loads(json.dumps(o.snapshot(), allow_nan=False)),
                                          processor._monitor(processor.new_partition(98), *k), wait_ms=60_000,
                                          idle_ms=3_000, partitions=PARTITIONS) for k, o in own.items()}
    for owner in own.values():
        reports += owner.close_ready(END_MS)
    return sorted(reports, key=lambda r: (r.model, r.window_start_ms, r.n_predictions == 0))


def close(a, b):
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12) or (np.isnan(a) and np.isnan(b))
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), (a, b)
        for x, y in zip(a, b, strict=True):
            close(x, y)
    elif hasattr(a, "__dataclass_fields__"):
        assert type(a) is type(b)
        for name in a.__dataclass_fields__:
            close(getattr(a, name), getattr(b, name))
    else:
        assert a == b


@pytest.fixture(scope="module")
def single(traffic, references):
    processor, states = stage1(traffic, references, [0] * EVENTS)
    return stage2(processor, references, partials_of(states))


def random_keying(seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, PARTITIONS, EVENTS).tolist()


def test_random_keying_over_four_partitions_gives_the_single_partition_reports(traffic, references, single):
    processor, states = stage1(traffic, references, random_keying(1))
    partials = partials_of(states)
    assert {p.partition for p in partials} == set(range(PARTITIONS))
    reports = stage2(processor, references, partials)
    assert len(reports) == len(single) == 14  # two models: three prediction windows, four label windows
    close(reports, single)
    assert any(r.drift for r in reports) and any(r.segments for r in reports) and any(r.fairness for r in reports)


def test_arrival_order_duplicates_and_an_owner_checkpoint_change_nothing(traffic, references, single):
    processor, states = stage1(traffic, references, random_keying(2))
    partials = partials_of(states)
    shuffled = partials + random.Random(3).sample(partials, len(partials) // 2)  # at least once: some twice
    random.Random(4).shuffle(shuffled)
    close(stage2(processor, references, shuffled, checkpoint_after=len(shuffled) // 2), single)


def test_the_stage2_reports_equal_the_one_partition_path_on_every_window_statistic(traffic, references, single):
    processor = Processor(settings(), references=references)
    state = processor.new_partition(0)
    out = BatchOutput()
    preds = [(0, i, v, 0) for i, (_, v) in enumerate(traffic.predictions)]
    fb = [(0, i, v, 0) for i, (_, v) in enumerate(traffic.feedback)]
    for lo in range(0, EVENTS, 500):
        processor.process(state, preds[lo:lo + 500], fb[lo:lo + 500], START_MS, out)
    processor.close_windows(state, END_MS, out)
    direct = sorted(out.reports, key=lambda r: (r.model, r.window_start_ms, r.n_predictions == 0))
    # The same drift, metrics, segments and fairness; only the concept detector's rule differs
    # (per window in stage 2, per label in one partition).
    for a, b in zip(single, direct, strict=True):
        close((a.window_start_ms, a.drift, a.metrics, a.segments, a.fairness),
              (b.window_start_ms, b.drift, b.metrics, b.segments, b.fairness))


def test_merging_partials_is_associative_and_commutative(traffic, references):
    _, states = stage1(traffic, references, random_keying(5))
    partials = [p for p in partials_of(states) if p.model == "loans" and p.side == "predictions"]
    window = partials[0].window.start_ms
    same = [p for p in partials if p.window.start_ms == window][:3]
    assert len(same) == 3
    ref = references["loans"]
    snaps = set()
    for order in itertools.permutations(same):
        left = merge_partials([merge_partials(list(order[:2]), ref), order[2]], ref)
        right = merge_partials([order[0], merge_partials(list(order[1:]), ref)], ref)
        for m in (left, right):
            s = m.snapshot()
            for f in s["window"]["sketch"]["features"].values():
                f.pop("reservoir", None)
            s["groups"]["sketches"] = None
            snaps.add(json.dumps(s, sort_keys=True))
    assert len(snaps) == 1


def test_a_window_waits_for_every_partition_then_an_idle_mark_or_the_bounded_wait(traffic, references):
    processor, states = stage1(traffic, references, random_keying(6))
    partials = [p for p in partials_of(states) if p.model == "price" and p.side == "predictions"]
    first = min(p.window.start_ms for p in partials)
    end = first + 10_000
    owner = WindowOwner(processor._monitor(processor.new_partition(99), "price", "v1"), wait_ms=60_000,
                        idle_ms=3_000, partitions=PARTITIONS)
    for p in partials:
        if p.window.start_ms == first:
            p.watermark_ms = end if p.partition else end - 1  # partition 0 has not passed the end yet
            owner.add(p, 0)
    assert owner.close_ready(1_000) == []  # partition 0 holds it back
    owner.mark("predictions", 0, end, 1_500)
    assert [r.window_start_ms for r in owner.close_ready(2_000)] == [first]
    # Partition 3 says it is idle; partition 2 lags, then falls silent (its worker died).
    second = [p for p in partials if p.window.start_ms == first + 10_000]
    for p in second:
        p.watermark_ms = first + 20_000 if p.partition != 2 else first + 15_000
        if p.partition != 3:
            owner.add(p, 4_000)
    owner.mark("predictions", 3, IDLE, 4_000)
    assert owner.close_ready(4_500) == []  # 2 behind
    assert owner.close_ready(30_000) == []  # silent is not idle: 2 still holds it
    assert [r.window_start_ms for r in owner.close_ready(64_000)] == [first + 10_000]  # the bounded wait
    late = next(p for p in second if p.partition == 3)
    owner.add(late, 65_000)
    assert owner.late_partials == 1 and owner.close_ready(70_000) == []


def two_stage_settings(**window):
    raw = config(fairness_min_group=1)
    for m in raw["models"]:
        m["segments"]["drift"] = {"features": ["income"], "reference": "global"}
        m["reference"] = {"profile": f"{m['name']}.json"}
        m["window"].update(window)
    raw["worker"] = {"aggregation": "two_stage"}
    return parse_settings(raw)


def two_stage_run(traffic, references, keying, *, restart_owner: bool = False, label_keying=None):
    """The processor's own two-stage path: partitions publish, labels join on their event id's join
    partition, one partition receives the partials and closes."""
    cluster = Cluster(Processor(two_stage_settings(), references=references), PARTITIONS)
    for i, k in enumerate(keying):
        cluster.produce(PREDICTIONS, k, traffic.predictions[i][1])
        cluster.produce(FEEDBACK, k if label_keying is None else label_keying[i], traffic.feedback[i][1])
    cluster.settle(START_MS)
    cluster.settle(END_MS)
    assert not cluster.reports  # stage 1 closes nothing itself
    reports, closed = cluster.close(2, END_MS, split=len(cluster.partials) // 2 if restart_owner else None)
    assert set(closed.report_partitions) == {2}
    return reports, closed


def test_the_worker_path_publishes_receives_checkpoints_and_closes_the_same_reports(traffic, references, single):
    reports, closed = two_stage_run(traffic, references, random_keying(7), restart_owner=True)
    close(reports, single)
    model_keyed, _ = two_stage_run(traffic, references, [0] * EVENTS)
    close(model_keyed, single)
    assert closed.alerts  # the owner's alert engines see the merged reports (the regional bias)


def test_a_partition_never_heard_from_holds_a_window_for_the_idle_time(traffic, references):
    processor, states = stage1(traffic, references, [1] * EVENTS)  # all on partition 1 of 4
    partials = [p for p in partials_of(states) if p.model == "price" and p.side == "predictions"]
    owner = WindowOwner(processor._monitor(processor.new_partition(99), "price", "v1"), wait_ms=60_000,
                        idle_ms=3_000, partitions=PARTITIONS)
    first = min(p.window.start_ms for p in partials)
    owner.add(next(p for p in partials if p.window.start_ms == first), 10_000)
    owner.mark("predictions", 1, first + 20_000, 10_000)
    assert owner.close_ready(12_000) == []  # partitions 0, 2 and 3 may still carry some of it
    assert [r.window_start_ms for r in owner.close_ready(13_000)] == [first]


def test_a_mark_never_runs_ahead_of_a_window_still_held_and_says_idle_once_nothing_came(traffic, references):
    from driftline.stream.two_stage import marks

    processor, states = stage1(traffic, references, [0] * 2_000 + [1] * (EVENTS - 2_000))
    monitor = states[0].monitors[("loans", "v1")]
    monitor.last_event_at_ms = monitor.last_label_at_ms = START_MS
    held = marks(monitor, START_MS)
    assert held["predictions"] <= min(monitor.windows) and held["labels"] <= min(monitor.label_windows)
    later = START_MS + monitor.settings.idle_close_ms
    assert marks(monitor, later) == {"predictions": min(monitor.windows), "labels": min(monitor.label_windows)}
    monitor.last_event_at_ms = later  # predictions came: the label side is not idle either
    assert take_partials(monitor, 0, later + 1) == []  # the watermark (5 s in) passed no window's end
    assert marks(monitor, later + 1) == {"predictions": min(monitor.windows), "labels": min(monitor.label_windows)}
    take_partials(monitor, 0, later * 2)
    assert not monitor.windows and not monitor.label_windows
    assert marks(monitor, later * 2) == {"predictions": IDLE, "labels": IDLE}


def test_performance_estimated_before_labels_merges_like_one_partition(traffic, references):
    """CBPE window state (calibrated-score bins, expected confusion sums) merged over partitions
    gives the estimates of one partition holding all the traffic."""
    from dataclasses import replace

    from driftline.detectors import CBPEReference

    rows = traffic.rows["loans"]
    cbpe = CBPEReference.fit("binary_classification", np.array(rows["score"][:2000]),
                             np.array(rows["y_pred"][:2000]), np.array(rows["y_true"][:2000]))
    refs = {**references, "loans": replace(references["loans"], cbpe=cbpe)}
    reports = {}
    for name, keying in (("single", [0] * EVENTS), ("random", random_keying(5))):
        processor, states = stage1(traffic, refs, keying)
        reports[name] = stage2(processor, refs, partials_of(states))
    close(reports["random"], reports["single"])
    estimated = [m for r in reports["single"] for m in r.metrics if m.name.startswith("estimated_accuracy")]
    assert estimated and all(0 < m.value < 1 for m in estimated)

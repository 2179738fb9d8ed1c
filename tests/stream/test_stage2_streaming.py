"""Streaming feature detectors under two-stage aggregation: stage 2 feeds each river detector the
prediction window's exact mean of its feature, in window order. Random keying over 4 partitions gives
the change points (window, feature) one partition gives, a level shift is located to its window, and an
owner checkpoint mid-stream changes nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from driftline.detectors import ReferenceProfile
from driftline.settings import parse_settings
from driftline.stream.processor import BatchOutput, Processor
from driftline.stream.stage2 import WindowOwner

START_MS = 1_700_000_000_000
WINDOW_MS = 10_000
PER_WINDOW = 300
WINDOWS = 24
STEP_MS = WINDOW_MS // PER_WINDOW + 1  # 34 ms: windows do not hold a whole number of events
N = WINDOWS * WINDOW_MS // STEP_MS
END_MS = START_MS + 3_600_000  # every window is ready by then (idle)
PARTITIONS = 4
SHIFT_X_AT = START_MS + 14 * WINDOW_MS  # x's mean moves from 10 to 30 in window 14
SHIFT_Y_AT = START_MS + 9 * WINDOW_MS  # y's mean moves from 0 to -5 in window 9
CHUNK = 400


def raw_config() -> dict:
    return {"models": [{
        "name": "sensor", "task": "regression", "features": {"x": "numeric", "y": "numeric", "z": "numeric"},
        "reference": {"profile": "sensor.json"}, "window": {"size": "10s", "idle_close": "3s"},
        "streaming": [{"feature": "x", "type": "adwin", "params": {"clock": 1, "min_window_length": 1, "grace_period": 2}},
                      {"feature": "y", "type": "page_hinkley",
                       "params": {"min_instances": 5, "threshold": 3.0, "mode": "down"}},
                      {"feature": "z", "type": "kswin", "params": {"window_size": 12, "stat_size": 4}}]}],
        "worker": {"aggregation": "two_stage"}}


def events() -> list[bytes]:
    rng = np.random.default_rng(17)
    out = []
    for i in range(N):
        ts = START_MS + i * STEP_MS
        x = rng.normal(30.0 if ts >= SHIFT_X_AT else 10.0, 3.0)
        y = rng.normal(-5.0 if ts >= SHIFT_Y_AT else 0.0, 2.0)
        features = {"x": float(x), "y": float(y), "z": float(rng.normal(1.0, 0.5))}
        if i % 11 == 0:
            features["x"] = None  # missing values count in no mean
        out.append(json.dumps({"event_id": f"s-{i}", "model": "sensor", "version": "v1", "ts": ts,
                               "features": features, "prediction": float(rng.normal())}).encode())
    return out


@pytest.fixture(scope="module")
def traffic() -> list[bytes]:
    return events()


@pytest.fixture(scope="module")
def reference() -> ReferenceProfile:
    rng = np.random.default_rng(3)
    columns = {"x": rng.normal(10.0, 3.0, 2000), "y": rng.normal(0.0, 2.0, 2000), "z": rng.normal(1.0, 0.5, 2000),
               "prediction": rng.normal(size=2000)}
    return ReferenceProfile.from_columns({"x": "numeric", "y": "numeric", "z": "numeric",
                                          "prediction": "numeric"}, columns)


def run(traffic, reference, keying, *, restart_owner: bool = False):
    """Stage 1 on every partition (round-robin by chunks of event time, so the partials interleave),
    then one owner partition receives them all (restarted from its checkpoint halfway) and closes."""
    processor = Processor(parse_settings(raw_config()), references={"sensor": reference})
    processor.two_stage.partitions = PARTITIONS
    states = {p: processor.new_partition(p) for p in range(PARTITIONS)}
    out = BatchOutput()
    for lo in range(0, N, CHUNK):
        now = START_MS + lo * STEP_MS
        for p, state in states.items():
            mine = [(p, i, traffic[i], 0) for i in range(lo, min(lo + CHUNK, N)) if keying[i] == p]
            processor.process(state, mine, [], now, out)
            processor.close_windows(state, now, out)
    for state in states.values():
        processor.close_windows(state, END_MS, out)
    assert not out.reports  # stage 1 closes nothing itself
    owner = processor.new_partition(1)
    messages = [(1, offset, value, None) for offset, (_, value) in enumerate(out.partials)]
    half = len(messages) // 2
    closed = BatchOutput()
    processor.two_stage.receive(owner, messages[:half], "partials", START_MS)
    processor.close_windows(owner, START_MS, closed)
    if restart_owner:
        (before,) = owner.owners.values()
        assert before.monitor.streaming[0][1].n > 0  # the detectors have state when the owner restarts
        owner = processor.restore_partition(owner.snapshot())
    processor.two_stage.receive(owner, messages[half:], "partials", START_MS)
    processor.close_windows(owner, END_MS, closed)
    reports = sorted((r for r in closed.reports if r.n_predictions), key=lambda r: r.window_start_ms)
    return reports, closed, owner


def change_points(reports) -> list[tuple[int, str, str, bool]]:
    return [(r.window_start_ms, d.feature, d.test, d.drifted) for r in reports for d in r.drift
            if d.test.endswith("_stream")]


def random_keying(seed: int) -> list[int]:
    return np.random.default_rng(seed).integers(0, PARTITIONS, N).tolist()


@pytest.fixture(scope="module")
def single(traffic, reference):
    return run(traffic, reference, [0] * N)


def test_a_level_shift_in_a_feature_mean_is_a_change_point_of_its_window(single):
    reports, closed, _ = single
    assert [r.window_start_ms for r in reports] == [START_MS + k * WINDOW_MS for k in range(WINDOWS)]
    found = change_points(reports)
    x = [(start, drifted) for start, feature, test, drifted in found if feature == "x"]
    y = [(start, drifted) for start, feature, test, drifted in found if feature == "y"]
    # Page-Hinkley: the first shifted window's mean crosses the threshold, so the change is located there.
    assert y[0] == (SHIFT_Y_AT, True)
    # ADWIN cuts once the evidence beats its bound at delta, which takes it four window means after the
    # shift here (the seeded stream's exact index; ADWIN on events took a few hundred events too).
    assert x[0] == (SHIFT_X_AT + 4 * WINDOW_MS, True)
    assert {test for _, _, test, _ in found} <= {"adwin_stream", "page_hinkley_stream", "kswin_stream"}
    # The alert rules see a change point like any drift result of its window.
    assert any(a.kind == "data_drift" and a.window_start_ms == SHIFT_Y_AT and "y page_hinkley_stream" in a.summary
               for a in closed.alerts)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_keying_over_four_partitions_gives_the_single_partition_change_points(traffic, reference, single,
                                                                                     seed):
    reports, _, owner = run(traffic, reference, random_keying(seed))
    assert change_points(reports) == change_points(single[0])
    # The detectors read the same means to the bit: their states are equal.
    ((_, mine),) = owner.owners.items()
    ((_, theirs),) = single[2].owners.items()
    assert [d.snapshot() for _, d in mine.monitor.streaming] == [d.snapshot() for _, d in theirs.monitor.streaming]


def test_an_owner_restarted_from_its_checkpoint_mid_stream_changes_nothing(traffic, reference, single):
    reports, _, _ = run(traffic, reference, random_keying(3), restart_owner=True)
    assert change_points(reports) == change_points(single[0])
    # Every drift result of every window, to 1e-9 (the binned tests' float sums differ in the last bits).
    for mine, theirs in zip(reports, single[0], strict=True):
        assert [(d.feature, d.test, d.drifted) for d in mine.drift] == [(d.feature, d.test, d.drifted) for d in theirs.drift]
        assert [d.statistic for d in mine.drift] == pytest.approx([d.statistic for d in theirs.drift], rel=1e-9)


def test_the_owner_snapshot_carries_the_detectors_as_json_and_restores_them(traffic, reference, single):
    _, _, state = single
    ((key, owner),) = state.owners.items()
    saved = json.loads(json.dumps(owner.snapshot(), allow_nan=False))
    assert [feature for feature, _ in saved["monitor"]["streaming"]] == ["x", "y", "z"]
    processor = Processor(parse_settings(raw_config()), references={"sensor": reference})
    again = WindowOwner.restore(saved, processor._monitor(processor.new_partition(9), *key), wait_ms=60_000,
                                idle_ms=3_000, partitions=PARTITIONS)
    assert [(f, d.snapshot()) for f, d in again.monitor.streaming] == \
        [(f, d.snapshot()) for f, d in owner.monitor.streaming]
    assert again.snapshot() == saved


def test_a_window_closed_after_a_later_one_feeds_no_detector(traffic, reference):
    processor = Processor(parse_settings(raw_config()), references={"sensor": reference})
    owner = WindowOwner(processor._monitor(processor.new_partition(9), "sensor", "v1"), wait_ms=60_000,
                        idle_ms=3_000, partitions=1)
    from driftline.stream.windows import OpenWindow

    late, later = OpenWindow(START_MS, START_MS + WINDOW_MS), OpenWindow(START_MS + WINDOW_MS, START_MS + 2 * WINDOW_MS)
    for w in (late, later):
        w.n = 3
        for feature in ("x", "y", "z"):
            w.add_values(feature, np.array([1.0, 2.0, np.nan, 3.0]))
    owner.closed_through["predictions"] = later.end_ms
    assert owner._change_points(late) == [] and owner.monitor.streaming[0][1].n == 0
    owner.closed_through["predictions"] = late.end_ms
    owner._change_points(later)
    assert [d.n for _, d in owner.monitor.streaming] == [1, 1, 1]  # one value per window: the mean, 2.0
    assert later.sums["x"].mean == 2.0 and later.sums["x"].n == 3


def test_the_window_sums_merge_exactly_and_travel_in_the_partial_and_the_checkpoint(reference):
    from driftline.stream.partials import Partial, merge_partials
    from driftline.stream.windows import OpenWindow

    rng = np.random.default_rng(4)
    values = rng.normal(10.0, 3.0, 1000)
    values[::13] = np.nan
    keying = rng.integers(0, PARTITIONS, len(values))
    whole = OpenWindow(START_MS, START_MS + WINDOW_MS)
    whole.add_values("x", values)
    parts = []
    for p in range(PARTITIONS):
        w = OpenWindow(START_MS, START_MS + WINDOW_MS)
        for chunk in np.array_split(values[keying == p], 3):  # several batches per partition
            w.add_values("x", chunk)
        parts.append(Partial("sensor", "v1", "predictions", p, START_MS, w))
    for order in (parts, parts[::-1], parts[1:] + parts[:1]):
        wire = [Partial.restore(json.loads(json.dumps(p.snapshot(), allow_nan=False)), reference) for p in order]
        merged = merge_partials(wire, reference).window
        assert merged.sums == whole.sums  # the same integer, not merely close
        assert merged.sums["x"].mean == whole.sums["x"].mean
    assert whole.sums["x"].n == int(np.isfinite(values).sum())
    saved = whole.snapshot()
    assert OpenWindow.restore(saved, reference).sums == whole.sums
    del saved["sums"]  # a checkpoint of an earlier build: no sums, nothing for stage 2's detectors
    assert OpenWindow.restore(saved, reference).sums == {}


@pytest.mark.parametrize("aggregation", ["two_stage", "per_partition"])
def test_per_event_detectors_run_only_without_two_stages(traffic, reference, aggregation):
    # Under two stages, stage 2 feeds the detectors window means; stage 1's per-event run would be thrown away.
    raw = raw_config()
    raw["worker"]["aggregation"] = aggregation
    processor = Processor(parse_settings(raw), references={"sensor": reference})
    state = processor.new_partition(0)
    processor.process(state, [(0, i, traffic[i], 0) for i in range(CHUNK)], [], START_MS, BatchOutput())
    restored = processor.restore_partition(state.snapshot())
    processor.process(restored, [(0, i, traffic[i], 0) for i in range(CHUNK, 2 * CHUNK)], [], START_MS, BatchOutput())
    for s in (state, restored):
        (monitor,) = s.monitors.values()
        seen = [detector.n for _, detector in monitor.streaming]
        if aggregation == "two_stage":
            assert seen == [0, 0, 0]
        else:
            assert min(seen) > 0

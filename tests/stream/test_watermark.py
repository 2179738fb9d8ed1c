"""A robust watermark: a few future-dated events inside the bounds do not blind a model's monitoring."""

from __future__ import annotations

import json

import numpy as np
import pytest
from driftline.settings import parse_settings
from driftline.stream.processor import BatchOutput, Processor
from driftline.stream.watermark import OUTLIERS, HighMark

T0 = 1_795_600_800_000  # 2026-11-25T10:00:00Z: processing time, and where event time starts
Y2099 = 4_084_000_000_000  # 2099-06-01
STEP_MS = 100
SETTINGS = {
    "worker": {"event_time": {"max_future": "30000d"}},  # admit 2099: this is about what happens inside the bounds
    "models": [{"name": "credit", "features": {"income": "numeric", "country": "categorical"},
                "reference": {"warmup_events": 200}, "window": {"size": "10s", "idle_close": "3s"}}],
}


def test_outliers_up_to_k_do_not_move_the_high_mark_and_the_split_into_batches_does_not_matter():
    rng = np.random.default_rng(3)
    times = rng.integers(0, 10_000, 500)
    times[rng.choice(500, OUTLIERS, replace=False)] = Y2099
    whole, split = HighMark(), HighMark()
    whole.update(times)
    for part in np.array_split(times, 37):
        split.update(part)
    normal = np.sort(times[times < Y2099])
    assert whole.value == split.value == normal[-1]
    assert HighMark.restore(whole.snapshot()).snapshot() == whole.snapshot()
    whole.update(np.array([Y2099]))  # one more than it tolerates: now it moves
    assert whole.value == Y2099
    fresh = HighMark()
    fresh.update(np.array([5, 6, 7]))
    assert fresh.value is None  # fewer than k + 1 events: no high mark yet
    with pytest.raises(ValueError, match="outliers"):
        HighMark(outliers=-1)


def event(i: int, ts: int) -> tuple:
    value = {"event_id": f"e{i}", "model": "credit", "version": "v1", "ts": ts,
             "features": {"income": float(i % 97), "country": "DE" if i % 3 else "FR"}, "prediction": i % 2}
    return (0, i, json.dumps(value).encode(), 0)


def label(i: int, ts: int) -> tuple:
    return (0, i, json.dumps({"event_id": f"e{i}", "model": "credit", "ts": ts, "label": i % 2}).encode(), 0)


def feed(processor, state, first: int, last: int, out: BatchOutput, *, now_ms: int = T0) -> None:
    """Predictions ``first..last`` of normal traffic, each labelled half a second later."""
    for lo in range(first, last, 500):
        ids = range(lo, min(lo + 500, last))
        processor.process(state, [event(i, T0 + i * STEP_MS) for i in ids],
                          [label(i, T0 + i * STEP_MS + 500) for i in ids], now_ms, out)
        processor.close_windows(state, now_ms, out)


def test_one_event_in_2099_then_normal_traffic_windows_keep_closing_and_labels_keep_joining():
    processor = Processor(parse_settings(SETTINGS))
    state = processor.new_partition(0)
    before = BatchOutput()
    feed(processor, state, 0, 1_000, before)
    # One future-dated prediction, and its label: inside the bounds, so it is admitted.
    out = BatchOutput()
    processor.process(state, [event(10_000_000, Y2099)], [label(10_000_000, Y2099 + 1)], T0, out)
    assert out.dead == [] and out.predictions.event_id == ["e10000000"]
    feed(processor, state, 1_000, 3_000, out)  # 200 s more of normal traffic, same processing time: no idle close
    monitor = state.monitors[("credit", "v1")]
    assert monitor.watermark_ms < T0 + 3_000 * STEP_MS  # the outlier did not move it
    assert dict(out.late) == {}
    closed = sorted(r.window_start_ms for r in out.reports if r.n_predictions)
    assert closed == [T0 + 10_000 * k for k in range(9, 29)]  # every later window, closed by the watermark
    label_windows = [r for r in out.reports if r.n_labels]
    accuracy = [m.value for r in label_windows for m in r.metrics if m.name == "accuracy"]
    assert len(label_windows) >= 18 and accuracy == [1.0] * len(label_windows)
    assert state.join.expired_predictions == 0 and state.join.pending[0] < 200  # labels keep joining
    # A checkpoint keeps the high marks: the restored monitor ignores the outlier as well.
    restored = processor.restore_partition(state.snapshot())
    again = BatchOutput()
    feed(processor, restored, 3_000, 3_500, again)
    assert dict(again.late) == {} and [r for r in again.reports if r.n_predictions]


def test_closing_the_outliers_window_on_idle_does_not_make_later_traffic_late():
    processor = Processor(parse_settings(SETTINGS))
    state = processor.new_partition(0)
    out = BatchOutput()
    feed(processor, state, 0, 1_000, out)
    processor.process(state, [event(10_000_000, Y2099)], [], T0, out)
    processor.close_windows(state, T0 + 60_000, out)  # idle: every open window closes, the 2099 one too
    assert any(r.window_start_ms >= Y2099 - 10_000 for r in out.reports)
    out = BatchOutput()
    feed(processor, state, 1_000, 2_000, out, now_ms=T0 + 70_000)
    assert dict(out.late) == {}
    assert sorted(r.window_start_ms for r in out.reports if r.n_predictions)[0] == T0 + 100_000

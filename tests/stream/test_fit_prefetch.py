"""Null fits made while a window fills (stream/fit_prefetch.py): the close finds them made, and the
results are those of a worker that made them in the close."""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import pytest
from driftline.detectors import DriftSuite, ReferenceProfile
from driftline.detectors.calibration import ladder_around
from driftline.detectors.settings import DriftSettings
from driftline.settings import parse_settings
from driftline.stream.fit_prefetch import FitPrefetch
from driftline.stream.processor import BatchOutput, Processor

T0 = 1_795_600_800_000
WINDOW_MS = 10_000
PER_WINDOW = 1000


def settings():
    return parse_settings({
        "models": [{"name": "credit", "features": {"income": "numeric", "age": "numeric", "country": "categorical"},
                    "reference": {"warmup_events": 400}, "window": {"size": "10s", "idle_close": "3s"}}]})


def prediction(i: int, ts: int, shift: float = 0.0) -> tuple:
    rng = np.random.default_rng(i)
    value = {"event_id": f"e{i}", "model": "credit", "version": "v1", "ts": ts, "prediction": 1,
             "features": {"income": float(rng.normal(shift)), "age": float(rng.lognormal()),
                          "country": ["DE", "FR", "IT"][i % 3]}}
    return (0, i, json.dumps(value).encode(), 0)


def stream() -> list[tuple]:
    """400 warm-up events in window 0, then two windows of 1,000 spread evenly over their 10 s."""
    events = [prediction(i, T0 + i) for i in range(400)]
    for w in (1, 2):
        events += [prediction(w * 10_000 + i, T0 + w * WINDOW_MS + i * WINDOW_MS // PER_WINDOW, shift=0.3 * (w - 1))
                   for i in range(PER_WINDOW)]
    return events


def run(processor: Processor, events: list[tuple], pause=None) -> BatchOutput:
    state = processor.last_state = processor.new_partition(0)
    out = BatchOutput()
    for start in range(0, len(events), 100):
        processor.process(state, events[start:start + 100], [], T0, out)
        if pause is not None:
            pause(state, start + 100)
    processor.close_windows(state, T0 + 3 * WINDOW_MS + 60_000, out)
    return out


def test_the_close_finds_its_fits_made_and_gives_the_same_results():
    events = stream()
    reference = Processor(settings())
    reference.fit_prefetch = None  # fits made in the close, as before
    made_in_close = run(reference, events)

    processor = Processor(settings())
    fits_before_close: list[int] = []

    def pause(state, done):
        processor.fit_prefetch.wait(timeout_s=120)  # as if the window took its time to fill
        if done == 400 + 2 * PER_WINDOW:
            fits_before_close.append(len(state.monitors[("credit", "v1")].reference.calibration))

    out = run(processor, events, pause)
    assert processor.fit_prefetch.asked >= 2 and processor.fit_prefetch.made > 0
    assert processor.fit_prefetch.failed == processor.fit_prefetch.dropped == 0
    assert [r.drift for r in out.reports] == [r.drift for r in made_in_close.reports]
    assert any(r.drifted for report in out.reports for r in report.drift)  # the shifted window is found
    # Every size the two windows' closes needed (each window and its two-window merge) was fitted ahead.
    assert fits_before_close == [len(processor_reference(out, processor))]


def processor_reference(out: BatchOutput, processor: Processor):
    return processor.last_state.monitors[("credit", "v1")].reference.calibration


def test_fits_are_asked_for_at_the_expected_size_and_none_is_left_for_the_close():
    processor = Processor(settings())
    events = stream()
    state = processor.new_partition(0)
    out = BatchOutput()
    # The warm-up window and the first 300 events of window 1 (three tenths of it in event time).
    processor.process(state, events[:700], [], T0, out)
    assert processor.fit_prefetch.wait(timeout_s=120)
    calibration = state.monitors[("credit", "v1")].reference.calibration
    sizes = {size for (_, _, size) in calibration.fits}
    assert sizes == {*ladder_around(1000), *ladder_around(2000)}  # 300 events in 30 % of the window: ~1,000
    held = len(calibration)
    processor.process(state, events[700:1400], [], T0, out)
    processor.close_windows(state, T0 + 2 * WINDOW_MS + 60_000, out)
    assert [r.n_predictions for r in out.reports if r.window_start_ms == T0 + WINDOW_MS] == [PER_WINDOW]
    assert len(calibration) == held  # the close made no fit of its own


def test_two_stage_workers_do_not_prefetch():
    raw = {"worker": {"aggregation": "two_stage"},
           "models": [{"name": "credit", "features": {"income": "numeric"}, "reference": {"path": "ref.csv"}}]}
    assert Processor(parse_settings(raw)).fit_prefetch is None
    assert Processor(settings()).fit_prefetch is not None


def suite() -> DriftSuite:
    ref = ReferenceProfile.from_columns({"x": "numeric"}, {"x": np.random.default_rng(0).normal(size=2000)})
    return DriftSuite(ref, DriftSettings())


def test_a_full_queue_drops_and_counts_and_the_thread_ends_when_idle():
    fetch = FitPrefetch(max_queued=1, idle_s=0.2)
    s = suite()
    answers = [fetch.ask(s, 100 + i) for i in range(20)]  # the thread takes one at a time
    assert answers[0] and not all(answers)
    assert fetch.dropped == answers.count(False) and fetch.asked == answers.count(True)
    assert fetch.wait(timeout_s=120)
    deadline = time.monotonic() + 10
    while fetch._thread is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fetch._thread is None  # ended after idle_s without a request
    assert fetch.ask(s, 5000) and fetch.wait(timeout_s=120)  # and starts again on the next
    assert fetch.made >= 1 and fetch.failed == 0


def test_a_failing_fit_is_counted_and_logged_never_raised(caplog):
    class Broken:
        reference = suite().reference

        def calibrate(self, sizes):
            raise RuntimeError("boom")

    fetch = FitPrefetch()
    with caplog.at_level(logging.WARNING, logger="driftline.stream.fit_prefetch"):
        assert fetch.ask(Broken(), 1000) and fetch.wait(timeout_s=30)
    assert fetch.failed == 1
    assert "null-fit prefetch for 1000 values failed" in caplog.text


@pytest.mark.parametrize("kwargs", [{"max_queued": 0}, {"idle_s": 0}, {"duty": 0}, {"duty": 1.5}])
def test_bad_parameters_name_themselves(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        FitPrefetch(**kwargs)


def test_the_thread_rests_as_long_as_it_fitted_at_half_duty():
    fetch = FitPrefetch(duty=0.5)
    rest = fetch._pacer()
    began = time.monotonic()
    time.sleep(0.2)  # a fit of 0.2 s
    rest()
    assert time.monotonic() - began >= 0.39  # then as long again
    fetch_all = FitPrefetch(duty=1.0)._pacer()
    began = time.monotonic()
    fetch_all()
    assert time.monotonic() - began < 0.05  # a full core: no rest

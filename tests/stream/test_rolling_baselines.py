"""Rolling baselines in the worker: each closed window is also compared with the previous k windows
and the same window last period; the results carry their baseline and survive a checkpoint."""

from __future__ import annotations

import json

from driftline.settings import parse_settings
from driftline.stream.monitor import ModelMonitor
from driftline.stream.processor import BatchOutput, Processor

T0 = 1_795_600_800_000
WINDOW_MS = 10_000


def settings():
    return parse_settings({"models": [{
        "name": "credit", "features": {"income": "numeric", "country": "categorical"},
        "reference": {"warmup_events": 200}, "window": {"size": "10s", "idle_close": "3s"},
        "drift": {"baselines": {"previous": 2, "period": 3}}}]})


def prediction(i: int, ts: int) -> tuple:
    value = {"event_id": f"e{i}", "model": "credit", "version": "v1", "ts": ts,
             "features": {"income": float((i * 7919) % 101), "country": ["DE", "FR", "IT"][i % 3]}, "prediction": 1}
    return (0, i, json.dumps(value).encode(), 0)


def test_windows_are_compared_with_their_rolling_baselines_and_the_history_is_checkpointed():
    processor = Processor(settings())
    state = processor.new_partition(0)
    out = BatchOutput()
    per_window = 300
    events = [prediction(i, T0 + (i // per_window) * WINDOW_MS + i % per_window) for i in range(7 * per_window)]
    processor.process(state, events, [], T0, out)
    processor.close_windows(state, T0 + 7 * WINDOW_MS + 60_000, out)
    baselines = [sorted({r.baseline for r in report.drift}) for report in sorted(out.reports,
                                                                                  key=lambda r: r.window_start_ms)]
    # The first window after the warm-up has no history; then previous_2; from the fourth, last_period_3 too.
    with_history = [b for b in baselines if b != ["reference"]]
    assert with_history[0] == ["previous_2", "reference"]
    assert ["last_period_3", "previous_2", "reference"] in baselines
    rolled = [r for report in out.reports for r in report.drift if r.baseline != "reference"]
    assert rolled and not any(r.drifted for r in rolled)  # the same distribution window after window
    assert {r.stored_test for r in rolled} >= {"wasserstein@previous_2", "chi2@last_period_3"}

    monitor = state.monitors[("credit", "v1")]
    saved = monitor.snapshot()
    assert [i for i, _ in saved["baselines"]["windows"]] == sorted(i for i, _ in saved["baselines"]["windows"])
    # A warm-up reference comes back from the checkpoint (passing it as the configured one would replace it).
    again = ModelMonitor.restore(json.loads(json.dumps(saved)), processor.settings.models[0])
    assert again.snapshot()["baselines"] == saved["baselines"]

"""The hot path without I/O: windows, drift verdicts, joins and checkpoint/restore determinism."""

import pytest
from driftline.settings import parse_settings
from driftline.stream.processor import BatchOutput, Processor

from tests.integration.traffic import START_MS, make_traffic

NOW_MS = START_MS  # processing time while the traffic is fed
IDLE_MS = NOW_MS + 3_600_000  # long after: every window closes on idle_close

CONFIG = {
    "models": [
        {"name": "credit", "task": "binary_classification",
         "features": {"income": "numeric", "age": "numeric", "country": "categorical"},
         "reference": {"warmup_events": 2000}, "window": {"size": "10s", "idle_close": "3s"}},
        {"name": "price", "task": "regression", "features": {"sqft": "numeric", "rooms": "numeric"},
         "reference": {"warmup_events": 2000}, "window": {"size": "10s", "idle_close": "3s"}},
    ],
}


def feed(processor, state, traffic, start, stop, out, now_ms=NOW_MS):
    preds = [(0, i, v, 0) for i, (_, v) in enumerate(traffic.predictions[start:stop], start)]
    fb = [(0, i, v, 0) for i, (_, v) in enumerate(traffic.feedback_late) if start <= i < stop]
    for lo in range(0, len(preds), 1000):
        processor.process(state, preds[lo:lo + 1000], fb[lo:lo + 1000], now_ms, out)
        processor.close_windows(state, now_ms, out)


def run_all(split=None):
    settings = parse_settings(CONFIG)
    processor = Processor(settings)
    traffic = make_traffic(n_per_model=6000)
    state = processor.new_partition(0)
    out = BatchOutput()
    n = len(traffic.predictions)
    if split is None:
        feed(processor, state, traffic, 0, n, out)
    else:
        feed(processor, state, traffic, 0, split, out)
        pending = state.join.pending_rows()  # what driftline.sinks.join_state reads back from the tables
        state = processor.restore_partition(state.snapshot(), lambda *args: pending)
        feed(processor, state, traffic, split, n, out)
    processor.close_windows(state, IDLE_MS, out)  # idle: close everything
    return traffic, out


def test_drift_is_found_after_the_shift_only():
    traffic, out = run_all()
    credit = [r for r in out.reports if r.model == "credit" and r.n_predictions]
    assert len(credit) == 6  # 60 s of event time in 10 s windows
    shift_s = traffic.shift_ms
    for report in credit:
        drifted = {r.feature for r in report.drift if r.drifted}
        if report.window_end_ms <= shift_s:
            assert drifted == set(), report.window_start_ms
        elif report.window_start_ms >= shift_s:
            # The score and the predicted class follow income: prediction drift comes with it.
            assert drifted == {"income", "prediction", "score"}, report.window_start_ms
    kinds = {a.kind for a in out.alerts if a.status == "firing"}
    assert "data_drift" in kinds
    assert all(a.model == "credit" for a in out.alerts if a.kind == "data_drift")


def test_performance_metrics_come_from_joined_labels():
    _, out = run_all()
    credit = [r for r in out.reports if r.model == "credit" and r.n_labels > 100]
    accuracy = [m.value for r in credit for m in r.metrics if m.name == "accuracy"]
    assert accuracy and all(0.8 < a < 0.97 for a in accuracy)
    price = [m.value for r in out.reports if r.model == "price" for m in r.metrics if m.name == "mae"]
    assert price and all(2000 < v < 6000 for v in price)


def test_restore_from_checkpoint_gives_identical_results():
    _, straight = run_all()
    _, resumed = run_all(split=5_003)  # a checkpoint mid-batch: batch boundaries differ too
    # Prediction-side and label-side windows close on different watermarks, so their
    # interleaving may differ; each window's content may not.
    key = lambda r: (r.model, r.version, r.window_start_ms, r.n_predictions > 0)  # noqa: E731
    straight.reports.sort(key=key)
    resumed.reports.sort(key=key)
    assert [r.drift for r in straight.reports] == [r.drift for r in resumed.reports]
    for a, b in zip(straight.reports, resumed.reports, strict=True):
        assert (a.window_start_ms, a.n_predictions, a.n_labels) == (b.window_start_ms, b.n_predictions, b.n_labels)
        # Sums over differently sized batches may differ in the last bit.
        assert [m.name for m in a.metrics] == [m.name for m in b.metrics]
        assert [m.value for m in a.metrics] == pytest.approx([m.value for m in b.metrics], rel=1e-12, nan_ok=True)
    assert sorted(a.alert_id for a in straight.alerts) == sorted(a.alert_id for a in resumed.alerts)


def test_checkpoint_leaves_the_join_to_the_tables():
    settings = parse_settings(CONFIG)
    processor = Processor(settings)
    state = processor.new_partition(0)
    traffic = make_traffic(n_per_model=3000)
    feed(processor, state, traffic, 0, 3000, BatchOutput())
    assert state.join.pending[0] > 300
    restored = processor.restore_partition(state.snapshot())
    assert restored.join.pending == (0, 0)  # nothing pending is in the checkpoint...
    assert len(state.snapshot()) < 200_000  # ...so the checkpoint stays small
    calls = []
    processor.restore_partition(state.snapshot(), lambda *args: calls.append(args) or ([], []))
    (partition, offsets, horizon, limit), = calls
    assert partition == 0 and offsets == state.offsets and limit == settings.worker.join_max_pending
    assert horizon == max(m.watermark_ms for m in state.monitors.values()) - settings.worker.join_max_delay_ms


def test_quality_multivariate_and_change_points_reach_the_window_reports():
    config = {"models": [{**CONFIG["models"][0],
                          "multivariate": {"type": "pca_reconstruction"},
                          "streaming": [{"feature": "income", "type": "adwin"}],
                          "quality": {"max_out_of_range_rate": 0.05}}]}
    processor = Processor(parse_settings(config))
    traffic = make_traffic(n_per_model=6000)
    state = processor.new_partition(0)
    out = BatchOutput()
    feed(processor, state, traffic, 0, len(traffic.predictions), out)
    processor.close_windows(state, IDLE_MS, out)
    windows = [r for r in out.reports if r.model == "credit" and r.n_predictions]
    before = [r for r in windows if r.window_end_ms <= traffic.shift_ms]
    after = [r for r in windows if r.window_start_ms >= traffic.shift_ms]

    def flagged(report, test):
        return [d.feature for d in report.drift if d.test == test and d.drifted]

    assert all(flagged(r, "pca_reconstruction") == [] for r in before)
    assert all(flagged(r, "pca_reconstruction") == ["multivariate"] for r in after)
    change_windows = [r.window_start_ms for r in windows if flagged(r, "adwin_stream")]
    assert change_windows and min(change_windows) >= traffic.shift_ms - 10_000
    names = {m.name for r in after for m in r.metrics}
    assert {"out_of_range_rate:income", "unseen_rate:country"} <= names
    oor = [m.value for r in after for m in r.metrics if m.name == "out_of_range_rate:income"]
    assert max(oor) > 0.05  # the shifted incomes leave the reference range


def test_events_for_a_closed_window_are_counted_as_late_per_model():
    import json

    processor = Processor(parse_settings({"models": [{"name": "m", "features": {"x": "numeric"},
                                                      "window": {"size": "10s"}}]}))
    state = processor.new_partition(0)

    def event(i, ts_ms):
        return (0, i, json.dumps({"event_id": f"e{i}", "model": "m", "version": "v", "ts": ts_ms,
                                  "features": {"x": 1.0}, "prediction": 1}).encode(), 0)

    out = BatchOutput()
    # The watermark follows the sixth-highest event time: six events pass [0, 10s).
    processor.process(state, [event(0, 1_000)] + [event(i, 25_000) for i in range(1, 7)], [], 0, out)
    processor.close_windows(state, 0, out)
    assert dict(out.late) == {}
    out = BatchOutput()
    processor.process(state, [event(7, 2_000), event(8, 3_000), event(9, 26_000)], [], 0, out)
    assert dict(out.late) == {"m": 2}

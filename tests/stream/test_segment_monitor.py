"""Segments through the hot path without I/O: per-group metrics equal scikit-learn's on the same rows,
fairness equals fairlearn's, a checkpoint in the middle changes nothing, and cardinality stays bounded."""

from __future__ import annotations

import json

import numpy as np
import pytest
from driftline.settings import parse_settings
from driftline.stream.processor import BatchOutput, Processor
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
)
from sklearn import metrics as sk

from tests.support.segment_traffic import LABEL_DELAY_MS, config, segment_traffic

START_MS = 1_700_000_000_000  # on a 10 s boundary
WINDOW_MS = 10_000
N = 8_000  # 40 s of event time per model: four windows of 2,000 predictions
STEP_MS = 5


def feed(processor, state, traffic, start, stop, out, now_ms):
    preds = [(0, i, v, 0) for i, (_, v) in enumerate(traffic.predictions[start:stop], start)]
    fb = [(0, i, v, 0) for i, (_, v) in enumerate(traffic.feedback[start:stop], start)]
    for lo in range(0, len(preds), 500):
        processor.process(state, preds[lo:lo + 500], fb[lo:lo + 500], now_ms, out)
        processor.close_windows(state, now_ms, out)


def run(raw, traffic, split=None):
    processor = Processor(parse_settings(raw))
    state = processor.new_partition(0)
    out = BatchOutput()
    n = len(traffic.predictions)
    now = START_MS
    if split is None:
        feed(processor, state, traffic, 0, n, out, now)
    else:
        feed(processor, state, traffic, 0, split, out, now)
        for monitor in state.monitors.values():
            json.dumps(monitor.snapshot(), allow_nan=False)  # strict JSON
        pending = state.join.pending_rows()
        state = processor.restore_partition(state.snapshot(), lambda *args, **kw: pending)
        feed(processor, state, traffic, split, n, out, now)
    processor.close_windows(state, now + 3_600_000, out)
    return out, state


@pytest.fixture(scope="module")
def straight():
    traffic = segment_traffic(N, START_MS, bias_at=N // 2, step_ms=STEP_MS)
    out, state = run(config(fairness_min_group=1), traffic)
    return traffic, out, state


def rows_of(traffic, model):
    r = traffic.rows[model]
    return {k: np.array(v, dtype=object if k in ("region", "channel", "customer") else float) for k, v in r.items()}


def metric(report, key, group, name):
    found = [m for m in report.segments if (m.key, m.group, m.name) == (key, group, name)]
    return found[0] if found else None


def test_binary_segment_metrics_equal_scikit_learn(straight):
    traffic, out, _ = straight
    r = rows_of(traffic, "loans")
    label_window = (r["ts"] + LABEL_DELAY_MS) // WINDOW_MS * WINDOW_MS
    checked = 0
    for report in (x for x in out.reports if x.model == "loans" and x.n_labels):
        for group in ("north", "south", "east", "west"):
            rows = (label_window == report.window_start_ms) & (r["region"] == group)
            t, p, s = r["y_true"][rows].astype(int), r["y_pred"][rows].astype(int), r["score"][rows]
            expected = {"labels": len(t), "accuracy": sk.accuracy_score(t, p), "precision": sk.precision_score(t, p),
                        "recall": sk.recall_score(t, p), "f1": sk.f1_score(t, p), "roc_auc": sk.roc_auc_score(t, s),
                        "log_loss": sk.log_loss(t, s), "brier": sk.brier_score_loss(t, s)}
            for name, value in expected.items():
                assert metric(report, "region", group, name).value == pytest.approx(value, abs=1e-9), (group, name)
            checked += 1
    assert checked == 4 * 5  # labels come 500 ms later: a fifth label window


def test_regression_segment_metrics_equal_scikit_learn(straight):
    traffic, out, _ = straight
    r = rows_of(traffic, "price")
    label_window = (r["ts"] + LABEL_DELAY_MS) // WINDOW_MS * WINDOW_MS
    for report in (x for x in out.reports if x.model == "price" and x.n_labels):
        for group in ("web", "app", "branch"):
            rows = (label_window == report.window_start_ms) & (r["channel"] == group)
            t, p = r["y_true"][rows], r["y_pred"][rows]
            for name, value in (("mae", sk.mean_absolute_error(t, p)), ("rmse", sk.mean_squared_error(t, p) ** 0.5),
                                ("r2", sk.r2_score(t, p)), ("mape", sk.mean_absolute_percentage_error(t, p))):
                assert metric(report, "channel", group, name).value == pytest.approx(value, abs=1e-9), (group, name)


def test_fairness_equals_fairlearn_on_the_same_rows(straight):
    traffic, out, _ = straight
    r = rows_of(traffic, "loans")
    windows = r["ts"] // WINDOW_MS * WINDOW_MS
    label_windows = (r["ts"] + LABEL_DELAY_MS) // WINDOW_MS * WINDOW_MS
    for report in (x for x in out.reports if x.model == "loans"):
        got = {f.measure: f for f in report.fairness if f.key == "region"}
        if report.n_predictions:
            rows = windows == report.window_start_ms
            p, g = r["y_pred"][rows].astype(int), r["region"][rows]
            assert got["demographic_parity_ratio"].value == pytest.approx(
                demographic_parity_ratio(p, p, sensitive_features=g), abs=1e-9)
        else:
            rows = label_windows == report.window_start_ms
            t, p, g = r["y_true"][rows].astype(int), r["y_pred"][rows].astype(int), r["region"][rows]
            assert got["equalized_odds_difference"].value == pytest.approx(
                equalized_odds_difference(t, p, sensitive_features=g), abs=1e-9)
            assert got["equal_opportunity_difference"].value == pytest.approx(
                equal_opportunity_difference(t, p, sensitive_features=g), abs=1e-9)
    price = rows_of(traffic, "price")
    for report in (x for x in out.reports if x.model == "price" and x.n_labels):
        rows = (price["ts"] + LABEL_DELAY_MS) // WINDOW_MS * WINDOW_MS == report.window_start_ms
        frame = MetricFrame(metrics=sk.mean_absolute_error, y_true=price["y_true"][rows], y_pred=price["y_pred"][rows],
                            sensitive_features=price["region"][rows])
        (ratio,) = [f for f in report.fairness if f.measure == "mae_ratio"]
        assert ratio.value == pytest.approx(1 / frame.ratio(), abs=1e-9)
        assert (ratio.worst, ratio.flagged) == ("south", True)  # errs twice as much there


def test_the_bias_is_flagged_after_its_onset_only(straight):
    _, out, _ = straight
    verdicts = {r.window_start_ms: f.flagged for r in out.reports if r.model == "loans" and r.n_predictions
                for f in r.fairness if f.measure == "demographic_parity_ratio"}
    onset = START_MS + N // 2 * STEP_MS
    assert [flag for start, flag in sorted(verdicts.items())] == [start >= onset for start in sorted(verdicts)]
    flagged = [f for r in out.reports for f in r.fairness if f.flagged and f.measure == "demographic_parity_ratio"]
    assert {f.worst for f in flagged} == {"south"}


def test_volume_coverage_selection_and_combinations(straight):
    traffic, out, _ = straight
    r = rows_of(traffic, "loans")
    windows = r["ts"] // WINDOW_MS * WINDOW_MS
    report = next(x for x in out.reports if x.model == "loans" and x.n_predictions)
    rows = (windows == report.window_start_ms) & (r["region"] == "east") & (r["channel"] == "web")
    m = metric(report, "region+channel", "east+web", "predictions")
    assert m.value == rows.sum()
    assert metric(report, "region+channel", "east+web", "selection_rate").value == pytest.approx(r["y_pred"][rows].mean())
    labels = next(x for x in out.reports if x.model == "loans" and x.n_labels and x.window_start_ms > START_MS)
    assert 0.9 <= metric(labels, "region", "north", "label_coverage").value <= 1.1


def test_a_checkpoint_in_the_middle_changes_nothing(straight):
    traffic, out, _ = straight
    again, _ = run(config(fairness_min_group=1), traffic, split=1_500)  # on a batch boundary: same float sums
    assert [repr(r) for r in again.reports] == [repr(r) for r in out.reports]


def test_ten_thousand_distinct_values_fold_into_other_and_memory_stays_bounded():
    sizes = {}
    for customers in (1_000, 10_000):
        traffic = segment_traffic(6_000, START_MS, customers=customers, hot=20, models=("loans",))
        out, state = run(config(customer_values=50), traffic)
        monitor = state.monitors[("loans", "v1")]
        vocab = monitor.segments.vocab["customer"]
        assert len(vocab.values) == 50
        # The 20 frequent customers won their groups, whatever came first.
        assert {f"h{i}" for i in range(20)} <= set(vocab.values)
        reports = [x for x in out.reports if x.model == "loans" and x.n_predictions]
        folded = sum(m.value for x in reports for m in x.segments
                     if (m.key, m.group, m.name) == ("customer", "__other__", "predictions"))
        tracked = sum(m.value for x in reports for m in x.segments
                      if m.key == "customer" and m.group != "__other__" and m.name == "predictions")
        assert folded + tracked == 6_000 and folded > 2_000
        assert all(len({m.group for m in x.segments if m.key == "customer"}) <= 51 for x in reports)
        sizes[customers] = len(json.dumps(state.monitors[("loans", "v1")].snapshot()))
    # Ten times the distinct values, about the same state.
    assert sizes[10_000] < 1.2 * sizes[1_000]


@pytest.mark.parametrize("reference", ["global", "segment"])
def test_drift_of_a_chosen_feature_is_found_in_the_shifted_segment_only(reference):
    raw = config()
    for m in raw["models"]:
        m["segments"]["drift"] = {"features": ["income"], "reference": reference, "reference_events": 300}
    traffic = segment_traffic(N, START_MS, shift_at=N // 2, step_ms=STEP_MS, models=("loans",))
    out, _ = run(raw, traffic)
    onset = START_MS + N // 2 * STEP_MS
    drifted = {(r.window_start_ms >= onset, m.group) for r in out.reports if r.n_predictions
               for m in r.segments if m.key == "region" and m.name.startswith("drifted:income:") and m.value}
    assert drifted == {(True, "south")}
    tested = {m.group for r in out.reports for m in r.segments
              if m.key == "region" and m.name.startswith("drift:income:")}
    assert tested == {"north", "south", "east", "west"}
    again, _ = run(raw, traffic, split=4_000)
    assert [repr(r) for r in again.reports] == [repr(r) for r in out.reports]

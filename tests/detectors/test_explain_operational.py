from __future__ import annotations

import pytest
from driftline.detectors import (
    DriftResult,
    MetricValue,
    WindowReport,
    label_coverage,
    rank_drifted,
    throughput,
)


def results():
    return [
        DriftResult("age", "psi", 0.5, 0.2, True),
        DriftResult("age", "ks", 0.2, 0.05, True, p_value=1e-6),
        DriftResult("income", "psi", 0.25, 0.2, True, importance=3.0),
        DriftResult("country", "chi2", 5.0, 0.01, False, p_value=0.3),
    ]


def test_rank_by_severity_one_entry_per_feature():
    ranked = rank_drifted(results())
    assert [r.feature for r in ranked] == ["age", "income"]
    assert ranked[0].worst.test == "ks" and ranked[0].exceedance == pytest.approx(0.05 / 1e-6)
    assert ranked[1].score == pytest.approx(1.25 * 3.0)  # the result's own importance


def test_rank_with_importances():
    ranked = rank_drifted(results()[:1] + results()[2:], importances={"age": 0.1, "income": 0.9})
    assert [(r.feature, round(r.score, 4)) for r in ranked] == [("income", 1.125), ("age", 0.25)]


def test_ranking_agrees_with_window_report_order():
    report = WindowReport("m", "v1", 0, 60_000, 10, 5, drift=tuple(results()))
    assert [r.feature for r in report.drifted_features][:1] == [rank_drifted(results())[0].feature]


def test_throughput_and_coverage():
    assert throughput(300, 1_000, 61_000).value == 5.0
    # Bit for bit what the worker's window close computes (n / seconds), so it can call this.
    assert throughput(7, 0, 3_000).value == 7 / ((3_000 - 0) / 1000)
    assert label_coverage(0, 0).value == 0.0
    assert label_coverage(40, 30) == MetricValue("label_coverage", 0.75, 40)
    # More labels than predictions in a window (labels are filed by their own time): capped.
    assert label_coverage(10, 12) == MetricValue("label_coverage", 1.0, 10)
    with pytest.raises(ValueError, match="^n_predictions"):
        label_coverage(-1, 0)
    with pytest.raises(ValueError, match="^window_end_ms"):
        throughput(1, 10, 10)

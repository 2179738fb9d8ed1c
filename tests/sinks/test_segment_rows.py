"""Segment and fairness rows on chdb, through migration 0005: written from a report, replaced on replay,
read back by the status and governance queries; what Prometheus exports of them has bounded labels."""

from __future__ import annotations

from driftline.detectors import FairnessResult, GroupValue, SegmentMetric, WindowReport
from driftline.sinks.metrics import WorkerMetrics
from driftline.sinks.migrations import migrate
from driftline.sinks.queries import fairness_history, fairness_summary, segment_points_since
from driftline.sinks.writer import EventWriter
from driftline.stream.wiring import build_store
from prometheus_client import CollectorRegistry

WINDOW_S = 1_700_000_000


def report(start_s: int, ratio: float, flagged: bool) -> WindowReport:
    groups = (GroupValue("north", 0.5, 400, 0.45, 0.55), GroupValue("south", 0.5 * ratio, 300, 0.2, 0.35))
    fairness = (FairnessResult("region", "demographic_parity_ratio", ratio, 0.8, flagged, "south", "north",
                               0.5 * ratio, 0.5, 300, 400, 0.001 if flagged else 0.9, groups),)
    segments = (SegmentMetric("region", "north", "predictions", 400.0, 400),
                SegmentMetric("region", "south", "predictions", 300.0, 300),
                SegmentMetric("region", "south", "selection_rate", 0.5 * ratio, 300),
                SegmentMetric("customer", "__other__", "predictions", 120.0, 120))
    return WindowReport("loans", "v1", start_s * 1000, (start_s + 60) * 1000, 700, 0,
                        segments=segments, fairness=fairness)


def test_rows_are_replaced_on_replay_and_read_back(tmp_path):
    store = build_store(f"chdb://{tmp_path}/store")
    try:
        migrate(store)
        writer = EventWriter(store, clock=lambda: float(WINDOW_S + 500))
        for _ in range(2):  # a replayed window writes its rows again
            writer.add_report(report(WINDOW_S, 1.0, False), partition=0)
            writer.add_report(report(WINDOW_S + 60, 0.6, True), partition=0)
            writer.flush()
        assert store.execute("SELECT count() FROM segment_metrics FINAL") == [(8,)]
        assert store.execute("SELECT count() FROM fairness_results FINAL") == [(2,)]
        points = segment_points_since(store, "loans", ["selection_rate", "predictions"], WINDOW_S, 100)
        assert [(p.key, p.group, p.metric, p.value) for p in points if p.window_start_s == WINDOW_S + 60] == [
            ("customer", "__other__", "predictions", 120.0), ("region", "north", "predictions", 400.0),
            ("region", "south", "predictions", 300.0), ("region", "south", "selection_rate", 0.3)]
        history = fairness_history(store, "loans", WINDOW_S, WINDOW_S + 3600, 10)
        assert [(r.window_start_s, r.flagged, r.worst_group) for r in history] == [
            (WINDOW_S, False, "south"), (WINDOW_S + 60, True, "south")]
        assert history[1].groups[1] == {"group": "south", "value": 0.3, "n": 300, "low": 0.2, "high": 0.35}
        (summary,) = fairness_summary(store, "loans", WINDOW_S, WINDOW_S + 3600, 10)
        assert (summary.windows, summary.flagged_windows, summary.min_value) == (2, 1, 0.6)
    finally:
        store.close()


def test_prometheus_exports_fairness_by_key_and_measure_and_counts_folded_values():
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    metrics.observe_report(report(WINDOW_S, 0.6, True), 1.0)
    metrics.observe_report(report(WINDOW_S + 60, 0.6, True), 1.0)
    labels = {"model": "loans", "version": "v1", "key": "region", "measure": "demographic_parity_ratio"}
    assert registry.get_sample_value("driftline_fairness_measure", labels) == 0.6
    assert registry.get_sample_value("driftline_fairness_flagged", labels) == 1.0
    assert registry.get_sample_value("driftline_segment_values_folded_total",
                                     {"model": "loans", "key": "customer"}) == 240.0
    assert registry.get_sample_value("driftline_segment_groups", {"model": "loans", "key": "region"}) == 2.0
    # No series is labelled by a group value.
    assert not any("south" in str(s.labels) for m in registry.collect() for s in m.samples)

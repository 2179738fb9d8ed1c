"""The status page's segment view: groups worst first, a series per metric, the latest fairness results."""

from __future__ import annotations

from driftline.detectors import FairnessResult, GroupValue, SegmentMetric, WindowReport
from driftline.settings import parse_settings
from driftline.sinks.migrations import migrate
from driftline.sinks.writer import EventWriter
from driftline.status.api import StatusApi
from driftline.stream.wiring import build_store

W = 1_700_000_000 // 60 * 60
SETTINGS = parse_settings({"models": [
    {"name": "loans", "task": "binary_classification", "features": {"x": "numeric"},
     "segments": {"keys": ["region"]}, "fairness": {"keys": ["region"]}},
    {"name": "plain", "features": {"x": "numeric"}},
]})
ACCURACY = {"north": 0.9, "south": 0.6, "east": 0.8}


def reports(i: int) -> list[WindowReport]:
    start = (W + 60 * i) * 1000
    predictions = tuple(SegmentMetric("region", g, "predictions", 100.0 + i, 100 + i) for g in ACCURACY)
    labels = tuple(SegmentMetric("region", g, "accuracy", a - 0.01 * i, 90) for g, a in ACCURACY.items())
    flagged = i == 2
    fairness = (FairnessResult("region", "demographic_parity_ratio", 0.6 if flagged else 0.95, 0.8, flagged, "south",
                               "north", 0.3, 0.5, 100, 100, 0.01, (GroupValue("south", 0.3, 100, 0.2, 0.4),)),)
    return [WindowReport("loans", "v1", start, start + 60_000, 300, 0, segments=predictions, fairness=fairness),
            WindowReport("loans", "v1", start, start + 60_000, 0, 270, segments=labels)]


def test_groups_worst_first_with_a_series_per_metric(tmp_path):
    store = build_store(f"chdb://{tmp_path}/store")
    try:
        migrate(store)
        writer = EventWriter(store, clock=lambda: float(W + 1000))
        for i in range(3):
            for r in reports(i):
                writer.add_report(r, partition=0)
        writer.flush()
        api = StatusApi(store, SETTINGS, clock=lambda: float(W + 600))
        view = api.segments("loans", 2, 3600)
        assert view["metrics"] == ["accuracy", "selection_rate", "label_coverage", "predictions"]
        assert view["windows"] == [(W + 60) * 1000, (W + 120) * 1000]  # the latest two
        (key,) = view["keys"]
        assert key["key"] == "region" and [g["group"] for g in key["groups"]] == ["south", "east", "north"]
        south = key["groups"][0]
        assert south["series"]["accuracy"] == [0.59, 0.58] and south["series"]["predictions"] == [101.0, 102.0]
        assert south["series"]["selection_rate"] == [None, None]
        (fair,) = view["fairness"]
        assert (fair["measure"], fair["flagged"], fair["worst"], fair["window_start_ms"]) == (
            "demographic_parity_ratio", True, "south", (W + 120) * 1000)
        assert api.segments("plain", 30, 3600) == {"model": "plain", "metrics": [], "keys": [], "fairness": []}
    finally:
        store.close()

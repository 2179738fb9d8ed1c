"""The status page's JSON bodies (driftline.status.api) on the sample rows, in chdb."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import pytest
from driftline.settings import parse_settings
from driftline.status.api import MAX_RANGE_S, StatusApi, drift_score

from tests.integration.samples import base_time
from tests.support.stores import SAMPLE_NOW, sample_start_s, sample_store

S = sample_start_s()
H = 3600
WEEK = 7 * 24 * H  # the samples' whole history: three days before SAMPLE_NOW
SETTINGS = parse_settings({"models": [
    {"name": "credit", "task": "binary_classification", "window": {"size": "1h"},
     "features": {"income": "numeric", "age": "numeric", "country": "categorical", "tenure": "numeric"}},
    {"name": "price", "task": "regression", "features": {"sqft": "numeric"}},
]})


def _price_alerts(start: datetime) -> dict[str, list]:
    """Two alerts of a model with no windows: one with a v1 payload, one whose payload is not JSON."""
    payload = json.dumps({"features": ["sqft"], "evidence": {"sqft": {"psi": 0.4}}, "reason": "drift", "rule": "r1"})
    rows = [("p-1", "firing", payload, 10), ("p-2", "resolved", "not json", 11)]
    return {
        "alert_id": [a for a, *_ in rows], "dedup_key": ["price/v1/data_drift"] * 2, "status": [s for _, s, *_ in rows],
        "kind": ["data_drift"] * 2, "severity": ["warning"] * 2, "action": ["notify"] * 2, "model": ["price"] * 2,
        "version": ["v1"] * 2, "feature": ["sqft"] * 2, "features": ['["sqft"]'] * 2,
        "window_start": [start + timedelta(hours=h) for *_, h in rows],
        "window_end": [start + timedelta(hours=h, minutes=1) for *_, h in rows],
        "summary": [f"price {s}" for _, s, *_ in rows], "payload": [p for _, _, p, _ in rows],
        "ts": [start + timedelta(hours=h, minutes=2) for *_, h in rows],
    }


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with sample_store(tmp_path_factory.mktemp("status")) as store:
        store.insert("alerts", _price_alerts(base_time(SAMPLE_NOW)))
        yield StatusApi(store, SETTINGS, clock=SAMPLE_NOW.timestamp)


def test_drift_score_scales_both_kinds_of_test_to_their_threshold():
    assert drift_score(0.3, None, 0.1) == pytest.approx(3.0)
    assert drift_score(0.0, 0.001, 0.001) == pytest.approx(1.0)
    assert drift_score(1.0, float("nan"), 0.01) is None
    assert drift_score(float("nan"), None, 0.1) is None
    assert drift_score(0.5, None, 0.0) is None


def test_models_merge_the_config_with_the_store(api):
    credit, price = api.models(WEEK)
    assert (credit["name"], credit["task"], credit["window_ms"], credit["state"]) == (
        "credit", "binary_classification", 3_600_000, "alerting")
    v1, v2 = credit["versions"]
    assert v1 == {"version": "v1", "state": "ok", "last_window_end": (S + 69 * H + 60) * 1000,
                  "predictions": 8400, "labels": 6300, "drifted_features": [], "firing": []}
    assert v2["state"] == "alerting" and v2["drifted_features"] == ["income"]
    assert v2["firing"] == [
        {"dedup_key": "credit/v2/concept_drift", "kind": "concept_drift", "severity": "critical",
         "summary": "credit v2 concept_drift firing"},
        {"dedup_key": "credit/v2/performance", "kind": "performance", "severity": "critical",
         "summary": "credit v2 performance firing"},
    ]
    # A configured model with nothing stored is listed, ok; its alerts alone give it no versions.
    assert price == {"name": "price", "task": "regression", "window_ms": 60_000, "features": {"sqft": "numeric"},
                     "reference": {"source": "warmup", "warmup_events": 5000}, "state": "ok", "versions": []}


def test_models_show_the_reference_each_version_uses_on_this_worker(api):
    from driftline.stream.reference_watch import ReferenceInUse

    used = [ReferenceInUse("credit", "v2", 3, "profile", "0123456789ab", "warm-up reference (sha256 ba9876543210)"),
            ReferenceInUse("credit", "v1", 0, "warmup", ""), ReferenceInUse("credit", "v9", 0, "warmup", "")]
    shown = StatusApi(api.store, SETTINGS, clock=SAMPLE_NOW.timestamp, references=lambda: used)
    v1, v2 = shown.models(WEEK)[0]["versions"]
    assert v1["references"] == [{"partition": 0, "source": "warmup", "digest": "", "replaced": None}]
    assert v2["references"] == [{"partition": 3, "source": "profile", "digest": "0123456789ab",
                                 "replaced": "warm-up reference (sha256 ba9876543210)"}]


def test_drift_heatmap(api):
    heat = api.drift("credit", None, 3, WEEK)
    assert (heat["model"], heat["version"], heat["versions"]) == ("credit", "v1", ["v1", "v2"])
    assert heat["windows"] == [(S + h * H) * 1000 for h in (67, 68, 69)]
    # Configured features first (tenure has no results: empty cells), in config order.
    assert [(f["name"], f["kind"]) for f in heat["features"]] == [
        ("income", "numeric"), ("age", "numeric"), ("country", "categorical"), ("tenure", "numeric")]
    assert heat["features"][3]["cells"] == [None, None, None]
    cell = heat["features"][0]["cells"][-1]
    assert cell == {"test": "ks", "statistic": 0.02, "p_value": 0.5, "threshold": 0.1, "drifted": False,
                    "score": pytest.approx(math.log(0.5) / math.log(0.1))}
    v2 = api.drift("credit", "v2", 500, WEEK)
    assert len(v2["windows"]) == 70
    income = next(f for f in v2["features"] if f["name"] == "income")["cells"]
    assert [c["drifted"] for c in income] == [False] * 41 + [True] * 29
    assert income[-1]["score"] == pytest.approx(3.0)
    assert api.drift("credit", "v2", 0, WEEK)["windows"] == [(S + 69 * H) * 1000]  # at least one window


def test_drift_of_unknown_or_empty_models(api):
    assert api.drift("price", None, 30, WEEK) == {"model": "price", "version": "v1", "versions": [], "windows": [],
                                            "features": [{"name": "sqft", "kind": "numeric", "cells": []}]}
    assert api.drift("nope", "v9", 3, WEEK) == {"model": "nope", "version": "v9", "versions": [], "windows": [],
                                          "features": []}


def test_performance_series_per_version(api):
    perf = api.performance("credit", 60, WEEK)
    assert perf["metrics"] == ["accuracy", "f1", "roc_auc", "label_coverage", "estimated_accuracy"]
    assert perf["windows"] == [(S + h * H) * 1000 for h in range(10, 70)]
    v1, v2 = perf["series"]["v1"], perf["series"]["v2"]
    assert v1["accuracy"] == [0.9] * 60 and v1["roc_auc"] == [None] * 60 and v1["label_coverage"] == [0.75] * 60
    assert v1["estimated_accuracy"] == [None] * 60  # the samples carry no estimate
    assert v2["accuracy"] == pytest.approx([0.7 + 0.001 * h for h in range(10, 70)])
    assert api.performance("price", 60, WEEK) == {"model": "price", "task": "regression",
                                            "metrics": ["mae", "rmse", "label_coverage", "estimated_mae"],
                                            "windows": [], "series": {}}


def test_the_estimate_before_labels_is_served_beside_the_realized_metric(api):
    # A model whose windows have only the CBPE estimate (no label yet): the series has it, the
    # realized metric is empty. (Its own model name: the module's store is shared, one chdb per process.)
    settings = parse_settings({"models": [{"name": "loan", "task": "binary_classification", "window": {"size": "1h"},
                                           "features": {"x": "numeric"}}]})
    start = base_time(SAMPLE_NOW)
    rows = [{"model": "loan", "version": "v1", "window_start": start + timedelta(hours=h),
             "window_end": start + timedelta(hours=h + 1), "metric": metric, "value": value, "n": 1000}
            for h in range(3) for metric, value in (("estimated_accuracy", 0.9 - 0.1 * h), ("predictions", 1000.0))]
    api.store.insert("window_metrics", {k: [r[k] for r in rows] for k in rows[0]})
    perf = StatusApi(api.store, settings, clock=SAMPLE_NOW.timestamp).performance("loan", 10, WEEK)
    v1 = perf["series"]["v1"]
    assert v1["estimated_accuracy"][-3:] == pytest.approx([0.9, 0.8, 0.7])
    assert v1["accuracy"] == [None] * len(perf["windows"])


def test_latency_series(api):
    latency = api.latency("credit", 2, WEEK)
    assert latency == {
        "model": "credit", "metrics": ["latency_p50_ms", "latency_p95_ms", "latency_p99_ms"],
        "windows": [(S + 68 * H) * 1000, (S + 69 * H) * 1000],
        "series": {v: {"latency_p50_ms": [12.0, 12.0], "latency_p95_ms": [40.0, 40.0], "latency_p99_ms": [80.0, 80.0]}
                   for v in ("v1", "v2")},
    }


def test_alerts_newest_first_with_their_evidence(api):
    alerts = api.alerts(50, range_s=WEEK)
    assert [a["alert_id"] for a in alerts] == ["alert-3", "alert-2", "alert-1", "alert-0", "p-2", "p-1"]
    assert alerts[0] == {
        "alert_id": "alert-3", "ts_ms": (S + 65 * H + 120) * 1000, "status": "firing", "kind": "concept_drift",
        "severity": "critical", "action": "retrain", "model": "credit", "version": "v2",
        "summary": "credit v2 concept_drift firing", "window_start_ms": (S + 65 * H) * 1000,
        "window_end_ms": (S + 65 * H + 60) * 1000, "features": [], "evidence": {}, "reason": None, "rule": None,
    }
    bad, good = api.alerts(5, "price", WEEK)
    assert (good["features"], good["evidence"], good["reason"], good["rule"]) == (
        ["sqft"], {"sqft": {"psi": 0.4}}, "drift", "r1")
    assert (bad["features"], bad["evidence"], bad["reason"]) == ([], {}, None)  # a payload that is not JSON
    assert [a["alert_id"] for a in api.alerts(0, range_s=WEEK)] == ["alert-3"]  # at least one


def test_every_body_covers_the_last_24_hours_by_default(api):
    # SAMPLE_NOW - 24 h is 48.5 h into the samples: windows from hour 49 (rollup hours from hour 48).
    credit, _ = api.models()
    v1, v2 = credit["versions"]
    assert (v1["predictions"], v1["labels"], v1["last_window_end"]) == (22 * 120, 22 * 90, (S + 69 * H + 60) * 1000)
    assert v2["state"] == "alerting" and [a["kind"] for a in v2["firing"]] == ["concept_drift", "performance"]
    assert api.drift("credit", "v2", 500)["windows"] == [(S + h * H) * 1000 for h in range(49, 70)]
    assert api.performance("credit", 60)["windows"] == [(S + h * H) * 1000 for h in range(49, 70)]
    assert [a["alert_id"] for a in api.alerts(50)] == ["alert-3", "alert-2", "alert-1"]  # not the older ones


def test_a_short_range_finds_nothing_older_and_a_long_one_is_capped(api):
    hour = api.models(3600)
    assert [m["versions"] for m in hour] == [[], []]
    assert api.drift("credit", "v2", 30, 3600)["windows"] == [] and api.alerts(50, range_s=3600) == []
    assert api.since_s(10 ** 9) == int(SAMPLE_NOW.timestamp()) - MAX_RANGE_S
    assert api.since_s(0) == int(SAMPLE_NOW.timestamp()) - 1
    assert api.models(10 ** 9) == api.models(WEEK)


def test_experiments_side_by_side_with_the_interval_per_window_and_the_lifecycle(api):
    body = api.experiments("credit", 500, WEEK)
    (e,) = body["experiments"]
    assert (e["experiment"], e["champion"], e["challenger"], e["metric"]) == ("credit-canary", "v1", "v2", "accuracy")
    assert (e["verdict"], e["action"], e["reason"]) == ("rollback", "rollback", "accuracy: the challenger is worse")
    assert e["decided_window_start_ms"] == (S + 30 * H) * 1000
    assert (e["champion_value"], e["challenger_value"], e["n_challenger"]) == (0.9, 0.7, 7000)
    assert len(e["windows"]) == 70 and e["series"]["estimate"][:2] == [None, None]
    widths = [u - lo for lo, u in zip(e["series"]["lower"][2:], e["series"]["upper"][2:], strict=True)]
    assert widths == sorted(widths, reverse=True)  # narrowing
    assert api.experiments("credit", 10, WEEK)["experiments"][0]["windows"][0] == (S + 60 * H) * 1000
    states = {v["version"]: (v["state"], v["changed_by"]) for v in body["versions"]}
    assert states == {"v1": ("active", "driftline"), "v2": ("deactivated", "cli:ops")}
    assert api.experiments("price", 60, WEEK) == {"model": "price", "experiments": [], "versions": []}

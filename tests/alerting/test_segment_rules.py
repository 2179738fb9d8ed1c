"""The alert kinds segment_performance and fairness through the rule engine."""

from __future__ import annotations

from driftline.alerting import AlertEngine, build_rules
from driftline.detectors import FairnessResult, GroupValue, MetricValue, SegmentMetric, WindowReport
from driftline.settings import FairnessWhen, RuleSettings, SegmentMetricWhen

MIN = 60_000


def fairness(ratio: float, flagged: bool, measure: str = "demographic_parity_ratio") -> FairnessResult:
    groups = (GroupValue("F", 0.5 * ratio, 410, 0.25, 0.35), GroupValue("M", 0.5, 395, 0.45, 0.55))
    return FairnessResult("sex", measure, ratio, 0.8, flagged, "F", "M", 0.5 * ratio, 0.5, 410, 395,
                          0.0004 if flagged else 0.6, groups)


def window(i: int, *results: FairnessResult, labels: bool = False) -> WindowReport:
    return WindowReport("credit", "v1", i * MIN, (i + 1) * MIN, 0 if labels else 805, 805 if labels else 0,
                        fairness=results)


def test_a_flagged_measure_fires_naming_the_groups_and_the_gap_then_resolves():
    engine = AlertEngine(build_rules([RuleSettings("fair", "fairness", "warning", "notify", FairnessWhen())]))
    assert engine.evaluate(window(0, fairness(1.0, False)), now_ms=MIN) == []
    (alert,) = engine.evaluate(window(1, fairness(0.6, True)), now_ms=2 * MIN)
    assert (alert.status, alert.kind, alert.dedup_key) == ("firing", "fairness", "credit/v1/fairness/sex/selection")
    assert alert.summary == ("Fairness on credit/v1, sex: demographic_parity_ratio=0.6 < 0.8: group F 0.3 (n=410)"
                             " vs M 0.5 (n=395), p=0.0004")
    assert alert.features[0].name == "sex=F"
    (measure,) = alert.to_dict()["evidence"]["measures"]
    assert (measure["worst_group"], measure["best_group"], measure["worst_n"]) == ("F", "M", 410)
    assert [g["group"] for g in measure["groups"]] == ["F", "M"]
    # A label-side window says nothing about selection: the alert neither advances nor resolves.
    assert engine.evaluate(window(2, fairness(0.05, False, "equal_opportunity_difference"), labels=True),
                           now_ms=3 * MIN) == []
    (resolved,) = engine.evaluate(window(3, fairness(0.95, False)), now_ms=4 * MIN)
    assert resolved.status == "resolved"


def test_measures_and_keys_narrow_the_rule():
    only_odds = build_rules([RuleSettings("f", "fairness", "warning", "notify",
                                          FairnessWhen(("equalized_odds_difference",)))])
    assert AlertEngine(only_odds).evaluate(window(0, fairness(0.5, True)), now_ms=MIN) == []
    other_key = build_rules([RuleSettings("f", "fairness", "warning", "notify", FairnessWhen(), features=("age",))])
    assert AlertEngine(other_key).evaluate(window(0, fairness(0.5, True)), now_ms=MIN) == []


def segment_report(i: int, de: float, fr: float, n_fr: int = 400) -> WindowReport:
    return WindowReport("credit", "v1", i * MIN, (i + 1) * MIN, 0, 800, metrics=(MetricValue("accuracy", 0.85, 800),),
                        segments=(SegmentMetric("country", "DE", "accuracy", de, 400),
                                  SegmentMetric("country", "FR", "accuracy", fr, n_fr),
                                  SegmentMetric("country", "__other__", "accuracy", 0.1, 500)))


def test_segment_performance_pages_per_group_never_for_small_groups_or_other():
    rules = build_rules([RuleSettings("seg", "segment_performance", "critical", "notify",
                                      SegmentMetricWhen("accuracy", "<", 0.7, min_n=100))])
    engine = AlertEngine(rules)
    (alert,) = engine.evaluate(segment_report(0, 0.9, 0.6), now_ms=MIN)
    assert alert.dedup_key == "credit/v1/segment_performance/country=FR"
    assert alert.summary == "Segment performance on credit/v1: country=FR accuracy=0.6 < 0.7 (n=400, 0.85 overall)"
    assert alert.to_dict()["evidence"]["segment_group"] == "FR"
    # 20 rows are too few to page; the firing alert is not resolved by a window without data either.
    assert engine.evaluate(segment_report(1, 0.9, 0.1, n_fr=20), now_ms=2 * MIN) == []
    (resolved,) = engine.evaluate(segment_report(2, 0.9, 0.8), now_ms=3 * MIN)
    assert resolved.status == "resolved"

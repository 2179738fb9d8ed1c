"""A ``performance`` rule on a CBPE estimate (``estimated_*``): its own alert, saying it is an estimate."""

from driftline.alerting import AlertEngine, build_rules
from driftline.detectors.results import MetricValue, WindowReport
from driftline.settings import MetricWhen, RuleSettings


def test_an_estimated_drop_fires_its_own_performance_alert_saying_it_is_an_estimate():
    engine = AlertEngine(build_rules([RuleSettings("est", "performance", "warning", "notify",
                                                   MetricWhen("estimated_accuracy", "<", 0.8))]))
    metrics = (MetricValue("estimated_accuracy", 0.7, 500), MetricValue("estimated_accuracy_lower", 0.64, 500),
               MetricValue("estimated_accuracy_upper", 0.76, 500))
    report = WindowReport("m", "v1", 0, 60_000, 500, 0, (), metrics)
    (alert,) = engine.evaluate(report, now_ms=61_000)
    assert (alert.status, alert.kind, alert.dedup_key) == ("firing", "performance", "m/v1/performance/estimated")
    assert "estimated before labels, CBPE, band 0.64..0.76" in alert.summary
    assert (alert.evidence["estimate"], alert.evidence["method"]) == (True, "cbpe")
    assert (alert.evidence["lower"], alert.evidence["upper"], alert.evidence["n_labels"]) == (0.64, 0.76, 0)

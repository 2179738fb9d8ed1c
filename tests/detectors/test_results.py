from driftline.detectors import DriftResult, WindowReport


def report(*results):
    return WindowReport("m", "v1", 0, 60_000, 100, 0, tuple(results))


def test_drifted_features_worst_first_by_severity():
    r = report(DriftResult("a", "psi", 0.3, 0.2, True), DriftResult("b", "psi", 0.9, 0.2, True),
               DriftResult("c", "psi", 0.1, 0.2, False))
    assert [d.feature for d in r.drifted_features] == ["b", "a"]


def test_importances_weigh_the_ranking_and_tests_of_a_feature_stay_together():
    r = report(DriftResult("a", "psi", 0.3, 0.2, True, importance=1.0),
               DriftResult("b", "psi", 0.9, 0.2, True, importance=0.1),
               DriftResult("a", "ks", 1.0, 0.05, True, p_value=1e-9, importance=1.0))
    assert [(d.feature, d.test) for d in r.drifted_features] == [("a", "ks"), ("a", "psi"), ("b", "psi")]

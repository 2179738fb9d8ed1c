"""Sequential verdicts of ChampionChallenger: each verdict and its reason, guardrails, pairing, window
metrics, checks; checkpoints (snapshot -> restore -> identical results); the design's checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from driftline.detectors import (
    ArmStats,
    ChampionChallenger,
    DetectorConfigError,
    ExperimentDesign,
    ExperimentWindow,
    Guardrail,
    Moments,
    label_values,
)

MIN = 60_000


def window(cc: ChampionChallenger, i: int, *, a=(0.9, 400), b=(0.9, 100), latency=(20.0, 20.0), missing=(0.0, 0.0),
           seed: int = 0, pairs: Moments | None = None, metrics=None) -> ExperimentWindow:
    rng = np.random.default_rng(seed * 1000 + i)
    w = cc.new_window(i * MIN, (i + 1) * MIN)
    for arm, (accuracy, n), lat, miss in ((w.champion, a, latency[0], missing[0]), (w.challenger, b, latency[1], missing[1])):
        right = (rng.random(n) < accuracy).astype(float)
        arm.add_labels({"accuracy": right, "error_rate": 1 - right, "log_loss": -np.log(np.where(right > 0, 0.8, 0.2))},
                       [int(right.sum() * 0.3), 5, 5, int(right.sum() * 0.7)])
        arm.add_predictions((rng.random(n) < miss).astype(float), (rng.random(n) < 0.3).astype(float),
                            rng.lognormal(np.log(lat), 0.3, n))
    if pairs is not None:
        w.pairs["accuracy"] = pairs
    if metrics:
        w.window_metrics = metrics
    return w


def run(design: ExperimentDesign, windows: int = 30, **kw):
    cc = ChampionChallenger(design)
    return cc, [cc.close(window(cc, i, **kw)) for i in range(windows)]


def test_a_worse_challenger_is_rolled_back_once_and_stays_rolled_back():
    cc, evaluations = run(ExperimentDesign(min_sample=100), a=(0.92, 400), b=(0.75, 100))
    verdicts = [e.verdict for e in evaluations]
    first = verdicts.index("rollback")
    assert verdicts[:first] == ["continue"] * first and set(verdicts[first:]) == {"rollback"}
    changed = [e for e in evaluations if e.changed]
    assert len(changed) == 1 and changed[0].previous == "continue"
    assert "accuracy: the challenger is worse" in changed[0].reason and "always-valid 95.0% interval" in changed[0].reason
    assert evaluations[-1].reason.startswith("decided at the window ending")
    widths = [e.primary.interval.upper - e.primary.interval.lower for e in evaluations if e.primary.evaluated]
    assert widths[-1] < widths[0]  # the interval keeps narrowing after the decision


def test_a_better_challenger_is_promoted_and_lower_is_better_metrics_are_oriented():
    _, ev = run(ExperimentDesign(min_sample=100), a=(0.80, 400), b=(0.92, 100))
    assert [e.verdict for e in ev if e.changed] == ["promote"]
    _, ev = run(ExperimentDesign(metric="error_rate", min_sample=100), a=(0.80, 400), b=(0.92, 100))
    decided = [e for e in ev if e.changed]
    assert [e.verdict for e in decided] == ["promote"] and decided[0].primary.interval.upper < 0  # fewer errors


def test_no_verdict_before_the_minimum_sample():
    _, ev = run(ExperimentDesign(min_sample=1000), windows=8, a=(0.99, 400), b=(0.5, 100))
    assert [e.verdict for e in ev[:-1]] == ["continue"] * 7  # 700 challenger events < 1000
    assert not ev[0].primary.evaluated and ev[-1].primary.n_challenger == 800


def test_inconclusive_after_the_maximum_duration():
    _, ev = run(ExperimentDesign(min_sample=100, max_duration_ms=10 * MIN), windows=15, seed=3)
    verdicts = [e.verdict for e in ev]
    assert verdicts[:9] == ["continue"] * 9 and verdicts[9:] == ["inconclusive"] * 6
    assert "no decision after the maximum duration (600 s)" in ev[9].reason


@pytest.mark.parametrize("guardrail, kw, expect", [
    (Guardrail("latency_p95_ms", max_ratio=1.2), {"latency": (20.0, 40.0)}, "latency_p95_ms"),
    (Guardrail("missing_rate", max_increase=0.02), {"missing": (0.01, 0.20)}, "missing_rate"),
])
def test_a_breached_guardrail_rolls_back(guardrail, kw, expect):
    design = ExperimentDesign(min_sample=100, guardrails=(guardrail,), metric="accuracy")
    _, ev = run(design, **kw)
    (decided,) = [e for e in ev if e.changed]
    assert decided.verdict == "rollback" and f"guardrail {expect}" in decided.reason
    assert decided.guardrails[0].breached and decided.alpha == 0.025  # alpha shared by two tests


def test_a_guardrail_within_its_tolerance_is_no_breach():
    design = ExperimentDesign(min_sample=100, guardrails=(Guardrail("latency_p95_ms", max_ratio=1.5),))
    _, ev = run(design, latency=(20.0, 22.0))
    assert {e.verdict for e in ev} == {"continue"}
    assert ev[-1].guardrails[0].interval.lower < 1.5 and not ev[-1].guardrails[0].breached
    (prediction, latency) = ev[-1].checks  # the live comparisons are computed whatever the guardrails
    assert prediction.metric == "prediction_mean" and latency.metric == "latency_p95_ms" and latency.evaluated


def test_pairing_auto_takes_the_pairs_when_most_requests_are_paired():
    design = ExperimentDesign(min_sample=100)
    pairs = Moments.of([-1.0] * 12 + [1.0] * 3 + [0.0] * 85)  # 100 pairs per window, 9 points worse
    cc, ev = run(design, windows=10, a=(0.9, 100), b=(0.9, 100), pairs=pairs)
    assert cc.paired is True and all(e.paired for e in ev)
    assert [e.verdict for e in ev if e.changed] == ["rollback"]
    assert "paired by request_id" in next(e.reason for e in ev if e.changed)
    cc, ev = run(design, windows=3, pairs=Moments.of([0.0] * 5))
    assert cc.paired is False  # a few pairs only: the canary's traffic is compared unpaired


def test_a_window_metric_is_compared_window_by_window():
    design = ExperimentDesign(metric="roc_auc", higher_is_better=True, min_sample=100,
                              guardrails=(Guardrail("data_drift_count", max_increase=0.5),))
    cc = ChampionChallenger(design)
    ev = [cc.close(window(cc, i, metrics={"roc_auc": [[0.85, 0.85 + 0.01 * ((i % 3) - 1)]],
                                         "data_drift_count": [[0.0, 3.0]]})) for i in range(12)]
    assert [e.verdict for e in ev[:4]] == ["continue"] * 4  # fewer than MIN_WINDOWS windows
    (decided,) = [e for e in ev if e.changed]
    assert decided.verdict == "rollback" and "guardrail data_drift_count" in decided.reason
    assert decided.guardrails[0].n_challenger == decided.guardrails[0].n_champion >= 5


def test_f1_is_compared_from_confusion_counts():
    cc = ChampionChallenger(ExperimentDesign(metric="f1", min_sample=100))
    for i in range(5):
        w = cc.new_window(i * MIN, (i + 1) * MIN)
        w.champion.add_labels({}, [120, 10, 10, 260])
        w.challenger.add_labels({}, [20, 30, 30, 20])
        e = cc.close(w)
    assert e.verdict == "rollback" and e.primary.champion_value == pytest.approx(240 / 260)


def test_snapshot_restore_continues_identically():
    design = ExperimentDesign(min_sample=100, guardrails=(Guardrail("latency_p95_ms", max_ratio=1.3),))
    straight = ChampionChallenger(design)
    resumed = ChampionChallenger(design)
    a, b = [], []
    for i in range(20):
        kw = {"a": (0.9, 300), "b": (0.84, 100), "latency": (20.0, 23.0)}
        a.append(straight.close(window(straight, i, **kw)))
        if i == 7:
            resumed = ChampionChallenger.restore(design, json.loads(json.dumps(resumed.snapshot())))
        w = window(resumed, i, **kw)
        w = ExperimentWindow.restore(json.loads(json.dumps(w.snapshot())))
        b.append(resumed.close(w))
    assert a == b
    assert json.loads(json.dumps(straight.snapshot())) == json.loads(json.dumps(resumed.snapshot()))


def test_arm_statistics_merge_like_one_window():
    values = label_values("binary_classification", "1", np.array(["1", "0", "1", "1"], dtype=object),
                          np.array(["1", "1", "1", "0"], dtype=object), np.array([0.9, 0.7, np.nan, 0.2]),
                          ("accuracy", "log_loss"))
    assert values["accuracy"].tolist() == [1.0, 0.0, 1.0, 0.0] and np.isnan(values["log_loss"][2])
    whole, first, second = (ArmStats.new(("accuracy", "log_loss", "f1"), latency=True) for _ in range(3))
    whole.add_labels(values, [2, 1, 1, 0])
    first.add_labels({k: v[:2] for k, v in values.items()}, [1, 1, 0, 0])
    second.add_labels({k: v[2:] for k, v in values.items()}, [1, 0, 1, 0])
    second.merge(first)
    for name, m in whole.labels.items():  # sums in another order: equal up to rounding
        assert second.labels[name].to_list() == pytest.approx(m.to_list())
    assert second.confusion == whole.confusion and whole.labelled == 4
    regression = label_values("regression", "1", np.array([3.0, 5.0]), np.array([1.0, 5.5]), np.array([]),
                              ("mae", "rmse"))
    assert regression["mae"].tolist() == [2.0, 0.5] and regression["rmse"].tolist() == [4.0, 0.25]


@pytest.mark.parametrize("kwargs, key", [
    ({"metric": "latency_p95_ms"}, "metric"),
    ({"metric": "roc_auc"}, "direction"),
    ({"alpha": 0.9}, "alpha"),
    ({"min_sample": 1}, "min_sample"),
    ({"pairing": "sometimes"}, "pairing"),
])
def test_design_checks_name_the_parameter(kwargs, key):
    with pytest.raises(DetectorConfigError) as err:
        ExperimentDesign(**kwargs)
    assert err.value.key == key


def test_guardrail_and_task_checks():
    with pytest.raises(DetectorConfigError, match="exactly one of"):
        Guardrail("missing_rate")
    with pytest.raises(DetectorConfigError, match="f1 cannot be a guardrail"):
        Guardrail("f1", max_decrease=0.1)
    with pytest.raises(DetectorConfigError, match="needs a regression model"):
        ExperimentDesign(metric="mae").check_task("binary_classification")
    ExperimentDesign(metric="accuracy").check_task("multiclass_classification")

"""Performance before labels in the worker's hot path: every prediction window of a model whose
reference has its outputs reports estimated metrics with their band (CBPE for classifiers, DLE
for regression), before any label; off when configured."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from driftline.detectors import CBPEReference, LossModel, ReferenceProfile
from driftline.settings import parse_settings
from driftline.stream.processor import BatchOutput, Processor

START_MS = 1_700_000_000_000


def outputs(rng: np.random.Generator, n: int, task: str):
    x = rng.normal(0.0, 1.5, n)
    if task == "binary_classification":
        score = 1 / (1 + np.exp(-4 * x))
        labels = (rng.uniform(size=n) < 1 / (1 + np.exp(-1.5 * x))).astype(int)
        return x, score, (score > 0.5).astype(int), labels
    score = rng.uniform(0.34, 1.0, n)  # confidence in the predicted class
    predicted = rng.choice(np.array(["a", "b", "c"]), n)
    correct = rng.uniform(size=n) < score**2
    labels = np.where(correct, predicted, "z")
    return x, score, predicted, labels


def processor(task: str, **model) -> Processor:
    rng = np.random.default_rng(3)
    x, score, predicted, labels = outputs(rng, 5000, task)
    cbpe = CBPEReference.fit(task, score, np.array([str(p) for p in predicted], dtype=object),
                             np.array([str(y) for y in labels], dtype=object), positive_label="1")
    reference = replace(ReferenceProfile.from_columns({"x": "numeric"}, {"x": x}), cbpe=cbpe)
    settings = parse_settings({"models": [{"name": "m", "task": task, "features": {"x": "numeric"},
                                           "reference": {"path": "unused.csv"},
                                           "window": {"size": "10s", "idle_close": "3s"}, **model}]})
    return Processor(settings, references={"m": reference})


def reports(proc: Processor, task: str) -> list:
    rng = np.random.default_rng(4)
    _, score, predicted, _ = outputs(rng, 3000, task)
    messages = [(0, i, json.dumps({"event_id": f"e{i}", "model": "m", "version": "v1", "ts": START_MS + i * 10,
                                   "features": {"x": 0.0}, "prediction": predicted[i].item(),
                                   "score": round(float(score[i]), 5)}).encode(), 0) for i in range(3000)]
    state, out = proc.new_partition(0), BatchOutput()
    proc.process(state, messages, [], START_MS, out)
    proc.close_windows(state, START_MS + 3_600_000, out)
    return [r for r in out.reports if r.n_predictions]


def metrics(report) -> dict[str, float]:
    return {m.name: m.value for m in report.metrics if m.name.startswith("estimated_")}


@pytest.mark.parametrize("task, names", [
    ("binary_classification", ("accuracy", "precision", "recall", "f1", "roc_auc")),
    ("multiclass_classification", ("accuracy",)),
])
def test_every_prediction_window_reports_estimates_with_their_band(task, names):
    windows = reports(processor(task), task)
    assert len(windows) == 3 and all(r.n_labels == 0 for r in windows)
    for report in windows:
        got = metrics(report)
        assert set(got) == {f"estimated_{n}{s}" for n in names for s in ("", "_lower", "_upper")}
        for name in names:
            assert got[f"estimated_{name}_lower"] < got[f"estimated_{name}"] < got[f"estimated_{name}_upper"]
    accuracy = np.mean([metrics(r)["estimated_accuracy"] for r in windows])
    expected = 0.80 if task == "binary_classification" else np.mean(np.random.default_rng(0).uniform(0.34, 1, 10**6) ** 2)
    assert accuracy == pytest.approx(expected, abs=0.03)


def test_estimate_performance_false_turns_it_off():
    windows = reports(processor("binary_classification", estimate_performance=False), "binary_classification")
    assert windows and not any(metrics(r) for r in windows)


def test_a_regression_models_windows_report_dle_estimates_with_their_band():
    rng = np.random.default_rng(6)

    def rows(n, shift):
        x = rng.normal(shift, 1.0, n)
        prediction = 2 * x
        return x, prediction, prediction + rng.normal(size=n) * (0.2 + 0.8 * (x > 1))

    x, prediction, y = rows(20_000, 0.0)
    model = LossModel.fit({"x": x}, prediction, y)
    reference = replace(ReferenceProfile.from_columns({"x": "numeric"}, {"x": x}), dle=model)
    settings = parse_settings({"models": [{"name": "m", "task": "regression", "features": {"x": "numeric"},
                                           "reference": {"path": "unused.csv"},
                                           "window": {"size": "10s", "idle_close": "3s"}}]})
    proc = Processor(settings, references={"m": reference})
    messages, realized = [], []
    for w, shift in enumerate((0.0, 0.5, 1.0)):
        x, prediction, y = rows(1000, shift)
        realized.append(float(np.mean(np.abs(y - prediction))))
        messages += [(0, len(messages) + i, json.dumps({
            "event_id": f"e{w}-{i}", "model": "m", "version": "v1", "ts": START_MS + w * 10_000 + i,
            "features": {"x": float(x[i])}, "prediction": float(prediction[i])}).encode(), 0) for i in range(1000)]
    state, out = proc.new_partition(0), BatchOutput()
    proc.process(state, messages, [], START_MS, out)
    proc.close_windows(state, START_MS + 3_600_000, out)
    windows = [r for r in out.reports if r.n_predictions]
    assert len(windows) == 3
    for report, real in zip(windows, realized, strict=True):
        got = metrics(report)
        assert set(got) == {f"estimated_{n}{s}" for n in ("mae", "rmse") for s in ("", "_lower", "_upper")}
        assert got["estimated_mae_lower"] <= real <= got["estimated_mae_upper"]
        assert got["estimated_mae"] == pytest.approx(real, rel=0.1)
    assert realized[2] > 1.5 * realized[0]  # the shift makes the model worse, and the estimate says so

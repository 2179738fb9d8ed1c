"""PerformanceWindow checked against scikit-learn."""

from __future__ import annotations

import json

import numpy as np
import pytest
from driftline.detectors import PerformanceWindow
from sklearn import metrics


def feed(pw, arrays, chunk=333):
    n = len(arrays[0])
    for i in range(0, n, chunk):
        pw.update(*(a[i : i + chunk] if a is not None else None for a in arrays))


def as_dict(pw):
    return {m.name: m.value for m in pw.compute()}


def test_binary_matches_sklearn():
    rng = np.random.default_rng(0)
    y = rng.random(5_000) < 0.3
    score = np.clip(0.3 * y + rng.random(5_000) * 0.7, 0, 1)
    pred = (score > 0.5).astype(int)
    y = y.astype(int)
    pw = PerformanceWindow("binary_classification")
    feed(pw, (y, pred, score))
    got = as_dict(pw)
    assert got["accuracy"] == pytest.approx(metrics.accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(metrics.precision_score(y, pred))
    assert got["recall"] == pytest.approx(metrics.recall_score(y, pred))
    assert got["f1"] == pytest.approx(metrics.f1_score(y, pred))
    assert got["log_loss"] == pytest.approx(metrics.log_loss(y, score), rel=1e-9)
    assert got["brier"] == pytest.approx(metrics.brier_score_loss(y, score), rel=1e-9)
    # Histogram AUC: documented error bound below 1e-3 with 1000 bins.
    assert got["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, score), abs=1e-3)
    assert pw.n == 5_000


def test_binary_string_labels_and_no_scores():
    y = np.array(["fraud", "ok", "ok", "fraud", "ok"], dtype=object)
    p = np.array(["fraud", "fraud", "ok", "ok", "ok"], dtype=object)
    pw = PerformanceWindow("binary_classification", positive_label="fraud")
    pw.update(y, p)
    got = as_dict(pw)
    assert set(got) == {"accuracy", "precision", "recall", "f1"}
    assert got["f1"] == pytest.approx(metrics.f1_score(y, p, pos_label="fraud"))


def test_binary_single_class_has_no_auc():
    pw = PerformanceWindow("binary_classification")
    pw.update(np.ones(10, int), np.ones(10, int), np.full(10, 0.9))
    assert "roc_auc" not in as_dict(pw)


def test_multiclass_matches_sklearn():
    rng = np.random.default_rng(1)
    labels = np.array(["a", "b", "c", "d"], dtype=object)
    y = rng.choice(labels, 4_000, p=[0.5, 0.3, 0.15, 0.05])
    pred = np.where(rng.random(4_000) < 0.7, y, rng.choice(labels[:3], 4_000))
    pw = PerformanceWindow("multiclass_classification")
    feed(pw, (y, pred, None))
    got = as_dict(pw)
    assert got["accuracy"] == pytest.approx(metrics.accuracy_score(y, pred))
    assert got["macro_f1"] == pytest.approx(metrics.f1_score(y, pred, average="macro"))
    assert got["weighted_f1"] == pytest.approx(metrics.f1_score(y, pred, average="weighted"))


def test_regression_matches_sklearn():
    rng = np.random.default_rng(2)
    y = rng.normal(100, 20, 3_000)
    pred = y + rng.normal(0, 5, 3_000)
    pw = PerformanceWindow("regression")
    feed(pw, (y, pred, None))
    got = as_dict(pw)
    assert got["mae"] == pytest.approx(metrics.mean_absolute_error(y, pred))
    assert got["rmse"] == pytest.approx(np.sqrt(metrics.mean_squared_error(y, pred)))
    assert got["mape"] == pytest.approx(metrics.mean_absolute_percentage_error(y, pred))
    assert got["r2"] == pytest.approx(metrics.r2_score(y, pred), rel=1e-9)


@pytest.mark.parametrize("task", ["binary_classification", "multiclass_classification", "regression"])
def test_snapshot_restore_gives_same_metrics(task):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 2_000)
    p = np.where(rng.random(2_000) < 0.6, y, rng.integers(0, 3, 2_000))
    s = rng.random(2_000)
    a = PerformanceWindow(task)
    a.update(y[:1000], p[:1000], s[:1000])
    b = PerformanceWindow.restore(json.loads(json.dumps(a.snapshot())))
    a.update(y[1000:], p[1000:], s[1000:])
    b.update(y[1000:], p[1000:], s[1000:])
    assert a.compute() == b.compute()


def test_bad_task_names_parameter():
    with pytest.raises(ValueError, match="^task: 'ranking' is not a known task"):
        PerformanceWindow("ranking")


@pytest.mark.parametrize("task", ["binary_classification", "regression", "multiclass_classification"])
def test_update_groups_equals_an_update_per_group(task):
    rng = np.random.default_rng(4)
    n = 3_000
    codes = rng.integers(-1, 5, n)  # -1: a row in no group
    if task == "regression":
        y_true = rng.normal(10, 3, n)
        y_pred = y_true + rng.normal(0, 1, n)
        score = None
    else:
        classes = 2 if task == "binary_classification" else 4
        y_true, y_pred = rng.integers(0, classes, n), rng.integers(0, classes, n)
        score = rng.random(n) if task == "binary_classification" else None
    together = [PerformanceWindow(task, score_bins=100) for _ in range(5)]
    apart = [PerformanceWindow(task, score_bins=100) for _ in range(5)]
    for lo in range(0, n, 700):  # several batches: the running merge too
        part = slice(lo, lo + 700)
        PerformanceWindow.update_groups(together, codes[part], y_true[part], y_pred[part],
                                        None if score is None else score[part])
        for g, w in enumerate(apart):
            mask = codes[part] == g
            w.update(y_true[part][mask], y_pred[part][mask], None if score is None else score[part][mask])
    for a, b in zip(together, apart, strict=True):
        assert a.n == b.n
        assert {m.name: m.value for m in a.compute()} == pytest.approx({m.name: m.value for m in b.compute()},
                                                                        rel=1e-12, abs=1e-12)

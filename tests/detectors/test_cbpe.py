"""CBPE: calibration against scikit-learn, estimates against NannyML's CBPE and against the
realized metrics of a covariate-shifted stream, mergeable state, snapshot/restore."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from driftline.detectors import DetectorConfigError, DetectorStateError, PerformanceWindow
from driftline.detectors.cbpe import CBPEReference, CBPEWindow
from driftline.detectors.score_calibration import ScoreCalibration
from sklearn.isotonic import IsotonicRegression

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
WINDOW = 4000


def stream(rng: np.random.Generator, n: int, shift: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binary rows; the covariate shift moves x1 and crowds it towards the decision boundary,
    which lowers accuracy; P(y | x) never changes. The model is over-confident, so calibration
    matters, and its scores are rounded, so they have ties."""
    x1 = rng.normal(0.2 * shift, 1.5 / (1 + 2 * shift), n)
    x2 = rng.normal(0.0, 1.0, n)
    true_logit = 1.5 * x1 - 1.0 * x2 + 0.4 * np.tanh(x1)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-true_logit))).astype(int)
    score = np.round(1 / (1 + np.exp(-(2.4 * x1 - 1.6 * x2))), 4)
    return score, (score > 0.5).astype(int), y


def shifted_windows(seed: int = 11, windows: int = 12):
    rng = np.random.default_rng(seed)
    ref = stream(rng, 40_000, 0.0)
    return ref, [stream(rng, WINDOW, shift) for shift in np.linspace(0.0, 2.0, windows).tolist()]


def estimated(reference: CBPEReference, rows) -> dict[str, float]:
    w = CBPEWindow(reference)
    w.update(rows[0], rows[1])
    return w.values()


def realized(rows) -> dict[str, float]:
    pw = PerformanceWindow("binary_classification")
    pw.update(rows[2], rows[1], score=rows[0])
    return {m.name: m.value for m in pw.compute()}


def test_calibration_is_scikit_learns_isotonic_regression():
    rng = np.random.default_rng(3)
    s = np.round(rng.uniform(size=5000), 3)
    y = (rng.uniform(size=5000) < s**2).astype(float)
    ours = ScoreCalibration.fit(s, y)
    theirs = IsotonicRegression(out_of_bounds="clip").fit(s, y)
    probe = np.concatenate([np.linspace(-0.5, 1.5, 2001), s])
    np.testing.assert_allclose(ours(probe), theirs.predict(probe), atol=1e-12)
    assert len(ours.x) < len(np.unique(s))  # only the bends are kept


def test_estimates_agree_with_nannyml_cbpe():
    import nannyml as nml  # a test extra, never a runtime dependency
    import pandas as pd

    ref, windows = shifted_windows()
    reference = CBPEReference.fit("binary_classification", *ref)
    ours = [estimated(reference, rows) for rows in windows]
    estimator = nml.CBPE(y_pred_proba="p", y_pred="y_pred", y_true="y", problem_type="classification_binary",
                         metrics=list(METRICS), chunk_size=WINDOW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(pd.DataFrame({"p": ref[0], "y_pred": ref[1], "y": ref[2]}))
        result = estimator.estimate(pd.DataFrame({"p": np.concatenate([w[0] for w in windows]),
                                                  "y_pred": np.concatenate([w[1] for w in windows])}))
    frame = result.filter(period="analysis").to_df()
    assert estimator.needs_calibration  # the comparison covers the calibration too
    for metric in METRICS:
        theirs = frame[(metric, "value")].to_numpy()
        mine = np.array([o[metric] for o in ours])
        print(f"{metric}: max |driftline - NannyML| = {np.abs(theirs - mine).max():.2e}")
        assert np.abs(theirs - mine).max() <= 0.01, metric
        # Measured: 1e-8 (confusion-based) and 1e-6 (ROC AUC, binned) at most.
        assert np.abs(theirs - mine).max() <= 1e-4, metric
    for metric in ("accuracy", "precision", "recall"):  # the same sampling-error formulas
        theirs = frame[(metric, "sampling_error")].to_numpy()
        np.testing.assert_allclose(theirs, reference.spread[metric] / np.sqrt(WINDOW), rtol=1e-6)


def test_estimate_tracks_realized_performance_under_covariate_shift():
    ref, windows = shifted_windows()
    reference = CBPEReference.fit("binary_classification", *ref)
    est = [estimated(reference, rows) for rows in windows]
    real = [realized(rows) for rows in windows]
    accuracy = [r["accuracy"] for r in real]
    assert accuracy[0] - min(accuracy) > 0.1  # the shift really lowers accuracy (first window: as the reference)
    mae = {m: float(np.mean([abs(e[m] - r[m]) for e, r in zip(est, real, strict=True)])) for m in METRICS}
    print("CBPE per-window MAE vs realized:", {m: round(v, 4) for m, v in mae.items()})
    assert mae["accuracy"] <= 0.02
    assert mae["roc_auc"] <= 0.02
    # The band covers the realized value in most windows.
    w = CBPEWindow(reference)
    covered = 0
    for rows, r in zip(windows, real, strict=True):
        w.reset()
        w.update(rows[0], rows[1])
        covered += sum(e.lower <= r[e.metric] <= e.upper for e in w.estimate())
    assert covered >= 0.8 * len(windows) * len(METRICS)


def test_window_state_merges_exactly_in_any_order():
    ref, windows = shifted_windows(windows=2)
    reference = CBPEReference.fit("binary_classification", *ref)
    s, p, _ = windows[1]
    whole = CBPEWindow(reference)
    whole.update(s, p)
    parts = [CBPEWindow(reference) for _ in range(3)]
    for i, part in enumerate(parts):
        part.update(s[i::3], p[i::3])
    merged = CBPEWindow(reference)
    for part in reversed(parts):
        merged.merge(part)
    assert merged.snapshot() == whole.snapshot()
    assert merged.values() == whole.values()


def test_snapshot_restore_through_json_gives_identical_results():
    ref, windows = shifted_windows(windows=2)
    reference = CBPEReference.fit("binary_classification", *ref)
    reference = CBPEReference.from_dict(json.loads(json.dumps(reference.to_dict(), allow_nan=False)))
    a = CBPEWindow(reference)
    a.update(windows[0][0], windows[0][1])
    b = CBPEWindow.restore(reference, json.loads(json.dumps(a.snapshot(), allow_nan=False)))
    for w in (a, b):
        w.update(windows[1][0], windows[1][1])
    assert a.estimate() == b.estimate()
    assert a.snapshot() == b.snapshot()
    with pytest.raises(DetectorStateError, match="another reference"):
        CBPEWindow.restore(reference, {**a.snapshot(), "bins": 3})
    with pytest.raises(DetectorStateError, match="task"):
        CBPEReference.from_dict({"task": "regression"})


def test_multiclass_estimates_accuracy_from_the_confidence():
    rng = np.random.default_rng(5)
    n = 30_000
    confidence = rng.uniform(0.34, 1.0, n)
    predicted = rng.choice(np.array(["a", "b", "c"], dtype=object), n)
    correct = rng.uniform(size=n) < confidence**1.5  # over-confident
    others = {"a": "b", "b": "c", "c": "a"}
    labels = np.array([p if ok else others[p] for p, ok in zip(predicted, correct, strict=True)], dtype=object)
    reference = CBPEReference.fit("multiclass_classification", confidence[:20_000], predicted[:20_000],
                                  labels[:20_000])
    w = CBPEWindow(reference)
    w.update(confidence[20_000:], predicted[20_000:])
    (acc,) = w.estimate()
    assert acc.metric == "accuracy"
    assert abs(acc.value - correct[20_000:].mean()) < 0.02
    assert acc.lower < acc.value < acc.upper


def test_bad_arguments_name_the_parameter():
    with pytest.raises(DetectorConfigError, match="task"):
        CBPEReference.fit("regression", np.ones(40), np.ones(40), np.ones(40))
    with pytest.raises(DetectorConfigError, match="scores"):
        CBPEReference.fit("binary_classification", np.ones(5), np.ones(5), np.ones(5))
    with pytest.raises(DetectorStateError):
        ScoreCalibration.from_dict({"x": [0.2, 0.1], "y": [0.0, 1.0]})


def test_the_band_is_the_sampling_error_of_the_realized_metric():
    """The analytical standard errors match the spread of realized metrics over 300 windows drawn
    like the reference. (NannyML 0.13's accuracy, precision and recall errors are the same formulas;
    its F1 error is ~1.6x and its ROC AUC error ~0.7x the measured spread on such data.)"""
    rng = np.random.default_rng(17)
    ref = stream(rng, 40_000, 0.0)
    reference = CBPEReference.fit("binary_classification", *ref)
    realized_values: dict[str, list[float]] = {}
    for _ in range(300):
        for name, value in realized(stream(rng, 2000, 0.0)).items():
            realized_values.setdefault(name, []).append(value)
    for metric in METRICS:
        measured = float(np.std(realized_values[metric], ddof=1))
        assert reference.spread[metric] / np.sqrt(2000) == pytest.approx(measured, rel=0.15), metric

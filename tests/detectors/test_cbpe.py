"""CBPE: calibration against scikit-learn, estimates against a reference implementation of
NannyML 0.13's CBPE and against the realized metrics of a covariate-shifted stream, mergeable
state, snapshot/restore. (Real NannyML, a bench extra: ``python -m bench.run --only cbpe`` on the
same data, bench/cbpe_compare.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
from driftline.detectors import DetectorConfigError, DetectorStateError, PerformanceWindow
from driftline.detectors.cbpe import CBPEReference, CBPEWindow
from driftline.detectors.score_calibration import ScoreCalibration
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import auc

from bench.cbpe_compare import (
    METRICS,
    driftline_estimates,
    max_differences,
    shifted_windows,
    stream,
)


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


def nannyml_cbpe(ref, windows) -> dict[str, np.ndarray]:
    """NannyML 0.13's binary CBPE, re-implemented with scikit-learn: ``IsotonicCalibrator`` (an
    ``IsotonicRegression(out_of_bounds="clip")`` fitted on the reference's scores vs labels), then
    per chunk on the calibrated probabilities ``estimate_accuracy``, ``estimate_precision``,
    ``estimate_recall``, ``estimate_f1`` and ``estimate_roc_auc`` of
    nannyml/performance_estimation/confidence_based/metrics.py, term for term. On this data it
    gives NannyML 0.13.1's values exactly (checked with the bench extra installed)."""
    calibration = IsotonicRegression(out_of_bounds="clip", increasing=True).fit(ref[0], ref[2])
    out: dict[str, list[float]] = {m: [] for m in METRICS}
    for score, y_pred, _ in windows:
        p = calibration.predict(score)
        tp = np.sum(np.where(y_pred == 1, p, 0))
        fp = np.sum(np.where(y_pred == 1, 1 - p, 0))
        fn = np.sum(np.where(y_pred == 0, p, 0))
        tn = np.sum(np.where(y_pred == 0, 1 - p, 0))
        out["accuracy"].append((tp + tn) / len(y_pred))
        out["precision"].append(tp / (tp + fp))
        out["recall"].append(tp / (tp + fn))
        out["f1"].append(tp / (tp + 0.5 * (fp + fn)))
        # estimate_roc_auc: rows by descending uncalibrated score, the calibrated probabilities as
        # expected true positives, counts rounded to 5 decimals, trapezoidal area.
        order = np.argsort(score)[::-1]
        tps = np.cumsum(p[order])
        fps = 1 + np.arange(len(p)) - tps
        tps, fps = np.round(np.r_[0, tps], 5), np.round(np.r_[0, fps], 5)
        out["roc_auc"].append(auc(fps / fps[-1], tps / tps[-1]))
    return {m: np.array(v) for m, v in out.items()}


def test_estimates_agree_with_nannyml_cbpe():
    ref, windows = shifted_windows()
    theirs = nannyml_cbpe(ref, windows)
    assert theirs["accuracy"][0] - theirs["accuracy"].min() > 0.1  # the windows really differ
    _, ours = driftline_estimates(ref, windows)
    differences = max_differences(ours, theirs)
    print("max |driftline - NannyML CBPE reference implementation|:",
          {m: f"{d:.1e}" for m, d in differences.items()})
    for metric, difference in differences.items():
        assert difference <= 0.01, metric
        # Measured: 3.4e-9 (confusion metrics) and 1.3e-7 (ROC AUC, binned) at most.
        assert difference <= 1e-5, metric


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

"""NannyML 0.13's CBPE vs driftline's ``CBPEWindow`` on the same seeded windows.

``python -m bench.run --only cbpe``. The data (``shifted_windows``) is the one of
tests/detectors/test_cbpe.py: a 40,000-row labelled reference, then 12 windows of 4,000 rows
whose covariate shift crowds the rows towards the decision boundary (accuracy 0.82 -> 0.71);
the model is over-confident, so the calibration matters, and its scores are rounded, so they
have ties. NannyML (a ``bench`` extra, never a runtime or test dependency) runs
``CBPE(chunk_size=4000)`` fitted on the reference; driftline one ``CBPEWindow`` per window. The
section reports the largest |driftline - NannyML| per metric over the windows, and the ratio of
the standard errors for the metrics whose formulas are the same (accuracy, precision, recall).
CPU only: it starts no server.
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
from driftline.detectors.cbpe import CBPEReference, CBPEWindow

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
SAME_SAMPLING_ERROR = ("accuracy", "precision", "recall")
WINDOW = 4000

Rows = tuple[np.ndarray, np.ndarray, np.ndarray]  # score, prediction, label


def stream(rng: np.random.Generator, n: int, shift: float) -> Rows:
    """Binary rows; the covariate shift moves x1 and crowds it towards the decision boundary,
    which lowers accuracy; P(y | x) never changes. The model is over-confident, so calibration
    matters, and its scores are rounded, so they have ties."""
    x1 = rng.normal(0.2 * shift, 1.5 / (1 + 2 * shift), n)
    x2 = rng.normal(0.0, 1.0, n)
    true_logit = 1.5 * x1 - 1.0 * x2 + 0.4 * np.tanh(x1)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-true_logit))).astype(int)
    score = np.round(1 / (1 + np.exp(-(2.4 * x1 - 1.6 * x2))), 4)
    return score, (score > 0.5).astype(int), y


def shifted_windows(seed: int = 11, windows: int = 12) -> tuple[Rows, list[Rows]]:
    """The reference rows and ``windows`` windows of ``WINDOW`` rows, shift 0 to 2."""
    rng = np.random.default_rng(seed)
    ref = stream(rng, 40_000, 0.0)
    return ref, [stream(rng, WINDOW, shift) for shift in np.linspace(0.0, 2.0, windows).tolist()]


def driftline_estimates(ref: Rows, windows: list[Rows]) -> tuple[CBPEReference, list[dict[str, float]]]:
    """driftline's reference fitted on ``ref`` and its estimates, one dict per window."""
    reference = CBPEReference.fit("binary_classification", *ref)
    out = []
    for score, prediction, _ in windows:
        w = CBPEWindow(reference)
        w.update(score, prediction)
        out.append(w.values())
    return reference, out


def max_differences(ours: list[dict[str, float]], theirs: dict[str, np.ndarray]) -> dict[str, float]:
    """Per metric, the largest |ours - theirs| over the windows."""
    return {m: float(np.abs(np.array([o[m] for o in ours]) - np.asarray(theirs[m])).max()) for m in METRICS}


def nannyml_estimates(ref: Rows, windows: list[Rows]) -> dict:
    """NannyML's CBPE on the same rows: per metric its values and sampling errors per window."""
    import nannyml as nml
    import pandas as pd

    estimator = nml.CBPE(y_pred_proba="p", y_pred="y_pred", y_true="y", problem_type="classification_binary",
                         metrics=list(METRICS), chunk_size=WINDOW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(pd.DataFrame({"p": ref[0], "y_pred": ref[1], "y": ref[2]}))
        result = estimator.estimate(pd.DataFrame({"p": np.concatenate([w[0] for w in windows]),
                                                  "y_pred": np.concatenate([w[1] for w in windows])}))
    frame = result.filter(period="analysis").to_df()
    return {"version": nml.__version__, "needs_calibration": bool(estimator.needs_calibration),
            "value": {m: frame[(m, "value")].to_numpy() for m in METRICS},
            "sampling_error": {m: frame[(m, "sampling_error")].to_numpy() for m in METRICS}}


def compare(seed: int = 11) -> dict:
    """The section's result (JSON-safe)."""
    logging.getLogger("nannyml").setLevel(logging.WARNING)
    ref, windows = shifted_windows(seed)
    started = time.perf_counter()
    reference, ours = driftline_estimates(ref, windows)
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    theirs = nannyml_estimates(ref, windows)
    theirs_s = time.perf_counter() - started
    if len(theirs["value"]["accuracy"]) != len(windows):
        raise RuntimeError(f"NannyML made {len(theirs['value']['accuracy'])} chunks of {len(windows)} windows")
    ratios = {}
    for m in SAME_SAMPLING_ERROR:
        ratio = reference.spread[m] / np.sqrt(WINDOW) / theirs["sampling_error"][m]
        ratios[m] = (float(ratio.min()), float(ratio.max()))
    return {"seed": seed, "windows": len(windows), "window_rows": WINDOW, "reference_rows": len(ref[0]),
            "nannyml_version": theirs["version"], "needs_calibration": theirs["needs_calibration"],
            "max_abs_difference": max_differences(ours, theirs["value"]),
            "sampling_error_ratio": ratios, "driftline_s": ours_s, "nannyml_s": theirs_s}


def markdown(d: dict) -> list[str]:
    lines = [f"## CBPE: NannyML {d['nannyml_version']} vs driftline CBPEWindow", "",
             f"{d['windows']} windows of {d['window_rows']:,} rows vs a {d['reference_rows']:,}-row reference "
             f"(seed {d['seed']}, the data of tests/detectors/test_cbpe.py); NannyML calibrates: "
             f"{'yes' if d['needs_calibration'] else 'no'}; {d['driftline_s']:.2f} s driftline, "
             f"{d['nannyml_s']:.2f} s NannyML (fit + estimate)", "",
             "| metric | max \\|driftline - NannyML\\| |", "|---|---:|"]
    lines += [f"| {m} | {v:.1e} |" for m, v in d["max_abs_difference"].items()]
    lines += ["", "| metric | driftline / NannyML standard error (min, max over windows) |", "|---|---|"]
    lines += [f"| {m} | {lo:.6f}, {hi:.6f} |" for m, (lo, hi) in d["sampling_error_ratio"].items()]
    return lines + [""]

"""Concept drift or covariate shift (issue 18): an error-rate change that comes with input drift in the same
windows is a ``covariate_shift`` alert naming the drifted features; one without is ``concept_drift``.

A seeded stream through the real processor: a binary model predicts ``amount > 0`` for labels
``amount + noise > 0``. Its errors are near the boundary, so moving the inputs there (a covariate
shift) raises the error rate as surely as flipping the labels (concept drift) does.
"""

from __future__ import annotations

import json

import numpy as np
from driftline.settings import parse_settings
from driftline.stream.processor import BatchOutput, Processor

T0 = 1_795_600_800_000
SETTINGS = parse_settings({"models": [{
    "name": "loan", "features": {"amount": "numeric", "region": "categorical"},
    "reference": {"warmup_events": 2000}, "window": {"size": "10s", "idle_close": "3s"}}]})


def run(phase2: str, seed: int = 7) -> tuple[list, list]:
    """40 s as trained, then 40 s of ``phase2``; 100 predictions a second, each labelled at once."""
    rng = np.random.default_rng(seed)
    processor = Processor(SETTINGS)
    state, reports, alerts = processor.new_partition(0), [], []
    offset = 0
    for second in range(80):
        shifted = second >= 40
        n = 100
        amount = rng.normal(0, 0.15 if shifted and phase2 == "covariate" else 1, n)
        truth = (amount + rng.normal(0, 0.1, n) > 0).astype(int)
        if shifted and phase2 == "concept":
            truth = 1 - truth
        predictions, feedback = [], []
        for i in range(n):
            ts = T0 + second * 1000 + i * 10
            event_id = f"e{offset}"
            predictions.append((0, offset, json.dumps({
                "event_id": event_id, "model": "loan", "version": "v1", "ts": ts,
                "features": {"amount": float(amount[i]), "region": "eu"},
                "prediction": int(amount[i] > 0), "score": float(1 / (1 + np.exp(-4 * amount[i])))}).encode(), 0))
            feedback.append((0, offset, json.dumps({"event_id": event_id, "model": "loan", "ts": ts,
                                                    "label": int(truth[i])}).encode(), 0))
            offset += 1
        out = BatchOutput()
        now = T0 + (second + 1) * 1000
        processor.process(state, predictions, feedback, now, out)
        processor.close_windows(state, now, out)
        reports += out.reports
        alerts += out.alerts
    out = BatchOutput()
    processor.close_windows(state, T0 + 200_000, out)
    return reports + out.reports, alerts + out.alerts


def test_an_error_rate_change_with_the_inputs_is_a_covariate_shift_naming_them():
    reports, alerts = run("covariate")
    firing = [a for a in alerts if a.status == "firing"]
    kinds = {a.kind for a in firing}
    assert "data_drift" in kinds and "covariate_shift" in kinds and "concept_drift" not in kinds
    shift = next(a for a in firing if a.kind == "covariate_shift")
    assert (shift.severity, shift.action) == ("warning", "notify")
    assert shift.summary.startswith("Covariate shift on loan/v1: error rate changed with drift in `amount`")
    assert shift.evidence["cause"] == "covariate" and "amount" in shift.evidence["input_drift"]
    labelled = [r for r in reports if r.n_labels]
    assert all(r.input_drift == () for r in labelled if r.window_end_ms <= T0 + 40_000)


def test_an_error_rate_change_without_input_drift_is_concept_drift_that_retrains():
    reports, alerts = run("concept")
    firing = [a for a in alerts if a.status == "firing"]
    assert {a.kind for a in firing} >= {"concept_drift"} and "covariate_shift" not in {a.kind for a in firing}
    concept = next(a for a in firing if a.kind == "concept_drift")
    assert (concept.severity, concept.action) == ("critical", "retrain")
    assert concept.summary.startswith("Concept drift on loan/v1: error rate changed with no input drift (")
    assert all(r.input_drift == () for r in reports)


def test_input_drift_of_closed_windows_survives_a_checkpoint():
    processor = Processor(SETTINGS)
    state = processor.new_partition(0)
    monitor = processor._monitor(state, "loan", "v1")
    monitor.input_drift = {T0: ("amount",), T0 + 10_000: ("amount", "region")}
    restored = Processor(SETTINGS).restore_partition(state.snapshot())
    assert restored.monitors[("loan", "v1")].input_drift == monitor.input_drift

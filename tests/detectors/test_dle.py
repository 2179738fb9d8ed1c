"""DLE: the estimated MAE/RMSE of a regression model tracks the realized values under covariate
shift; the ridge fit equals a dense least-squares fit; state merges exactly; snapshot/restore."""

from __future__ import annotations

import json

import numpy as np
import pytest
from driftline.detectors import DetectorConfigError, DetectorStateError
from driftline.detectors.dle import DLEWindow, LossModel, _bins_of, _ridge

CATS = np.array(["a", "b", "c"], dtype=object)


def rows(rng: np.random.Generator, n: int, shift: float, multiplicative: bool = False):
    """The model is worse above x1 = 1 and for category c; the shift moves x1 up and c's share."""
    x1, x2 = rng.normal(shift, 1.0, n), rng.normal(0.0, 1.0, n)
    c = rng.choice(CATS, n, p=[0.6 - 0.2 * shift, 0.3, 0.1 + 0.2 * shift])
    c[rng.uniform(size=n) < 0.02] = None
    prediction = 3 * x1 - x2
    if multiplicative:
        y = prediction + rng.normal(size=n) * (0.3 + 0.8 * np.abs(x1)) * (1 + (c == "c"))
    else:
        y = prediction + 1.5 * (x1 > 1) + 0.5 * (c == "c") + rng.normal(size=n) * 0.7
    return {"x1": x1, "x2": x2, "c": c}, prediction, y


def tracking(multiplicative: bool) -> dict[str, float]:
    rng = np.random.default_rng(5)
    model = LossModel.fit(*rows(rng, 50_000, 0.0, multiplicative), bins=20)
    errors: dict[str, list[float]] = {"mae": [], "rmse": []}
    realized_mae = []
    for shift in np.linspace(0.0, 1.5, 12):
        features, prediction, y = rows(rng, 4000, shift, multiplicative)
        w = DLEWindow(model)
        w.update(features, prediction)
        est = {e.metric: e.value for e in w.estimate()}
        real = {"mae": float(np.mean(np.abs(y - prediction))), "rmse": float(np.sqrt(np.mean((y - prediction) ** 2)))}
        realized_mae.append(real["mae"])
        for k in errors:
            errors[k].append(abs(est[k] - real[k]) / real[k])
    assert max(realized_mae) > 1.4 * min(realized_mae)  # the shift really makes the model worse
    return {k: float(np.mean(v)) for k, v in errors.items()}


def test_estimate_tracks_realized_loss_under_covariate_shift():
    additive, multiplicative = tracking(False), tracking(True)
    print("DLE mean relative error, additive loss:", additive, "multiplicative:", multiplicative)
    assert additive["mae"] <= 0.03 and additive["rmse"] <= 0.03
    assert multiplicative["mae"] <= 0.07 and multiplicative["rmse"] <= 0.11  # no interactions: documented


def test_ridge_on_bin_counts_is_dense_ridge_regression():
    rng = np.random.default_rng(2)
    features, prediction, y = rows(rng, 3000, 0.3)
    cols = {**features, "prediction": prediction}
    spec = {k: _bins_of(np.asarray(v), 5, 5) for k, v in cols.items()}
    index = {k: spec[k].index(np.asarray(v)) for k, v in cols.items()}
    target = np.abs(y - prediction)
    (ours,) = _ridge(spec, index, [target], 2.0)
    design = np.hstack([np.eye(spec[k].size)[index[k]] for k in spec])
    dense = np.linalg.solve(design.T @ design + 2.0 * np.eye(design.shape[1]), design.T @ target)
    np.testing.assert_allclose(np.concatenate([ours[k] for k in spec]), dense, atol=1e-9)


def test_window_state_merges_exactly_and_restores_through_json():
    rng = np.random.default_rng(3)
    model = LossModel.fit(*rows(rng, 5000, 0.0))
    model = LossModel.from_dict(json.loads(json.dumps(model.to_dict(), allow_nan=False)))
    features, prediction, _ = rows(rng, 3000, 1.0)
    whole, parts = DLEWindow(model), [DLEWindow(model) for _ in range(3)]
    whole.update(features, prediction)
    for i, part in enumerate(parts):
        part.update({k: v[i::3] for k, v in features.items()}, prediction[i::3])
    merged = DLEWindow(model)
    for part in reversed(parts):
        merged.merge(part)
    assert merged.snapshot() == whole.snapshot() and merged.estimate() == whole.estimate()
    restored = DLEWindow.restore(model, json.loads(json.dumps(whole.snapshot(), allow_nan=False)))
    for w in (whole, restored):
        w.update({k: v[:100] for k, v in features.items()}, prediction[:100])
    assert restored.estimate() == whole.estimate()
    with pytest.raises(DetectorStateError, match="another loss model"):
        DLEWindow.restore(model, {"n": 1, "counts": {"x1": [1]}})


def test_bad_arguments_name_the_parameter():
    rng = np.random.default_rng(4)
    features, prediction, y = rows(rng, 100, 0.0)
    with pytest.raises(DetectorConfigError, match="bins"):
        LossModel.fit(features, prediction, y, bins=1)
    with pytest.raises(DetectorConfigError, match="targets"):
        LossModel.fit({k: v[:5] for k, v in features.items()}, prediction[:5], y[:5])
    with pytest.raises(ValueError, match="no column 'x2'"):
        DLEWindow(LossModel.fit(features, prediction, y)).update({"x1": features["x1"]}, prediction)

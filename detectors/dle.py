"""Direct loss estimation (DLE): a regression model's MAE and RMSE before its labels.

As NannyML's DLE does in batch, a second model learns, on a labelled reference, the loss the
monitored model makes given its inputs and its prediction; a window's estimated loss is the
mean of that learned loss over the window's rows. NannyML learns it with LightGBM; here it is
an additive model on bins, so it needs numpy only and its window state is counts: each input
(every feature and the prediction) is cut into bins (numeric: reference quantiles, plus a bin
for missing values; categorical: the most frequent reference categories, an ``other`` and a
missing bin), and ridge regression on the bins' one-hot encoding gives each bin a weight, once
for the absolute error and once for the squared error. An additive model captures a loss that
depends on each input separately (heteroscedastic noise, a worse fit in some region of one
feature), not interactions between inputs (tests/detectors/test_dle.py: under covariate shift a
loss additive in the inputs is estimated within ~1.5% of the realized MAE and RMSE, a noise that
multiplies two inputs' effects within ~5% (MAE) and ~9% (RMSE)), and beyond the reference's range
an input's weight stays that of its outermost bin.

mergeable: a window's state is the row count and the per-bin counts of every input (integers),
so partial states merge exactly and in any order; the estimates are a pure function of the
merged state and the reference (``mean loss = weights . counts / n``).

The band: estimate ± 3 standard errors, from the spread of the reference's absolute (squared)
errors (for RMSE through the delta method: ``se(MSE) / (2 RMSE)``), clipped at 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import check_float, check_int
from .cbpe import Estimate
from .errors import DetectorConfigError, DetectorStateError

__all__ = ["DLEWindow", "LossModel"]

_PREDICTION = "prediction"


@dataclass(frozen=True, eq=False)
class _Bins:
    """Numeric: inner ``edges``; categorical: ``categories``. The last bin holds missing values."""

    edges: tuple[float, ...] | None = None
    categories: tuple[str, ...] | None = None

    @property
    def size(self) -> int:
        return len(self.edges) + 2 if self.edges is not None else len(self.categories) + 2

    def index(self, values: np.ndarray) -> np.ndarray:
        if self.edges is not None:
            v = np.asarray(values, dtype=np.float64)
            out = np.searchsorted(np.asarray(self.edges), v, side="right")
            return np.where(np.isfinite(v), out, self.size - 1)
        lookup = {c: i for i, c in enumerate(self.categories)}
        other = len(self.categories)
        return np.fromiter((other + 1 if v is None else lookup.get(v, other) for v in values.tolist()),
                           dtype=np.int64, count=len(values))

    def to_dict(self) -> dict[str, Any]:
        return {"edges": list(self.edges)} if self.edges is not None else {"categories": list(self.categories)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> _Bins:
        if "edges" in d:
            return cls(edges=tuple(float(e) for e in d["edges"]))
        return cls(categories=tuple(str(c) for c in d["categories"]))


@dataclass(frozen=True, eq=False)
class LossModel:
    """The learned loss of a regression model, fitted on a labelled reference.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=20_000)
    >>> y = 2 * x + rng.normal(size=20_000) * (0.2 + 0.5 * (x > 1))   # noisier above 1
    >>> model = LossModel.fit({"x": x}, 2 * x, y)
    >>> w = DLEWindow(model)
    >>> w.update({"x": x[:5000]}, 2 * x[:5000])
    >>> {e.metric: round(e.value, 2) for e in w.estimate()}
    {'mae': 0.23, 'rmse': 0.34}
    >>> shifted = DLEWindow(model)
    >>> shifted.update({"x": x[:5000] + 0.8}, 2 * (x[:5000] + 0.8))  # realized: MAE 0.33, RMSE 0.48
    >>> {e.metric: round(e.value, 2) for e in shifted.estimate()}
    {'mae': 0.33, 'rmse': 0.48}
    >>> LossModel.from_dict(model.to_dict()).to_dict() == model.to_dict()
    True
    """

    bins: dict[str, _Bins]
    abs_weights: dict[str, np.ndarray]
    sq_weights: dict[str, np.ndarray]
    abs_sd: float
    sq_sd: float
    n: int

    @classmethod
    def fit(cls, features: Mapping[str, np.ndarray], predictions: np.ndarray, targets: np.ndarray, *,
            bins: int = 10, max_categories: int = 20, ridge: float = 1.0) -> LossModel:
        """Fit on reference rows: feature columns (numeric float arrays, categorical object arrays of
        str/None), the model's ``predictions`` and the true ``targets``."""
        bins = check_int("bins", bins, low=2, high=100)
        max_categories = check_int("max_categories", max_categories, low=1, high=1000)
        ridge = check_float("ridge", ridge, low=0.0, low_open=True)
        pred, y = np.asarray(predictions, dtype=np.float64), np.asarray(targets, dtype=np.float64)
        ok = np.isfinite(pred) & np.isfinite(y)
        if int(ok.sum()) < 20:
            raise DetectorConfigError(f"targets: {int(ok.sum())} labelled reference rows (expected at least 20)")
        columns = {name: np.asarray(col)[ok] for name, col in features.items()}
        columns[_PREDICTION] = pred[ok]
        error = y[ok] - pred[ok]
        spec = {name: _bins_of(col, bins, max_categories) for name, col in columns.items()}
        index = {name: spec[name].index(col) for name, col in columns.items()}
        abs_w, sq_w = _ridge(spec, index, [np.abs(error), error * error], ridge)
        return cls(spec, abs_w, sq_w, float(np.std(np.abs(error))), float(np.std(error * error)), int(ok.sum()))

    def to_dict(self) -> dict[str, Any]:
        return {"bins": {k: b.to_dict() for k, b in self.bins.items()},
                "abs_weights": {k: w.tolist() for k, w in self.abs_weights.items()},
                "sq_weights": {k: w.tolist() for k, w in self.sq_weights.items()},
                "abs_sd": self.abs_sd, "sq_sd": self.sq_sd, "n": self.n}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LossModel:
        try:
            spec = {str(k): _Bins.from_dict(b) for k, b in d["bins"].items()}
            abs_w = {k: np.asarray(d["abs_weights"][k], dtype=np.float64) for k in spec}
            sq_w = {k: np.asarray(d["sq_weights"][k], dtype=np.float64) for k in spec}
            if any(len(abs_w[k]) != b.size or len(sq_w[k]) != b.size for k, b in spec.items()):
                raise ValueError("weights and bins differ in size")
            return cls(spec, abs_w, sq_w, float(d["abs_sd"]), float(d["sq_sd"]), int(d["n"]))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise DetectorStateError(f"dle: not a loss model ({exc})") from exc


def _bins_of(col: np.ndarray, bins: int, max_categories: int) -> _Bins:
    if col.dtype.kind == "f":
        finite = col[np.isfinite(col)]
        edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])) if len(finite) else []
        return _Bins(edges=tuple(float(e) for e in edges))
    values, counts = np.unique(np.array([v for v in col.tolist() if v is not None], dtype=object).astype(str),
                               return_counts=True)
    ranked = sorted(zip(values.tolist(), counts.tolist(), strict=True), key=lambda vc: (-vc[1], vc[0]))
    return _Bins(categories=tuple(v for v, _ in ranked[:max_categories]))


def _ridge(spec: dict[str, _Bins], index: dict[str, np.ndarray], targets: list[np.ndarray],
           ridge: float) -> list[dict[str, np.ndarray]]:
    """Ridge regression of each target on the one-hot bins of every input (no dense design matrix:
    the normal equations are bin-pair counts)."""
    names = list(spec)
    offsets = np.cumsum([0] + [spec[n].size for n in names])
    gram = np.zeros((offsets[-1], offsets[-1]))
    for i, a in enumerate(names):
        for j, b in enumerate(names[i:], start=i):
            block = np.bincount(index[a] * spec[b].size + index[b], minlength=spec[a].size * spec[b].size)
            block = block.reshape(spec[a].size, spec[b].size)
            gram[offsets[i]:offsets[i + 1], offsets[j]:offsets[j + 1]] = block
            gram[offsets[j]:offsets[j + 1], offsets[i]:offsets[i + 1]] = block.T
    gram += ridge * np.eye(len(gram))
    out = []
    for y in targets:
        rhs = np.concatenate([np.bincount(index[n], weights=y, minlength=spec[n].size) for n in names])
        w = np.linalg.solve(gram, rhs)
        out.append({n: w[offsets[i]:offsets[i + 1]] for i, n in enumerate(names)})
    return out


class DLEWindow:
    """Running DLE state of one window: per-input bin counts (see the module docstring)."""

    def __init__(self, model: LossModel) -> None:
        self.model = model
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.counts = {name: np.zeros(b.size, np.int64) for name, b in self.model.bins.items()}

    def update(self, features: Mapping[str, np.ndarray], predictions: np.ndarray) -> None:
        """Add rows (a feature the model was not fitted on is ignored; one it needs must be given)."""
        columns = {**features, _PREDICTION: np.asarray(predictions, dtype=np.float64)}
        for name, b in self.model.bins.items():
            if name not in columns:
                raise ValueError(f"features: no column {name!r}")
            self.counts[name] += np.bincount(b.index(np.asarray(columns[name])), minlength=b.size)
        self.n += len(columns[_PREDICTION])

    def merge(self, other: DLEWindow) -> None:
        """Add another window's state (same model)."""
        for name in self.counts:
            self.counts[name] += other.counts[name]
        self.n += other.n

    def estimate(self) -> tuple[Estimate, ...]:
        """Estimated MAE and RMSE with their band (empty before any row)."""
        if self.n == 0:
            return ()
        m, n = self.model, self.n
        mae = max(0.0, float(sum(m.abs_weights[k] @ c for k, c in self.counts.items())) / n)
        mse = max(0.0, float(sum(m.sq_weights[k] @ c for k, c in self.counts.items())) / n)
        rmse = mse**0.5
        half_mae = 3 * m.abs_sd / n**0.5
        half_rmse = 3 * m.sq_sd / n**0.5 / (2 * rmse) if rmse > 0 else 0.0
        return (Estimate("mae", mae, max(0.0, mae - half_mae), mae + half_mae, n),
                Estimate("rmse", rmse, max(0.0, rmse - half_rmse), rmse + half_rmse, n))

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state (the model is not included: it comes with the profile)."""
        return {"n": self.n, "counts": {k: c.tolist() for k, c in self.counts.items()}}

    @classmethod
    def restore(cls, model: LossModel, snapshot: Mapping[str, Any]) -> DLEWindow:
        window = cls(model)
        counts = snapshot.get("counts", {})
        if set(counts) != set(window.counts) or any(len(counts[k]) != len(c) for k, c in window.counts.items()):
            raise DetectorStateError("dle: the snapshot was taken against another loss model")
        window.n = int(snapshot["n"])
        window.counts = {k: np.asarray(v, dtype=np.int64) for k, v in counts.items()}
        return window

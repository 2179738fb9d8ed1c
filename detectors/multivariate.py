"""Multivariate drift: PCA reconstruction error against the reference (NannyML's data reconstruction drift)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._checks import check_float, check_int
from ._columns import mean_std
from .results import DriftResult

__all__ = ["PCAReconstructionDrift"]

FEATURE = "__multivariate__"
Z_LIMIT = 1e6  # standard deviations: the largest z-score a row's reconstruction error sees


class PCAReconstructionDrift:
    """Mean reconstruction error of rows through a PCA fitted on the reference.

    :meth:`fit` standardises the reference numeric columns (missing imputed with the
    reference mean), keeps the fewest principal components (numpy SVD) explaining
    ``variance`` of the variance, and sets the band ``mean ± sigma * std`` of the mean
    error over reference chunks of ``chunk_size`` rows. A window drifts when its mean
    error leaves the band: a change in the *correlations* between features raises
    the error even when every marginal distribution is unchanged. Use a
    ``chunk_size`` close to the window size (the band is for means over that many rows).
    Numeric features only. Memory: the model (features x components) plus a sum and a count.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=20_000); y = x + 0.1 * rng.normal(size=20_000)
    >>> det = PCAReconstructionDrift(chunk_size=1000).fit({"x": x, "y": y})
    >>> det.n_components
    1
    >>> det.update({"x": rng.normal(size=1000), "y": rng.normal(size=1000)})  # same marginals, no correlation
    >>> det.result().drifted
    True
    """

    def __init__(self, *, variance: float = 0.65, chunk_size: int = 1000, sigma: float = 3.0,
                 max_reference_rows: int = 100_000, seed: int = 0) -> None:
        self.variance = check_float("variance", variance, low=0.0, high=1.0, low_open=True)
        self.chunk_size = check_int("chunk_size", chunk_size, low=10, high=10_000_000)
        self.sigma = check_float("sigma", sigma, low=0.0, low_open=True)
        self.max_reference_rows = check_int("max_reference_rows", max_reference_rows, low=100, high=10_000_000)
        self.seed = check_int("seed", seed, low=0)
        self.features: tuple[str, ...] = ()
        self._mean = self._scale = self._components = np.empty(0)
        self.lower = self.upper = self.reference_error = float("nan")
        self.reset()

    @property
    def fitted(self) -> bool:
        return bool(self.features)

    @property
    def n_components(self) -> int:
        return len(self._components)

    def fit(self, columns: Mapping[str, np.ndarray], features: Sequence[str] | None = None) -> PCAReconstructionDrift:
        """Fit on reference numeric columns (all of ``columns`` unless ``features`` is given); returns self."""
        names = tuple(features if features is not None else columns)
        if len(names) < 2:
            raise ValueError(f"features: {list(names)!r} has fewer than 2 numeric features")
        x = np.column_stack([np.asarray(columns[f], dtype=np.float64) for f in names])
        x[~np.isfinite(x)] = np.nan
        if len(x) > self.max_reference_rows:
            keep = np.sort(np.random.default_rng(self.seed).choice(len(x), self.max_reference_rows, replace=False))
            x = x[keep]
        n_chunks = len(x) // self.chunk_size
        if n_chunks < 2:
            raise ValueError(f"columns: {len(x)} reference rows give fewer than 2 chunks of chunk_size={self.chunk_size}")
        self.features = names
        moments = [mean_std(column[~np.isnan(column)]) for column in x.T]
        self._mean = np.nan_to_num(np.array([m for m, _ in moments]))
        std = np.nan_to_num(np.array([s for _, s in moments]))
        self._scale = np.where(std > 0, std, 1.0)
        z = self._standardise(x)
        _, s, vt = np.linalg.svd(z - z.mean(axis=0), full_matrices=False)
        explained = np.cumsum(s**2) / np.sum(s**2)
        k = min(int(np.searchsorted(explained, self.variance - 1e-12)) + 1, len(s))
        self._components = vt[:k]
        errors = self._errors(z)[: n_chunks * self.chunk_size].reshape(n_chunks, self.chunk_size).mean(axis=1)
        self.reference_error = float(errors.mean())
        spread = self.sigma * float(errors.std(ddof=1))
        self.lower, self.upper = max(0.0, self.reference_error - spread), self.reference_error + spread
        return self

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        x = np.where(np.isnan(x), self._mean, x)
        # A value near the float64 limit (1e308) overflows here: any z-score past Z_LIMIT is "far
        # off" alike, and clipping keeps the squared errors finite.
        with np.errstate(over="ignore"):
            z = (x - self._mean) / self._scale
        return np.clip(z, -Z_LIMIT, Z_LIMIT)

    def _errors(self, z: np.ndarray) -> np.ndarray:
        recon = (z @ self._components.T) @ self._components
        return np.sqrt(np.sum((z - recon) ** 2, axis=1))

    def reconstruction_error(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Per-row reconstruction error (absent columns count as missing)."""
        if not self.fitted:
            raise ValueError("fit: call fit() on reference columns first")
        n = len(next(iter(columns.values()))) if columns else 0
        x = np.column_stack([np.asarray(columns[f], dtype=np.float64) if f in columns else np.full(n, np.nan)
                             for f in self.features])
        x[~np.isfinite(x)] = np.nan
        return self._errors(self._standardise(x))

    def update(self, columns: Mapping[str, np.ndarray]) -> None:
        """Add a batch of window rows."""
        errors = self.reconstruction_error(columns)
        self._sum += float(errors.sum())
        self.n += len(errors)

    def result(self) -> DriftResult | None:
        """The window's verdict (``threshold`` is the upper band edge), or None before any row."""
        if self.n == 0:
            return None
        mean = self._sum / self.n
        return DriftResult(FEATURE, "pca_reconstruction", mean, self.upper, not self.lower <= mean <= self.upper)

    def reset(self) -> None:
        """Start a new window (the fitted model is kept)."""
        self._sum, self.n = 0.0, 0

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe model and window state."""
        return {"params": {"variance": self.variance, "chunk_size": self.chunk_size, "sigma": self.sigma,
                           "max_reference_rows": self.max_reference_rows, "seed": self.seed},
                "features": list(self.features), "mean": self._mean.tolist(), "scale": self._scale.tolist(),
                "components": self._components.tolist(), "band": [None if np.isnan(v) else v for v in (self.lower, self.reference_error, self.upper)],
                "sum": self._sum, "n": self.n}

    @classmethod
    def restore(cls, snapshot: Mapping[str, Any]) -> PCAReconstructionDrift:
        d = cls(**snapshot["params"])
        d.features = tuple(snapshot["features"])
        d._mean, d._scale = np.asarray(snapshot["mean"]), np.asarray(snapshot["scale"])
        d._components = np.asarray(snapshot["components"]).reshape(-1, len(d.features))
        d.lower, d.reference_error, d.upper = (float("nan") if v is None else v for v in snapshot["band"])
        d._sum, d.n = snapshot["sum"], snapshot["n"]
        return d

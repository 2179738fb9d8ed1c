"""Reference profiles: what each feature looked like while the model was trusted."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._checks import check_int
from ._columns import check_features, count_categories, finite_values, mean_std
from .calibration import Calibration
from .cbpe import CBPEReference
from .dle import LossModel
from .grid import GridCounts, make_grid
from .packing import pack_array, unpack_array

__all__ = ["CategoricalProfile", "NumericProfile", "ReferenceProfile"]

# 2: numeric features carry their fine grid and its counts, a profile may carry its calibration
# (and, with scores and labels, its performance calibration). Version-1 profiles still load.
FORMAT_VERSION = 2
READS = (1, 2)


def _frozen(a: Any, dtype: Any) -> np.ndarray:
    if isinstance(a, Mapping):  # a packed array (checkpoints), see to_dict(packed=True)
        a = unpack_array(a, np.dtype(dtype).newbyteorder("<").str)
    arr = np.array(a, dtype=dtype)
    arr.flags.writeable = False
    return arr


def _array(a: np.ndarray, packed: bool) -> Any:
    return pack_array(a) if packed else a.tolist()


def _opt(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """Reference summary of a numeric feature.

    ``edges`` are the inner bin edges (reference quantiles, deduplicated); the
    ``len(edges) + 1`` bins are ``(-inf, e0), [e0, e1), ..., [e_last, +inf)``.
    ``grid`` is the fine grid (:mod:`~driftline.detectors.grid`, a superset of ``edges``) and
    ``grid_counts`` the reference's counts on it: what KS, Wasserstein, PSI and the calibration
    compare a window with. ``sample`` is a seeded uniform sample (sorted) of the values.
    A version-1 profile has no grid: it is rebuilt from ``sample`` when loaded.
    """

    edges: np.ndarray
    counts: np.ndarray
    n: int
    missing: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    sample: np.ndarray
    grid: np.ndarray = field(default_factory=lambda: _frozen([], np.float64))
    grid_counts: GridCounts = field(default_factory=lambda: GridCounts(_frozen([0], np.int64)))
    kind: str = field(default="numeric", init=False)

    @property
    def coarse_starts(self) -> np.ndarray:
        """Start index of each coarse bin among the fine grid's cells."""
        return np.concatenate([[0], np.searchsorted(self.grid, self.edges) + 1]).astype(np.int64)

    @classmethod
    def from_values(cls, values: np.ndarray, missing: int, *, bins: int, sample_size: int, seed: int) -> NumericProfile:
        """Summarise the non-missing ``values`` of a feature."""
        v = np.asarray(values, dtype=np.float64)
        if len(v) == 0:
            return cls(_frozen([], np.float64), _frozen([0], np.int64), 0, missing, None, None, None, None, _frozen([], np.float64))
        edges = np.unique(np.quantile(v, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
        grid = _frozen(make_grid(v, edges), np.float64)
        fine = GridCounts.of(grid, v)
        counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)
        if len(v) > sample_size:
            v_sample = np.random.default_rng(seed).choice(v, size=sample_size, replace=False)
        else:
            v_sample = v
        return cls(
            _frozen(edges, np.float64), _frozen(counts, np.int64), int(len(v)), int(missing),
            float(v.min()), float(v.max()), *mean_std(v),
            _frozen(np.sort(v_sample), np.float64), grid,
            GridCounts(_frozen(fine.counts, np.int64), fine.low_excess, fine.high_excess),
        )

    def to_dict(self, *, packed: bool = False) -> dict[str, Any]:
        return {
            "kind": "numeric", "edges": _array(self.edges, packed), "counts": self.counts.tolist(),
            "n": self.n, "missing": self.missing, "min": _opt(self.min), "max": _opt(self.max),
            "mean": _opt(self.mean), "std": _opt(self.std), "sample": _array(self.sample, packed),
            "grid": _array(self.grid, packed), "grid_counts": self.grid_counts.counts.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NumericProfile:
        edges, sample = _frozen(d["edges"], np.float64), _frozen(d["sample"], np.float64)
        if "grid" in d:
            grid = _frozen(d["grid"], np.float64)
            counts = GridCounts(_frozen(d["grid_counts"], np.int64))  # the reference has no excess: see make_grid
            if counts.counts.shape != (len(grid) + 1,):
                raise ValueError(f"grid_counts: {len(counts.counts)} cells where the grid has {len(grid) + 1}")
        else:  # a version-1 profile: the grid of its sample, which then stands for the reference
            grid = _frozen(make_grid(sample, edges) if len(sample) else [], np.float64)
            counts = GridCounts(_frozen(GridCounts.of(grid, sample).counts, np.int64))
        return cls(edges, _frozen(d["counts"], np.int64), int(d["n"]), int(d["missing"]),
                   d["min"], d["max"], d["mean"], d["std"], sample, grid, counts)


@dataclass(frozen=True, eq=False)
class CategoricalProfile:
    """Reference summary of a categorical feature: the top categories and an ``other`` bucket."""

    categories: tuple[str, ...]
    counts: np.ndarray
    other: int
    n: int
    missing: int
    kind: str = field(default="categorical", init=False)
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {c: i for i, c in enumerate(self.categories)})

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], missing: int, *, max_categories: int) -> CategoricalProfile:
        """Keep the ``max_categories`` most frequent categories (ties by name); the rest is ``other``."""
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        top = ranked[:max_categories]
        total = sum(counts.values())
        kept = sum(n for _, n in top)
        return cls(tuple(c for c, _ in top), _frozen([n for _, n in top], np.int64), int(total - kept), int(total), int(missing))

    def to_dict(self, *, packed: bool = False) -> dict[str, Any]:
        return {
            "kind": "categorical", "categories": list(self.categories), "counts": self.counts.tolist(),
            "other": self.other, "n": self.n, "missing": self.missing,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CategoricalProfile:
        return cls(tuple(d["categories"]), _frozen(d["counts"], np.int64), int(d["other"]), int(d["n"]), int(d["missing"]))


FeatureProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """Per-feature reference summaries of one model version.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> cols = {"age": rng.normal(40, 10, 5000),
    ...         "country": np.array(["de", "fr", None, "de"] * 1250, dtype=object)}
    >>> ref = ReferenceProfile.from_columns({"age": "numeric", "country": "categorical"}, cols)
    >>> ref.n, len(ref.features["age"].edges), ref.features["country"].categories
    (5000, 9, ('de', 'fr'))
    >>> ReferenceProfile.from_dict(ref.to_dict()).to_dict() == ref.to_dict()
    True
    """

    features: dict[str, FeatureProfile]
    n: int
    bins: int = 10
    max_categories: int = 50
    reservoir_size: int = 2000
    seed: int = 0
    # Optional, written only when present (older readers ignore the key, older files lack it):
    # the CBPE calibration fitted on the reference's scores and labels (classifiers), the DLE loss
    # model fitted on its predictions and labels (regression).
    cbpe: CBPEReference | None = None
    dle: LossModel | None = None
    # The null fits of ``threshold: auto`` (made on demand, saved with the profile); not part
    # of what the reference *is*, so left out of its equality and digest (see ``to_dict``).
    calibration: Calibration = field(default_factory=Calibration, compare=False, repr=False)

    @classmethod
    def from_columns(
        cls,
        features: Mapping[str, str],
        columns: Mapping[str, np.ndarray],
        *,
        bins: int = 10,
        max_categories: int = 50,
        reservoir_size: int = 2000,
        seed: int = 0,
    ) -> ReferenceProfile:
        """Build a profile from whole reference columns (the caller reads CSV/Parquet/JSONL)."""
        features = check_features(features)
        bins = check_int("bins", bins, low=2, high=1000)
        max_categories = check_int("max_categories", max_categories, low=1, high=10_000)
        reservoir_size = check_int("reservoir_size", reservoir_size, low=10, high=1_000_000)
        seed = check_int("seed", seed, low=0)
        missing_cols = [f for f in features if f not in columns]
        if missing_cols:
            raise ValueError(f"columns: missing feature columns {missing_cols}")
        lengths = {len(columns[f]) for f in features}
        if len(lengths) != 1:
            raise ValueError(f"columns: feature columns have different lengths {sorted(lengths)}")
        profiles: dict[str, FeatureProfile] = {}
        for i, (name, kind) in enumerate(features.items()):
            if kind == "numeric":
                values, missing = finite_values(columns[name])
                profiles[name] = NumericProfile.from_values(values, missing, bins=bins, sample_size=reservoir_size, seed=seed + i)
            else:
                counts, missing = count_categories(columns[name])
                profiles[name] = CategoricalProfile.from_counts(counts, missing, max_categories=max_categories)
        return cls(profiles, lengths.pop(), bins, max_categories, reservoir_size, seed)

    @property
    def kinds(self) -> dict[str, str]:
        """``feature -> "numeric" | "categorical"``."""
        return {name: p.kind for name, p in self.features.items()}

    def to_dict(self, *, packed: bool = False, calibration: bool = True) -> dict[str, Any]:
        """JSON-safe dict; ``from_dict(to_dict())`` round-trips exactly.

        ``packed=True`` writes the float arrays (bin edges, samples) as base64 of their bytes
        (see :mod:`~driftline.detectors.packing`): half the size, for checkpoints.
        ``calibration=False`` leaves out the null fits made so far (they grow on demand; the
        reference they describe does not).
        """
        d = {
            "format_version": FORMAT_VERSION, "n": self.n, "bins": self.bins,
            "max_categories": self.max_categories, "reservoir_size": self.reservoir_size, "seed": self.seed,
            "features": {name: p.to_dict(packed=packed) for name, p in self.features.items()},
        }
        if self.cbpe is not None:
            d["cbpe"] = self.cbpe.to_dict()
        if self.dle is not None:
            d["dle"] = self.dle.to_dict()
        if calibration and len(self.calibration):
            d["calibration"] = self.calibration.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReferenceProfile:
        if d.get("format_version") not in READS:
            raise ValueError(f"format_version: {d.get('format_version')!r} is not supported "
                             f"(expected one of: {', '.join(map(str, READS))})")
        features: dict[str, FeatureProfile] = {}
        for name, fd in d["features"].items():
            features[name] = NumericProfile.from_dict(fd) if fd["kind"] == "numeric" else CategoricalProfile.from_dict(fd)
        cbpe = None if d.get("cbpe") is None else CBPEReference.from_dict(d["cbpe"])
        dle = None if d.get("dle") is None else LossModel.from_dict(d["dle"])
        calibration = Calibration.from_dict(d["calibration"]) if "calibration" in d else Calibration()
        return cls(features, int(d["n"]), int(d["bins"]), int(d["max_categories"]), int(d["reservoir_size"]),
                   int(d["seed"]), cbpe, dle, calibration)

    def save(self, path: str | Path) -> None:
        """Write the profile as JSON to ``path``."""
        Path(path).write_text(json.dumps(self.to_dict(), allow_nan=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> ReferenceProfile:
        """Read a profile written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

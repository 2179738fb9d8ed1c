"""Build a reference profile from the first N events of a stream."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._checks import check_int
from ._columns import batch_length, check_features, count_categories, finite_values
from .errors import DetectorStateError
from .packing import pack_array, unpack_array
from .profile import CategoricalProfile, FeatureProfile, NumericProfile, ReferenceProfile

__all__ = ["ReferenceBuilder"]

MAX_WARMUP_EVENTS = 1_000_000


class ReferenceBuilder:
    """Accumulate the first ``warmup_events`` rows, then :meth:`build` a :class:`ReferenceProfile`.

    Memory is bounded by ``warmup_events`` values per numeric feature (needed for
    exact quantile bin edges) and by ``max(20 * max_categories, 1000)`` distinct
    names per categorical feature (later new names count toward ``other``).

    >>> import numpy as np
    >>> b = ReferenceBuilder({"x": "numeric", "c": "categorical"}, warmup_events=100)
    >>> b.update({"x": np.arange(60.0), "c": np.array(["a", "b"] * 30, dtype=object)})
    60
    >>> b.update({"x": np.arange(60.0), "c": np.array(["a", None] * 30, dtype=object)})
    40
    >>> b.ready
    True
    >>> ref = b.build()
    >>> ref.n, ref.features["c"].missing, ref.features["x"].max
    (100, 20, 59.0)
    >>> again = ReferenceBuilder.restore({"x": "numeric", "c": "categorical"}, b.snapshot(), warmup_events=100)
    >>> again.build().to_dict() == ref.to_dict()
    True
    """

    def __init__(
        self,
        features: Mapping[str, str],
        *,
        warmup_events: int,
        bins: int = 10,
        max_categories: int = 50,
        reservoir_size: int = 2000,
        seed: int = 0,
    ) -> None:
        self.features = check_features(features)
        self.warmup_events = check_int("warmup_events", warmup_events, low=1, high=MAX_WARMUP_EVENTS)
        self.bins = check_int("bins", bins, low=2, high=1000)
        self.max_categories = check_int("max_categories", max_categories, low=1, high=10_000)
        self.reservoir_size = check_int("reservoir_size", reservoir_size, low=10, high=1_000_000)
        self.seed = check_int("seed", seed, low=0)
        self._distinct_cap = max(20 * self.max_categories, 1000)
        self.n = 0
        self._values: dict[str, list[np.ndarray]] = {}
        self._cats: dict[str, dict[str, int]] = {}
        self._overflow: dict[str, int] = {}
        self._missing: dict[str, int] = {}
        self.reset()

    @property
    def ready(self) -> bool:
        """True once ``warmup_events`` rows have been consumed."""
        return self.n >= self.warmup_events

    def reset(self) -> None:
        """Forget everything consumed so far."""
        self.n = 0
        self._values = {f: [] for f, k in self.features.items() if k == "numeric"}
        self._cats = {f: {} for f, k in self.features.items() if k == "categorical"}
        self._overflow = {f: 0 for f in self._cats}
        self._missing = {f: 0 for f in self.features}

    def update(self, columns: Mapping[str, np.ndarray]) -> int:
        """Consume rows from the head of the batch; return how many were taken.

        Rows after the returned count belong to the monitored stream. A feature
        column absent from ``columns`` counts as missing for the consumed rows.
        """
        length = batch_length(self.features, columns)
        take = min(length, self.warmup_events - self.n)
        if take <= 0:
            return 0
        for name, kind in self.features.items():
            if name not in columns:
                self._missing[name] += take
                continue
            column = columns[name][:take]
            if kind == "numeric":
                values, missing = finite_values(column)
                self._values[name].append(values)
            else:
                counts, missing = count_categories(column)
                self._merge_counts(name, counts)
            self._missing[name] += missing
        self.n += take
        return take

    def _merge_counts(self, name: str, counts: Mapping[str, int]) -> None:
        known = self._cats[name]
        for cat, n in counts.items():
            if cat in known:
                known[cat] += n
            elif len(known) < self._distinct_cap:
                known[cat] = n
            else:
                self._overflow[name] += n

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state: the consumed values (packed), category counts, overflow and missing counts.

        The parameters are not included: :meth:`restore` takes them from the caller's settings.
        """
        return {
            "n": self.n,
            "values": {f: pack_array(np.concatenate(c) if c else np.empty(0)) for f, c in self._values.items()},
            "categories": {f: dict(c) for f, c in self._cats.items()},
            "overflow": dict(self._overflow),
            "missing": dict(self._missing),
        }

    @classmethod
    def restore(cls, features: Mapping[str, str], snapshot: Mapping[str, Any], *, warmup_events: int,
                **params: int) -> ReferenceBuilder:
        """A builder with these settings carrying :meth:`snapshot` state taken with the same features."""
        b = cls(features, warmup_events=warmup_events, **params)
        numeric = set(b._values)
        categorical = set(b._cats)
        if set(snapshot["values"]) != numeric or set(snapshot["categories"]) != categorical:
            raise DetectorStateError(f"features: the snapshot's {sorted(snapshot['values'])} numeric and "
                                     f"{sorted(snapshot['categories'])} categorical features differ from the "
                                     f"builder's {sorted(numeric)} and {sorted(categorical)}")
        b.n = int(snapshot["n"])
        b._values = {f: [unpack_array(v, "<f8")] for f, v in snapshot["values"].items()}
        b._cats = {f: {str(k): int(n) for k, n in c.items()} for f, c in snapshot["categories"].items()}
        b._overflow = {f: int(snapshot["overflow"][f]) for f in b._cats}
        b._missing = {f: int(snapshot["missing"][f]) for f in b.features}
        return b

    def build(self) -> ReferenceProfile:
        """Summarise what was consumed (usable before ``ready``, e.g. at shutdown)."""
        profiles: dict[str, FeatureProfile] = {}
        for i, (name, kind) in enumerate(self.features.items()):
            if kind == "numeric":
                chunks = self._values[name]
                values = np.concatenate(chunks) if chunks else np.empty(0)
                profiles[name] = NumericProfile.from_values(
                    values, self._missing[name], bins=self.bins, sample_size=self.reservoir_size, seed=self.seed + i
                )
            else:
                prof = CategoricalProfile.from_counts(self._cats[name], self._missing[name], max_categories=self.max_categories)
                if self._overflow[name]:
                    prof = CategoricalProfile(prof.categories, prof.counts, prof.other + self._overflow[name],
                                              prof.n + self._overflow[name], prof.missing)
                profiles[name] = prof
        return ReferenceProfile(profiles, self.n, self.bins, self.max_categories, self.reservoir_size, self.seed)

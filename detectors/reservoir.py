"""A fixed-size, seeded, vectorised reservoir sample (Vitter's Algorithm R)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import check_int
from .errors import DetectorStateError
from .packing import pack_array, unpack_array

__all__ = ["Reservoir"]


class Reservoir:
    """Uniform sample of at most ``size`` values from everything passed to :meth:`update`.

    Algorithm R applied to a whole batch at once: the i-th value overall (0-based)
    replaces slot ``j ~ U{0..i}`` when ``j < size``. Memory is ``size`` floats
    however many values are seen; the random stream is seeded, so the same input
    gives the same sample.

    >>> r = Reservoir(size=3, seed=0)
    >>> r.update(np.arange(1000.0))
    >>> r.seen, len(r.values)
    (1000, 3)
    >>> r2 = Reservoir.restore(r.snapshot())
    >>> r.update(np.arange(10.0)); r2.update(np.arange(10.0))
    >>> bool(np.array_equal(r.values, r2.values))
    True
    """

    __slots__ = ("size", "seed", "seen", "_buf", "_filled", "_rng")

    def __init__(self, size: int = 2000, seed: int = 0) -> None:
        self.size = check_int("size", size, low=1, high=10_000_000)
        self.seed = check_int("seed", seed, low=0)
        self.seen = 0
        self._buf = np.empty(self.size, dtype=np.float64)
        self._filled = 0
        self._rng = np.random.default_rng(self.seed)

    @property
    def values(self) -> np.ndarray:
        """The current sample (a view; do not modify)."""
        return self._buf[: self._filled]

    def update(self, values: np.ndarray) -> None:
        """Offer a 1-D batch of values (missing values must already be removed)."""
        m = len(values)
        if m == 0:
            return
        take = min(self.size - self._filled, m)
        if take > 0:
            self._buf[self._filled : self._filled + take] = values[:take]
            self._filled += take
        rest = values[take:]
        if len(rest):
            position = self.seen + take + np.arange(len(rest), dtype=np.int64)
            slot = self._rng.integers(0, position + 1)
            keep = slot < self.size
            slot, kept = slot[keep][::-1], rest[keep][::-1]
            # Later values must win a contested slot, as in the sequential algorithm.
            unique_slot, first = np.unique(slot, return_index=True)
            self._buf[unique_slot] = kept[first]
        self.seen += m

    def merge(self, other: Reservoir) -> None:
        """Add ``other``'s sample into this one (same ``size``).

        mergeable (not exactly): two arrival-order reservoirs have no exact merge. The merged
        sample is the ``size`` values of both with the smallest 64-bit hash of their bits (ties by
        value), stored in that order: deterministic, commutative and associative, but not the
        sample one reservoir fed the concatenated stream would hold, and each side's values count
        alike whatever each saw. Binned statistics never read it.

        >>> a, b = Reservoir(size=3, seed=0), Reservoir(size=3, seed=1)
        >>> a.update(np.arange(5.0)); b.update(np.arange(5.0, 9.0))
        >>> c = Reservoir.restore(a.snapshot()); c.merge(b)
        >>> d = Reservoir.restore(b.snapshot()); d.merge(a)
        >>> c.seen, bool(np.array_equal(c.values, d.values))
        (9, True)
        """
        if other.size != self.size:
            raise ValueError("other: reservoir size differs; samples are not mergeable")
        both = np.concatenate([self.values, other.values])
        keep = both[_bottom(both, self.size)]
        self._buf[: len(keep)] = keep
        self._filled = len(keep)
        self.seen += other.seen

    def reset(self) -> None:
        """Forget every value and restart the seeded random stream."""
        self.seen = 0
        self._filled = 0
        self._rng = np.random.default_rng(self.seed)

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state, including the random generator's position (PCG64's 128-bit words in hex)."""
        rng = self._rng.bit_generator.state
        return {
            "size": self.size,
            "seed": self.seed,
            "seen": self.seen,
            "values": pack_array(self.values),
            "rng": {"state": format(rng["state"]["state"], "x"), "inc": format(rng["state"]["inc"], "x"),
                    "has_uint32": rng["has_uint32"], "uinteger": rng["uinteger"]},
        }

    @classmethod
    def restore(cls, snapshot: dict[str, Any]) -> Reservoir:
        """Rebuild a reservoir from :meth:`snapshot` output."""
        r = cls(size=snapshot["size"], seed=snapshot["seed"])
        values = unpack_array(snapshot["values"], "<f8")
        if values.ndim != 1 or len(values) > r.size:
            raise DetectorStateError(f"values: {len(values)} values do not fit a reservoir of size {r.size}")
        r._buf[: len(values)] = values
        r._filled = len(values)
        r.seen = int(snapshot["seen"])
        rng = snapshot["rng"]
        try:
            r._rng.bit_generator.state = {
                "bit_generator": "PCG64", "state": {"state": int(rng["state"], 16), "inc": int(rng["inc"], 16)},
                "has_uint32": int(rng["has_uint32"]), "uinteger": int(rng["uinteger"])}
        except (TypeError, ValueError, KeyError) as exc:
            raise DetectorStateError(f"rng: not a PCG64 state ({exc})") from exc
        return r


def _bottom(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` values with the smallest splitmix64 hash of their bits (ties by value)."""
    with np.errstate(over="ignore"):
        z = values.astype("<f8").view(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return np.lexsort((values, z))[:k]

"""An exact, mergeable sum of float64 values: the mean of a feature over any split of its values.

A float sum depends on the order of its additions in the last bits, so two partitions' sums
added in another order than one partition's give another mean, and a sequential detector fed
that mean may change its mind. :class:`ExactSum` keeps the sum as an integer count of the
smallest subnormal (every finite float64 is a whole multiple of ``2**-1074``), so adding and
merging are integer additions: exact, associative and commutative. :attr:`ExactSum.mean` is
that integer over the count, correctly rounded once.

The batch update is vectorised: each value is split into its 53-bit integer significand (as two
halves of at most 27 bits) and its exponent, the halves are summed per exponent by
``np.bincount`` (whole numbers below ``2**53``, so exact), and only the few exponents present
are combined as Python integers. Memory is O(1): one integer of at most about 2,100 bits.

>>> import numpy as np
>>> values = np.array([1e16, 1.0, -1e16, 1.0, np.nan, 0.1])
>>> s = ExactSum()
>>> s.update(values)
>>> s.n, s.mean, float(np.nanmean(values))  # numpy's float sum loses both ones
(5, 0.42, 0.22000000000000003)
>>> a, b = ExactSum(), ExactSum()
>>> a.update(values[:3]); b.update(values[3:])
>>> b.merge(a); b == s and ExactSum.restore(b.snapshot()) == s
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import DetectorStateError

__all__ = ["ExactSum"]

_UNIT_EXPONENT = 1074  # 2**-1074: the smallest subnormal float64, the unit of the integer sum
_HALF = 2.0**26  # the significand's split: halves below 2**27 sum exactly in float64 ...
_CHUNK = 1 << 25  # ... over at most 2**25 values (2**25 * 2**27 = 2**52 < 2**53)


class ExactSum:
    """The exact sum and count of the finite values seen (NaN and infinities are skipped)."""

    __slots__ = ("n", "units")

    def __init__(self) -> None:
        self.n = 0
        self.units = 0  # the sum, in units of 2**-1074

    def update(self, values: np.ndarray) -> None:
        x = np.asarray(values, dtype=np.float64).ravel()
        x = x[np.isfinite(x)]
        for lo in range(0, len(x), _CHUNK):
            self.units += _units(x[lo:lo + _CHUNK])
        self.n += len(x)

    def merge(self, other: ExactSum) -> None:
        """Add ``other``'s values."""
        self.n += other.n
        self.units += other.units

    @property
    def mean(self) -> float | None:
        """The mean, correctly rounded (``None`` before any value)."""
        if self.n == 0:
            return None
        # int / int is correctly rounded in Python, whatever the sizes.
        return self.units / (self.n << _UNIT_EXPONENT)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExactSum) and (self.n, self.units) == (other.n, other.units)

    def __repr__(self) -> str:
        return f"ExactSum(n={self.n}, mean={self.mean!r})"

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe: the count and the sum as ``odd * 2**shift`` (``odd`` in hexadecimal), so a
        sum of ordinary values takes a few dozen characters, not the 2,100 bits of its units."""
        shift = (self.units & -self.units).bit_length() - 1 if self.units else 0
        return {"n": self.n, "odd": hex(self.units >> shift), "shift": shift}

    @classmethod
    def restore(cls, s: Mapping[str, Any]) -> ExactSum:
        obj = cls()
        try:
            obj.n, obj.units = int(s["n"]), int(str(s["odd"]), 16) << int(s["shift"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DetectorStateError(f"exact sum: {exc}") from exc
        if obj.n < 0 or int(s["shift"]) < 0:
            raise DetectorStateError(f"exact sum: n {obj.n} or shift {s['shift']} is negative")
        return obj


def _units(x: np.ndarray) -> int:
    """The sum of ``x`` (finite, at most ``_CHUNK`` values) in units of 2**-1074."""
    if len(x) == 0:
        return 0
    fraction, exponent = np.frexp(x)  # x = fraction * 2**exponent, 0.5 <= |fraction| < 1
    significand = fraction * 2.0**53  # a whole number below 2**53
    shift = exponent.astype(np.int64) - 53 + _UNIT_EXPONENT
    # A subnormal's significand has trailing zeros enough to be scaled down to shift 0 exactly.
    low = shift < 0
    if low.any():
        significand = np.where(low, np.ldexp(significand, np.minimum(shift, 0)), significand)
        shift = np.maximum(shift, 0)
    high = np.floor(significand / _HALF)
    rest = significand - high * _HALF  # 0 <= rest < 2**26
    highs = np.bincount(shift, weights=high)
    rests = np.bincount(shift, weights=rest)
    total = 0
    for s in np.flatnonzero((highs != 0) | (rests != 0)).tolist():
        total += ((int(highs[s]) << 26) + int(rests[s])) << s
    return total

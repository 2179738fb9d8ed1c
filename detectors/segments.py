"""Which values of a segment key get a group of their own: a bounded vocabulary and its nominations.

A producer may send any number of distinct values for a key (a user id where a country was
meant). :class:`SegmentVocabulary` keeps at most ``max_values`` of them; every other value is
folded into the group ``__other__``, and the rows folded are counted.

* While it has room, the vocabulary admits a new value on first sight (in order of appearance).
* Values folded into ``__other__`` are counted in a :class:`MisraGries` summary of
  ``max_values`` counters: every value making more than 1/(max_values + 1) of the folded rows
  is in it, whatever the order (Misra & Gries 1982).
* At each window close, :meth:`SegmentVocabulary.rebalance` lets a nominated value replace
  the least frequent tracked one when it was folded more often than that one was seen in
  the window (ties: by value), so the vocabulary follows the most frequent values.

Memory is O(max_values) per key, however many values are sent.

mergeable: :class:`MisraGries` summaries merge by adding counters and subtracting the
(k+1)-th largest (Agarwal et al., *Mergeable summaries*, 2012). The vocabulary is not window
state: a window's group statistics are sums keyed by group value, which merge exactly across
partitions that used the same vocabulary (a two-stage aggregation decides the vocabulary once,
from the merged counts, and hands it to every partition).

>>> v = SegmentVocabulary(max_values=2)
>>> v.assign(["DE", "FR", "US", "DE", None])
['DE', 'FR', '__other__', 'DE', None]
>>> v.folded, v.values
(1, ('DE', 'FR'))
>>> _ = v.assign(["US"] * 5)
>>> v.rebalance({"DE": 2, "FR": 1})
[('FR', 'US')]
>>> v.values, SegmentVocabulary.restore(v.snapshot()).snapshot() == v.snapshot()
(('DE', 'US'), True)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._checks import check_int
from .errors import DetectorStateError

__all__ = ["OTHER", "MisraGries", "SegmentVocabulary"]

OTHER = "__other__"
MAX_VALUES = 10_000


class MisraGries:
    """Frequent items in ``capacity`` counters; a counter undercounts by at most n / (capacity + 1).

    >>> mg = MisraGries(2)
    >>> mg.update({"a": 5, "b": 1, "c": 1})
    >>> mg.counts
    {'a': 4}
    >>> mg.merge(MisraGries.restore({"capacity": 2, "counts": {"a": 1, "b": 3}})).counts
    {'a': 5, 'b': 3}
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = check_int("capacity", capacity, low=1, high=MAX_VALUES)
        self.counts: dict[str, int] = {}

    def update(self, counts: Mapping[str, int]) -> None:
        """Add a batch's counts (the batch is summarised like a merge, in one pass)."""
        for value, n in counts.items():
            self.counts[value] = self.counts.get(value, 0) + int(n)
        self._trim()

    def merge(self, other: MisraGries) -> MisraGries:
        self.update(other.counts)
        return self

    def _trim(self) -> None:
        if len(self.counts) <= self.capacity:
            return
        cut = sorted(self.counts.values(), reverse=True)[self.capacity]
        self.counts = {v: n - cut for v, n in sorted(self.counts.items()) if n > cut}

    def clear(self) -> None:
        self.counts = {}

    def snapshot(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "counts": dict(self.counts)}

    @classmethod
    def restore(cls, snapshot: Mapping[str, Any]) -> MisraGries:
        mg = cls(int(snapshot["capacity"]))
        mg.counts = {str(k): int(v) for k, v in snapshot["counts"].items()}
        mg._trim()
        return mg


class SegmentVocabulary:
    """The tracked values of one segment key (see the module docstring)."""

    def __init__(self, max_values: int = 50) -> None:
        self.max_values = check_int("max_values", max_values, low=1, high=MAX_VALUES)
        self._values: dict[str, None] = {}  # insertion-ordered set
        self.nominations = MisraGries(max_values)
        self.folded = 0  # rows folded into __other__ since the vocabulary began (a counter)

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(self._values)

    def assign(self, values: Iterable[str | None]) -> list[str | None]:
        """The group of each value: itself when tracked, ``__other__`` otherwise; ``None`` stays ``None``
        (a row without the key is in none of its groups)."""
        tracked = self._values
        values = values if isinstance(values, list) else list(values)
        if tracked.keys() >= set(values) - {None}:  # the common case, at C speed: every value is tracked
            return values
        out: list[str | None] = []
        folded: Counter = Counter()
        for value in values:
            if value is None or value in tracked:
                out.append(value)
            elif len(tracked) < self.max_values:
                tracked[value] = None
                out.append(value)
            else:
                folded[value] += 1
                out.append(OTHER)
        if folded:
            self.folded += sum(folded.values())
            self.nominations.update(folded)
        return out

    def rebalance(self, window_counts: Mapping[str, int]) -> list[tuple[str, str]]:
        """At a window close: nominated values folded more often than a tracked value was seen in the
        window replace it. Returns ``(dropped, admitted)`` pairs; the nominations start again."""
        nominated = sorted(self.nominations.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        self.nominations.clear()
        if len(self._values) < self.max_values:
            for value, _ in nominated[: self.max_values - len(self._values)]:
                self._values[value] = None
            return []
        weakest = sorted(self._values, key=lambda v: (window_counts.get(v, 0), v))
        swaps = []
        for (value, count), dropped in zip(nominated, weakest, strict=False):
            if count <= window_counts.get(dropped, 0):
                break
            swaps.append((dropped, value))
        for dropped, value in swaps:
            del self._values[dropped]
            self._values[value] = None
        return swaps

    def snapshot(self) -> dict[str, Any]:
        return {"max_values": self.max_values, "values": list(self._values),
                "nominations": self.nominations.snapshot(), "folded": self.folded}

    @classmethod
    def restore(cls, snapshot: Mapping[str, Any], max_values: int | None = None) -> SegmentVocabulary:
        """``max_values`` (the current setting) may differ from the snapshot's: the first values are kept."""
        v = cls(int(snapshot["max_values"]) if max_values is None else max_values)
        values: Sequence[Any] = snapshot["values"]
        if not all(isinstance(x, str) for x in values):
            raise DetectorStateError("values: segment values are strings")
        v._values = dict.fromkeys(values[: v.max_values])
        v.nominations = MisraGries(v.max_values).merge(MisraGries.restore(snapshot["nominations"]))
        v.folded = int(snapshot["folded"])
        return v

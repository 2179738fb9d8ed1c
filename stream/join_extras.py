"""What a few models' pending predictions carry beside their values, by a per-entry code.

An experiment's ``(variant, request_id)`` tag and a segment model's groups wait here while the
prediction waits for its label (:mod:`~driftline.stream.join`); an entry with neither has code
-1 and costs nothing. Codes of entries that left the join without being taken (expired,
evicted, replaced) are dropped by :meth:`JoinExtras.keep_only`, which the join calls when the map
outgrows its live entries.

>>> extras = JoinExtras()
>>> extras.codes([("B", "r1"), None], [None, None]).tolist()
[0, -1]
>>> extras.pop(0), extras.pop(-1)
((('B', 'r1'), None), (None, None))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["JoinExtras"]

_NONE = (None, None)


class JoinExtras:
    """Code -> ``(tag, segment groups)`` of pending predictions."""

    def __init__(self) -> None:
        self._map: dict[int, tuple] = {}
        self._next = 0

    def __len__(self) -> int:
        return len(self._map)

    def codes(self, tags: Sequence, groups: Sequence) -> np.ndarray:
        """Codes of each entry's ``(tag, groups)``, -1 for an entry with neither."""
        out = np.full(len(tags), -1, dtype=np.int64)
        for i, (tag, g) in enumerate(zip(tags, groups, strict=True)):
            if tag is not None or g is not None:
                out[i] = code = self._next
                self._next += 1
                self._map[code] = (tag, g)
        return out

    def get(self, code: int) -> tuple:
        return self._map.get(code, _NONE)

    def pop(self, code: int) -> tuple:
        return self._map.pop(code, _NONE) if code >= 0 else _NONE

    def keep_only(self, live: Iterable[int]) -> None:
        """Forget every code not in ``live``."""
        live = set(live)
        self._map = {k: v for k, v in self._map.items() if k in live}

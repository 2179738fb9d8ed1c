"""Compact pending entries of the label join: fixed-width numpy columns keyed by a 128-bit hash.

An entry is one row of fixed-width columns: its key (two 64-bit hashes), its event time, an
``alive`` flag and the join's own value columns (prediction, score, model/version as small
codes; see :mod:`driftline.stream.join`). Rows are appended in arrival order, so the oldest
entries come first (eviction at the cap and expiry walk from the front, like the ordered dict
they replace). An open-addressing index (linear probing, ``int32`` row numbers, at most half
full) finds a key's row; lookups and inserts are vectorised over a batch. A matched, expired,
evicted or replaced entry is only marked dead; dead rows leave when the table compacts, before
it would grow. Bytes per entry: about 50 in the columns plus 8 to 16 in the index, divided by
the fill of the columns (at least 2/3 after growing, 7/8 of the rows alive): at most about 115.

Keys: ``k1`` and ``k2`` are two independent 64-bit keyed hashes of the event id (CPython's
SipHash of the id and of the id with one more character; its key is random per process, which
is fine since pending entries are rebuilt from the tables on restore, never saved), each mixed
(XOR) with a keyed hash of the model name. Two different (model, event_id) pairs share a key
with probability 2^-128: with 10^6 pending entries and 10^12 lookups, below 10^-20. See
docs/guarantees.md "Label join".

>>> table = PendingTable({"v": np.float64})
>>> table.add(*event_keys(["a", "b", "c"], "m"), np.array([10, 20, 30]), {"v": np.array([1.0, 2.0, 3.0])})
>>> rows = table.find(*event_keys(["b", "z"], "m"))
>>> rows.tolist()[1], table.take(rows[rows >= 0])["v"].tolist(), table.alive
(-1, [2.0], 2)
>>> table.expire(horizon_ms=25), table.alive  # from the front: "a" (10); "c" (30) is young
(1, 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import repeat

import numpy as np

__all__ = ["PendingTable", "event_keys", "first_only"]

_MIN_CAPACITY = 1024
_GROWTH = 1.5

_MIX: dict[str, tuple[int, int]] = {}  # model -> its two 64-bit mixing constants (this process)


def _mix(model: str) -> tuple[int, int]:
    mix = _MIX.get(model)
    if mix is None:
        if len(_MIX) > 100_000:  # models are few; a stream of names never grows it without bound
            _MIX.clear()
        mix = _MIX[model] = (hash(model + "\x1e"), hash(model + "\x1d"))
    return mix


def event_keys(event_ids: Sequence[str], models: str | Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The two 64-bit keys of each (model, event id): one model for all, or one per id."""
    n = len(event_ids)
    k1 = np.fromiter(map(hash, event_ids), dtype=np.int64, count=n)
    k2 = np.fromiter(map(hash, map(str.__add__, event_ids, repeat("\x1f", n))), dtype=np.int64, count=n)
    if isinstance(models, str):
        m1, m2 = _mix(models)
        return k1 ^ np.int64(m1), k2 ^ np.int64(m2)
    get = _MIX.get
    mixes = np.array([get(m) or _mix(m) for m in models], dtype=np.int64).reshape(n, 2)
    return k1 ^ mixes[:, 0], k2 ^ mixes[:, 1]


class PendingTable:
    """Entries with columns ``k1``, ``k2``, ``ts``, ``alive`` and ``columns`` (name -> dtype)."""

    def __init__(self, columns: Mapping[str, type]) -> None:
        self.dtypes = {"k1": np.int64, "k2": np.int64, "ts": np.int64, "alive": np.bool_, **columns}
        self.cols = {name: np.empty(0, dtype) for name, dtype in self.dtypes.items()}
        self.rows = 0  # rows in use (alive or dead), in arrival order
        self.head = 0  # rows before it are all dead
        self.alive = 0
        self._slots = np.full(8, -1, dtype=np.int32)

    @property
    def nbytes(self) -> int:
        """Bytes held: the columns at their capacity and the index."""
        return sum(a.nbytes for a in self.cols.values()) + self._slots.nbytes

    # -- lookups ----------------------------------------------------------------------------------
    def find(self, k1: np.ndarray, k2: np.ndarray) -> np.ndarray:
        """The row of each key while it is pending, else -1."""
        n = len(k1)
        found = np.full(n, -1, dtype=np.int64)
        if not self.alive or not n:
            return found
        slots, mask = self._slots, len(self._slots) - 1
        keys1, keys2, alive = self.cols["k1"], self.cols["k2"], self.cols["alive"]
        active = np.arange(n)
        pos = k1 & mask
        while len(active):
            row = slots[pos]
            used = row >= 0
            r = np.where(used, row, 0)
            match = used & (keys1[r] == k1[active]) & (keys2[r] == k2[active]) & alive[r]
            found[active[match]] = r[match]
            more = used & ~match  # another key (or a dead row of this one) in the slot: probe on
            active, pos = active[more], (pos[more] + 1) & mask
        return found

    def take(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """The columns of ``rows`` (pending rows, in that order); they stop being pending."""
        out = {name: column[rows] for name, column in self.cols.items()}
        self.cols["alive"][rows] = False
        self.alive -= len(rows)
        return out

    # -- changes ----------------------------------------------------------------------------------
    def add(self, k1: np.ndarray, k2: np.ndarray, ts: np.ndarray, values: Mapping[str, np.ndarray]) -> None:
        """Add entries in arrival order; a key already pending, or repeated later in the batch, is replaced."""
        n = len(k1)
        if not n:
            return
        self._reserve(n)
        start, stop = self.rows, self.rows + n
        cols = self.cols
        cols["k1"][start:stop] = k1
        cols["k2"][start:stop] = k2
        cols["ts"][start:stop] = ts
        cols["alive"][start:stop] = True
        for name, column in values.items():
            cols[name][start:stop] = column
        self.rows = stop
        self.alive += n
        self._index(np.arange(start, stop))

    def evict_oldest(self, keep: int) -> int:
        """Drop the oldest-added entries beyond ``keep``; returns how many."""
        excess = self.alive - keep
        if excess <= 0:
            return 0
        alive, dropped = self.cols["alive"], 0
        while dropped < excess:
            window = alive[self.head:min(self.rows, self.head + max(2 * (excess - dropped), 256))]
            live = np.flatnonzero(window)
            need = excess - dropped
            if len(live) > need:
                window[live[:need]] = False
                self.head += int(live[need - 1]) + 1
                dropped = excess
            else:
                window[live] = False
                self.head += len(window)
                dropped += len(live)
        self.alive -= excess
        return excess

    def expire(self, horizon_ms: int) -> int:
        """Drop entries from the front while they are older than ``horizon_ms``; returns how many.

        Arrival order is close to event-time order: stopping at the first young entry makes expiry
        cost O(expired), and an old entry behind a young one waits for its turn (or for the cap)."""
        alive, ts = self.cols["alive"], self.cols["ts"]
        dropped, width = 0, 64
        while self.head < self.rows:
            stop = min(self.rows, self.head + width)
            live = alive[self.head:stop]
            young = live & (ts[self.head:stop] >= horizon_ms)
            cut = int(np.argmax(young)) if young.any() else stop - self.head
            old = np.flatnonzero(live[:cut])
            live[old] = False
            dropped += len(old)
            self.head += cut
            if cut < len(live):  # stopped at a young entry
                break
            width *= 2
        self.alive -= dropped
        return dropped

    def rows_in_order(self) -> dict[str, np.ndarray]:
        """Every pending entry, oldest-added first."""
        live = self.cols["alive"][:self.rows]
        return {name: column[:self.rows][live] for name, column in self.cols.items()}

    # -- storage ----------------------------------------------------------------------------------
    def _reserve(self, n: int) -> None:
        capacity = len(self.cols["k1"])
        if self.rows + n <= capacity:
            return
        if self.rows - self.alive > self.rows // 8:  # enough dead rows: compact first
            self._compact()
            if self.rows + n <= 0.9 * capacity:
                return
        size = max(_MIN_CAPACITY, int((self.rows + n) * _GROWTH))
        for name, column in self.cols.items():
            grown = np.zeros(size, dtype=column.dtype)
            grown[:self.rows] = column[:self.rows]
            self.cols[name] = grown
        self._rebuild_index(size)

    def _compact(self) -> None:
        live = self.cols["alive"][:self.rows].copy()
        kept = int(live.sum())
        for column in self.cols.values():
            column[:kept] = column[:self.rows][live]
        self.rows, self.head, self.alive = kept, 0, kept
        self._rebuild_index(len(self.cols["k1"]))

    def _rebuild_index(self, capacity: int) -> None:
        size = 8
        while size < 2 * capacity:
            size *= 2
        self._slots = np.full(size, -1, dtype=np.int32)
        live = np.flatnonzero(self.cols["alive"][:self.rows])
        self._index(live)

    def _index(self, rows: np.ndarray) -> None:
        """Point the index at ``rows`` (numbered in arrival order). A row takes the slot of a row of its
        key, which dies (it is replaced) when it is older, or the first free slot of its probe
        sequence; a row meeting a newer row of its key dies instead (the batch repeated the key)."""
        slots, mask = self._slots, len(self._slots) - 1
        keys1, keys2, alive = self.cols["k1"], self.cols["k2"], self.cols["alive"]
        pos = keys1[rows] & mask
        while len(rows):
            held = slots[pos]
            free = held < 0
            r = np.where(free, 0, held)
            same = ~free & (keys1[r] == keys1[rows]) & (keys2[r] == keys2[rows])
            older = same & (r > rows)  # a newer row of the key is there already: this one is replaced
            if same.any():
                # np.unique: two rows of one key may meet the same older row in one round
                replaced = np.unique(np.concatenate([r[same & ~older & alive[r]], rows[older & alive[rows]]]))
                alive[replaced] = False
                self.alive -= len(replaced)
            # Rows aiming at the same slot all write it; the one whose number stays has it, the
            # others look at the same slot again (it may hold their key now).
            target = free | (same & ~older)
            slots[pos[target]] = rows[target]
            done = older | (target & (slots[pos] == rows))
            advance = ~free & ~same
            left = ~done
            rows, pos = rows[left], np.where(advance, (pos + 1) & mask, pos)[left]


def first_only(rows: np.ndarray, k1: np.ndarray, k2: np.ndarray) -> np.ndarray:
    """``rows`` with -1 where an earlier event of the batch has the same key: a pending entry is
    completed by the first event of its key, the later ones wait in their turn."""
    hits = np.flatnonzero(rows >= 0)
    if len(hits) < 2:
        return rows
    found = rows[hits]
    order = np.argsort(found, kind="stable")
    repeat = np.zeros(len(hits), dtype=bool)
    repeat[order[1:]] = found[order][1:] == found[order][:-1]
    if repeat.any():
        rows = rows.copy()
        rows[hits[repeat]] = -1
    return rows

"""The ``model_versions`` table: each version's lifecycle state, who set it, and when it was seen.

One row per (model, version, changed_at) (see ``sinks/schema/0004_experiments.sql``): the worker
rewrites the row of the state it knows as it sees traffic; a change made elsewhere (the CLI, an
acknowledged action webhook) is written as a row with a new ``changed_at``, which no worker row
overwrites. The current state of a version is the row with the greatest ``changed_at``; first and
last seen are the min and max over its rows, a zero (the epoch) meaning unknown.

>>> rows = VersionRows([VersionRecord("credit", "v2", "rolled_back", "worse", "verdict:canary", 120_000,
...                                   60_000, 119_000)], now_s=200)
>>> cols = rows.columns()
>>> len(rows), cols["state"], cols["changed_at"], cols["first_seen"], cols["updated_at"]
(1, ['rolled_back'], [120], [60], [200])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .store import Store

__all__ = ["STATES", "VersionRecord", "VersionRows", "VersionSummary", "latest_version_states",
           "set_version_state", "version_summaries"]

STATES = ("active", "canary", "shadow", "promoted", "rolled_back", "deactivated")


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """A version's lifecycle as one writer knows it; times are epoch ms (0: not seen)."""

    model: str
    version: str
    state: str
    reason: str
    changed_by: str
    changed_at_ms: int
    first_seen_ms: int = 0
    last_seen_ms: int = 0


@dataclass(frozen=True, slots=True)
class VersionSummary:
    """What ``driftline versions`` lists: the current state and the seen times (epoch seconds)."""

    model: str
    version: str
    state: str
    reason: str
    changed_by: str
    changed_at_s: int
    first_seen_s: int
    last_seen_s: int


class VersionRows:
    """``model_versions`` rows of some :class:`VersionRecord`, written at ``now_s`` (their ``updated_at``)."""

    table = "model_versions"

    def __init__(self, records: Iterable[VersionRecord], *, now_s: int) -> None:
        self.records = list(records)
        self.now_s = now_s

    def __len__(self) -> int:
        return len(self.records)

    def columns(self) -> dict[str, list]:
        r = self.records
        return {"model": [x.model for x in r], "version": [x.version for x in r], "state": [x.state for x in r],
                "reason": [x.reason[:2000] for x in r], "changed_by": [x.changed_by for x in r],
                "changed_at": [x.changed_at_ms // 1000 for x in r], "first_seen": [x.first_seen_ms // 1000 for x in r],
                "last_seen": [x.last_seen_ms // 1000 for x in r], "updated_at": [self.now_s] * len(r)}


_LATEST = """
SELECT model, version, argMax(state, changed_at), argMax(reason, changed_at), argMax(changed_by, changed_at),
       toUnixTimestamp(max(changed_at)),
       toUnixTimestamp(minIf(first_seen, first_seen > toDateTime(0))), toUnixTimestamp(max(last_seen))
FROM model_versions FINAL
WHERE model IN %(models)s
GROUP BY model, version
ORDER BY model, version
LIMIT %(n)s
"""


def version_summaries(store: Store, models: Sequence[str], limit: int = 10_000) -> list[VersionSummary]:
    """Every version of ``models`` in ``model_versions``, its current state first, by model and version."""
    if not models:
        return []
    return [VersionSummary(model, version, state, reason, changed_by, int(changed), int(first or 0), int(last or 0))
            for model, version, state, reason, changed_by, changed, first, last
            in store.execute(_LATEST, {"models": tuple(models), "n": limit})]


def latest_version_states(store: Store, models: Sequence[str], limit: int = 10_000) -> list[VersionRecord]:
    """The current state of every version of ``models``: what a worker adopts from other writers."""
    return [VersionRecord(s.model, s.version, s.state, s.reason, s.changed_by, s.changed_at_s * 1000,
                          s.first_seen_s * 1000, s.last_seen_s * 1000) for s in version_summaries(store, models, limit)]


def set_version_state(store: Store, model: str, version: str, state: str, *, reason: str, changed_by: str,
                      now_s: int) -> VersionRecord:
    """Record a state change made outside the worker (``changed_at`` = ``now_s``); workers adopt it."""
    if state not in STATES:
        raise ValueError(f"state: {state!r} is not a lifecycle state (expected one of: {', '.join(STATES)})")
    record = VersionRecord(model, version, state, reason, changed_by, now_s * 1000)
    store.insert("model_versions", VersionRows([record], now_s=now_s).columns())
    return record

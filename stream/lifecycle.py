"""The version lifecycle a partition knows: each version's state, who set it, when it was seen.

A :class:`Lifecycle` is part of a partition's state. It learns of a version from its first
predictions (state ``active``, or the experiment's challenger state: ``canary``, ``shadow``),
of a decision from an experiment's verdict (``rolled_back``, ``promoted``), and of a change made
elsewhere (``driftline versions set``, an acknowledged action webhook) from the
``model_versions`` table, which the ingest loop reads back every few seconds (:meth:`adopt`).
Each closed prediction window of a version rewrites its row (first and last seen); state
changes write theirs at once. A version that was rolled back or deactivated and still gets
predictions a grace period after the change is reported (:meth:`traffic`) to the
``rollback_not_effective`` rule.

Verdict changes are stamped with the event time of the window that decided, so a replay after a
crash writes the same row; a replay whose late labels made it decide a window later keeps the
first decision's row when it has read it back from the table (:meth:`adopt`), and otherwise writes
a second row with the same state. Changes made elsewhere carry the wall-clock time they were made.

>>> life = Lifecycle()
>>> life.saw("credit", "v2", 1_000, 5_000, "canary")
>>> life.decided("credit", "v2", "rolled_back", "worse", "verdict:canary", 60_000)
>>> [(r.version, r.state, r.first_seen_ms, r.last_seen_ms) for r in life.rows()]
[('v2', 'rolled_back', 1000, 5000)]
>>> life.rows()  # nothing new since
[]
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from driftline.detectors import VersionTraffic, WindowReport
from driftline.sinks.lifecycle import VersionRecord

__all__ = ["INACTIVE_STATES", "Lifecycle"]

INACTIVE_STATES = frozenset({"rolled_back", "deactivated"})
MAX_PER_MODEL = 20  # versions remembered per model (worker.versions.max_per_model): the least recently seen go


@dataclass(slots=True)
class _Entry:
    record: VersionRecord
    dirty: bool = True


class Lifecycle:
    """The lifecycle of the versions of one partition (see the module docstring)."""

    def __init__(self) -> None:
        self.versions: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    def state(self, model: str, version: str) -> VersionRecord | None:
        entry = self.versions.get((model, version))
        return None if entry is None else entry.record

    def saw(self, model: str, version: str, first_ms: int, last_ms: int, initial_state: str,
            known: VersionRecord | None = None, *, max_per_model: int = MAX_PER_MODEL) -> None:
        """Predictions of ``version`` with event times in ``[first_ms, last_ms]``. A new version takes
        ``known`` (its state in the table) if given, else ``initial_state``; past ``max_per_model``
        versions of the model the least recently seen is forgotten (the table keeps its state, and
        a version seen again takes it back from there)."""
        key = (model, version)
        entry = self.versions.get(key)
        if entry is None:
            base = known or VersionRecord(model, version, initial_state, "first seen", "driftline", first_ms)
            entry = self.versions[key] = _Entry(replace(base, first_seen_ms=first_ms, last_seen_ms=last_ms))
            same = [k for k in self.versions if k[0] == model]
            if len(same) > max_per_model:
                del self.versions[same[0]]
            return
        r = entry.record
        entry.record = replace(r, first_seen_ms=min(r.first_seen_ms or first_ms, first_ms),
                               last_seen_ms=max(r.last_seen_ms, last_ms))
        self.versions.move_to_end(key)

    def window_closed(self, report: WindowReport) -> None:
        """A prediction window of the version closed: its row (first and last seen) is written."""
        entry = self.versions.get((report.model, report.version))
        if entry is not None and report.n_predictions:
            entry.dirty = True

    def decided(self, model: str, version: str, state: str, reason: str, changed_by: str, at_ms: int) -> None:
        """A verdict changed the state of ``version`` at event time ``at_ms``. The same decision
        already known (a replay that decided a window later than the worker before it, whose row
        it adopted from the table) keeps its first time: no second row."""
        entry = self.versions.get((model, version))
        if entry is not None and (entry.record.state, entry.record.changed_by) == (state, changed_by):
            return
        if entry is None:
            entry = self.versions[(model, version)] = _Entry(VersionRecord(model, version, state, reason,
                                                                           changed_by, at_ms))
        entry.record = replace(entry.record, state=state, reason=reason, changed_by=changed_by, changed_at_ms=at_ms)
        entry.dirty = True

    def adopt(self, known: Mapping[tuple[str, str], VersionRecord]) -> None:
        """Take each change made elsewhere that is newer than the one this partition knows."""
        for key, entry in self.versions.items():
            other = known.get(key)
            if other is not None and other.changed_at_ms > entry.record.changed_at_ms:
                entry.record = replace(entry.record, state=other.state, reason=other.reason,
                                       changed_by=other.changed_by, changed_at_ms=other.changed_at_ms)
                entry.dirty = True

    def traffic(self, report: WindowReport, grace_ms: Callable[[str], int]) -> list[VersionTraffic]:
        """What a closed prediction window says about the model's inactive versions: predictions for
        the report's own version, none for one not seen since the window started (``grace_ms(model)``
        after the change, so a router has time to act)."""
        if not report.n_predictions:
            return []
        out = []
        for (model, version), entry in self.versions.items():
            r = entry.record
            if model != report.model or r.state not in INACTIVE_STATES \
                    or report.window_start_ms < r.changed_at_ms + grace_ms(model):
                continue
            if version == report.version:
                n = report.n_predictions
            elif r.last_seen_ms < report.window_start_ms:
                n = 0
            else:
                continue
            out.append(VersionTraffic(model, version, report.window_start_ms, report.window_end_ms, n, r.state,
                                      r.changed_at_ms, r.changed_by))
        return out

    def rows(self) -> list[VersionRecord]:
        """The records changed since the last call (their ``model_versions`` rows to write)."""
        out = []
        for entry in self.versions.values():
            if entry.dirty:
                out.append(entry.record)
                entry.dirty = False
        return out

    # -- checkpoints -------------------------------------------------------------------------------
    def snapshot(self) -> list[list[Any]]:
        return [[r.model, r.version, r.state, r.reason, r.changed_by, r.changed_at_ms, r.first_seen_ms,
                 r.last_seen_ms, e.dirty] for e in self.versions.values() for r in (e.record,)]

    @classmethod
    def restore(cls, snapshot: Iterable[list[Any]]) -> Lifecycle:
        life = cls()
        for model, version, state, reason, by, changed, first, last, dirty in snapshot:
            record = VersionRecord(str(model), str(version), str(state), str(reason), str(by), int(changed),
                                   int(first), int(last))
            life.versions[(record.model, record.version)] = _Entry(record, bool(dirty))
        return life

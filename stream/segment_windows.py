"""Per-group state of one window of one model version, for every segment key, and its checkpoint form.

A :class:`GroupWindow` holds the prediction side (predictions and positive predictions per
group, and drift sketches per group when segment drift is configured); a
:class:`GroupLabelWindow` the label side (a :class:`~driftline.detectors.PerformanceWindow`
per group: confusion counts and score histograms, or error sums).

mergeable: every field is a count, a sum, a fixed-grid histogram or a sketch binned on the
reference's grid, keyed by (segment key, group value): two partial states merge by adding
per key and value, in any order. The per-group score histogram has :data:`SCORE_BINS` bins
(the model's has 1000): a group's ROC AUC counts scores in the same 1/100 bin as ties.

>>> w = GroupWindow()
>>> w.count("country", ["DE", "FR", "DE", None], [True, False, False, True])
>>> w.counts, w.selected
({'country': {'DE': 2, 'FR': 1}}, {'country': {'DE': 1}})
>>> GroupWindow.restore(w.snapshot(), lambda key, group: None).snapshot() == w.snapshot()
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from driftline.detectors import PerformanceWindow, ReferenceProfile, WindowSketch

__all__ = ["SCORE_BINS", "GroupLabelWindow", "GroupWindow"]

SCORE_BINS = 100


@dataclass
class GroupWindow:
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # key -> group -> predictions
    selected: dict[str, dict[str, int]] = field(default_factory=dict)  # key -> group -> positive predictions
    sketches: dict[str, dict[str, WindowSketch]] = field(default_factory=dict)  # key -> group -> drift sketch

    def count(self, key: str, groups: Sequence[str | None], positive: Sequence[bool] | None) -> None:
        """Add rows: their groups (``None``: the row has no value for the key) and, for a binary
        classifier, whether each was predicted positive."""
        names: dict[str, int] = {}
        codes = np.fromiter((-1 if g is None else names.setdefault(g, len(names)) for g in groups), dtype=np.int64,
                            count=len(groups))
        self.add(key, list(names), codes, None if positive is None else np.asarray(positive, dtype=bool))

    def add(self, key: str, names: Sequence[str], codes: np.ndarray, positive: np.ndarray | None) -> None:
        """Add rows given as group codes (indices into ``names``; -1: no value for the key)."""
        valid = codes >= 0
        counts = self.counts.setdefault(key, {})
        for code, n in enumerate(np.bincount(codes[valid], minlength=len(names)).tolist()):
            if n:
                counts[names[code]] = counts.get(names[code], 0) + n
        if positive is not None:
            selected = self.selected.setdefault(key, {})
            for code, n in enumerate(np.bincount(codes[valid & positive], minlength=len(names)).tolist()):
                if n:
                    selected[names[code]] = selected.get(names[code], 0) + n

    def merge(self, other: GroupWindow) -> None:
        """Add ``other``, the same window's groups from other rows (per key and group)."""
        for mine, theirs in ((self.counts, other.counts), (self.selected, other.selected)):
            for key, groups in theirs.items():
                into = mine.setdefault(key, {})
                for group, n in groups.items():
                    into[group] = into.get(group, 0) + n
        for key, groups in other.sketches.items():
            into_sketches = self.sketches.setdefault(key, {})
            for group, sketch in groups.items():
                if group not in into_sketches:
                    into_sketches[group] = WindowSketch(sketch.profile)
                into_sketches[group].merge(sketch)

    def snapshot(self) -> dict[str, Any]:
        return {"counts": self.counts, "selected": self.selected,
                "sketches": {key: {g: s.snapshot() for g, s in groups.items()} for key, groups in self.sketches.items()}}

    @classmethod
    def restore(cls, s: Mapping[str, Any],
                profile: Callable[[str, str], ReferenceProfile | None]) -> GroupWindow:
        """``profile(key, group)`` is the reference a group's sketch is binned on (``None``: the sketch is
        dropped, as the reference it was built on is gone)."""
        w = cls({str(k): {str(g): int(n) for g, n in v.items()} for k, v in s["counts"].items()},
                {str(k): {str(g): int(n) for g, n in v.items()} for k, v in s["selected"].items()})
        for key, groups in s["sketches"].items():
            for group, sketch in groups.items():
                reference = profile(key, group)
                if reference is not None:
                    w.sketches.setdefault(key, {})[group] = WindowSketch.restore(reference, sketch)
        return w


@dataclass
class GroupLabelWindow:
    performance: dict[str, dict[str, PerformanceWindow]] = field(default_factory=dict)  # key -> group -> metrics

    def group(self, key: str, group: str, task: str, positive_label: Any) -> PerformanceWindow:
        groups = self.performance.setdefault(key, {})
        pw = groups.get(group)
        if pw is None:
            pw = groups[group] = PerformanceWindow(task, positive_label=positive_label, score_bins=SCORE_BINS)
        return pw

    def merge(self, other: GroupLabelWindow) -> None:
        """Add ``other``, the same label window's groups from other labels."""
        for key, groups in other.performance.items():
            for group, pw in groups.items():
                self.group(key, group, pw.task, pw.positive_label).merge(pw)

    def snapshot(self) -> dict[str, Any]:
        return {"performance": {key: {g: pw.snapshot() for g, pw in groups.items()}
                                for key, groups in self.performance.items()}}

    @classmethod
    def restore(cls, s: Mapping[str, Any]) -> GroupLabelWindow:
        return cls({str(key): {str(g): PerformanceWindow.restore(pw) for g, pw in groups.items()}
                    for key, groups in s["performance"].items()})

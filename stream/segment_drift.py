"""Drift of chosen features per segment group, against the global reference or each group's own.

With ``reference: global`` every group's window is binned on the model's reference (its
chosen features); with ``reference: segment`` each tracked group builds its own reference
from its first ``reference_events`` rows (a :class:`~driftline.detectors.ReferenceBuilder`
per group, at most ``max_values + 1`` per key) and is compared with it from then on. The
drift tests, thresholds and correction are the model's (``drift:``), applied per group and
window without persistence, to groups with at least ``min_rows`` rows in the window. Sketches
keep a sample of :data:`SAMPLE_SIZE` values per numeric feature (for KS and Wasserstein), the
model's keep 2000.

mergeable: a group's window sketch holds counts on the reference's bins and a seeded
sample; the verdicts are a pure function of the sketch and the reference.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
from driftline.detectors import (
    DriftSettings,
    DriftSuite,
    ReferenceBuilder,
    ReferenceProfile,
    SegmentMetric,
    WindowSketch,
)
from driftline.settings import ModelSettings

from .columns import detector_kinds

__all__ = ["SAMPLE_SIZE", "SegmentDrift"]

SAMPLE_SIZE = 200


class SegmentDrift:
    def __init__(self, settings: ModelSettings, reference: ReferenceProfile | None) -> None:
        spec = settings.segments.drift
        self.features = spec.features
        self.own = spec.reference == "segment"
        self.warmup = spec.reference_events
        self.min_rows = spec.min_rows
        self.kinds = {f: k for f, k in detector_kinds(settings.features).items() if f in self.features}
        d = settings.drift
        self.suite_settings = DriftSettings(d.numeric, d.categorical, d.correction, (1, 1), d.importances,
                                            combine=d.combine)
        self.global_profile: ReferenceProfile | None = None
        self.builders: dict[tuple[str, str], ReferenceBuilder] = {}
        self.profiles: dict[tuple[str, str], ReferenceProfile] = {}
        self._suites: dict[int, DriftSuite] = {}
        if reference is not None:
            self.reference_ready(reference)

    def reference_ready(self, reference: ReferenceProfile) -> None:
        if not self.own:
            self.global_profile = _subset(reference, self.features)

    def profile(self, key: str, group: str) -> ReferenceProfile | None:
        return self.profiles.get((key, group)) if self.own else self.global_profile

    def update(self, key: str, group: str, columns: Mapping[str, np.ndarray], sketches: dict) -> None:
        """Rows of one group in one window: to its reference builder first, then to its sketch."""
        rows = {f: columns[f] for f in self.features}
        offset = 0
        if self.own and (key, group) not in self.profiles:
            builder = self.builders.get((key, group))
            if builder is None:
                builder = self.builders[(key, group)] = ReferenceBuilder(self.kinds, warmup_events=self.warmup,
                                                                         reservoir_size=SAMPLE_SIZE)
            offset = builder.update(rows)
            if builder.ready:
                self.profiles[(key, group)] = builder.build()
                del self.builders[(key, group)]
        profile = self.profile(key, group)
        if profile is None:
            return
        rest = {f: col[offset:] for f, col in rows.items()}
        if len(next(iter(rest.values()))) == 0:
            return
        sketch = sketches.get(group)
        if sketch is None:
            sketch = sketches[group] = WindowSketch(profile)
        sketch.update(rest)

    def forget(self, key: str, group: str) -> None:
        """A value left the vocabulary: its own reference goes (memory stays bounded)."""
        self.builders.pop((key, group), None)
        self.profiles.pop((key, group), None)

    def evaluate(self, key: str, sketches: Mapping[str, WindowSketch]) -> list[SegmentMetric]:
        out = []
        for group, sketch in sorted(sketches.items()):
            if sketch.n < self.min_rows:
                continue
            suite = self._suites.get(id(sketch.profile))
            if suite is None or suite.reference is not sketch.profile:
                suite = self._suites[id(sketch.profile)] = DriftSuite(sketch.profile, self.suite_settings)
            for r in suite.evaluate(sketch):
                out.append(SegmentMetric(key, group, f"drift:{r.feature}:{r.test}", float(r.statistic), sketch.n))
                out.append(SegmentMetric(key, group, f"drifted:{r.feature}:{r.test}", float(r.drifted), sketch.n))
        if len(self._suites) > 4 * (len(self.profiles) + 1):
            self._suites.clear()
        return out

    def snapshot(self) -> dict[str, Any]:
        return {"builders": [[k, g, b.snapshot()] for (k, g), b in self.builders.items()],
                "profiles": [[k, g, p.to_dict(packed=True)] for (k, g), p in self.profiles.items()]}

    def restore(self, s: Mapping[str, Any]) -> None:
        if not self.own:
            return
        for key, group, snap in s["builders"]:
            self.builders[(key, group)] = ReferenceBuilder.restore(self.kinds, snap, warmup_events=self.warmup,
                                                                   reservoir_size=SAMPLE_SIZE)
        for key, group, profile in s["profiles"]:
            loaded = ReferenceProfile.from_dict(profile)
            if list(loaded.features) == list(self.kinds):
                self.profiles[(key, group)] = loaded


def _subset(reference: ReferenceProfile, features) -> ReferenceProfile | None:
    chosen = {f: reference.features[f] for f in features if f in reference.features}
    if not chosen:
        return None
    return dataclasses.replace(reference, features=chosen, reservoir_size=min(SAMPLE_SIZE, reference.reservoir_size))

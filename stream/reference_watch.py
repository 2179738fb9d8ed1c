"""Which reference each monitored version uses, told where an operator looks.

The ingest thread calls :meth:`ReferenceWatch.observe` with its partitions' states about once a
second; the watch keeps ``driftline_reference_info{model,version,source,digest}`` equal to the
references in use (label sets of versions no longer monitored here are removed, so the series stay
bounded like the versions), counts the replacements a restore made
(``driftline_reference_changes_total``), logs a warm-up reference when it becomes ready, and hands
the status page a copy (:meth:`current`) from any thread. The rule itself, "the config wins", is
:mod:`driftline.stream.monitor_state`'s.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from driftline.sinks.metrics import WorkerMetrics

from .monitor_state import reference_info
from .partition import PartitionState

__all__ = ["ReferenceInUse", "ReferenceWatch"]

log = logging.getLogger("driftline.references")


@dataclass(frozen=True)
class ReferenceInUse:
    """The reference of one model version on one partition; ``replaced`` names the checkpointed one the
    configured reference replaced when this worker restored the partition, if any."""

    model: str
    version: str
    partition: int
    source: str  # profile | path | warmup
    digest: str  # first 12 hex digits of its sha256; "" while the warm-up runs
    replaced: str | None = None


class ReferenceWatch:
    def __init__(self, metrics: WorkerMetrics) -> None:
        self.metrics = metrics
        self._lock = threading.Lock()
        self._current: dict[tuple[str, str, int], ReferenceInUse] = {}
        self._labels: set[tuple[str, str, str, str]] = set()
        self._counted: set[int] = set()  # ids of monitors whose replacement was counted

    def observe(self, states: Mapping[int, PartitionState]) -> None:
        """Bring the metric and the status page's copy up to date with ``states`` (the ingest thread's)."""
        current: dict[tuple[str, str, int], ReferenceInUse] = {}
        counted: set[int] = set()
        for partition, state in states.items():
            for (model, version), monitor in state.monitors.items():
                source, digest = reference_info(monitor)
                current[(model, version, partition)] = ReferenceInUse(model, version, partition, source, digest,
                                                                      monitor.reference_replaced)
                if monitor.reference_replaced is not None:
                    counted.add(id(monitor))
                    if id(monitor) not in self._counted:
                        self.metrics.reference_changes.labels(model).inc()
        for key, now in current.items():
            before = self._current.get(key)
            if before is not None and not before.digest and now.digest:
                log.info("%s/%s (partition %d): the warm-up reference is ready (sha256 %s)", now.model,
                         now.version, now.partition, now.digest)
        labels = {(r.model, self.metrics.version_label(r.model, r.version), r.source, r.digest)
                  for r in current.values()}
        for stale in self._labels - labels:
            self.metrics.reference_info.remove(*stale)
        for fresh in labels - self._labels:
            self.metrics.reference_info.labels(*fresh).set(1)
        with self._lock:
            self._current, self._labels, self._counted = current, labels, counted

    def current(self) -> list[ReferenceInUse]:
        """The references in use, by model, version and partition (safe from any thread)."""
        with self._lock:
            return sorted(self._current.values(), key=lambda r: (r.model, r.version, r.partition))

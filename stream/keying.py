"""Keying: which Kafka partitions each model's events arrive on.

Producers must key every prediction and feedback event by ``model``, so that one partition
holds all of a model's events and its state. A producer that keys otherwise (by event id,
no key at all) spreads a model over several partitions: each computes its own windows from
part of the events, and a label can land on another partition than its prediction. Results
are then kept per partition (``kafka_partition`` is part of the results' key), never
replaced, and this module says so.

A worker records the models each of its partitions had events of within ``horizon_s``
(processing time); each checkpoint stores that list with the partition
(``checkpoints.models``), so every worker sees every partition of the group, including
those other workers own. ``driftline_model_partitions{model}`` is the number of partitions
a model is on (over 1: keyed inconsistently), and a warning names the model and its
partitions whenever that set changes.

>>> from driftline.sinks.metrics import WorkerMetrics
>>> from prometheus_client import CollectorRegistry
>>> watch = KeyingWatch(WorkerMetrics(CollectorRegistry()), clock=lambda: 100.0)
>>> watch.saw(0, ["credit"], ["credit"])
>>> watch.models(0)
('credit',)
>>> watch.update({0: ["credit"], 3: ["credit", "fraud"]})
{'credit': (0, 3)}
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

from driftline.sinks.metrics import WorkerMetrics

__all__ = ["KeyingWatch"]

log = logging.getLogger("driftline.ingest")


class KeyingWatch:
    def __init__(self, metrics: WorkerMetrics, *, horizon_s: float = 600.0,
                 clock: Callable[[], float] = time.time, enabled: bool = True) -> None:
        if not horizon_s > 0:
            raise ValueError(f"horizon_s must be > 0, got {horizon_s}")
        self.metrics = metrics
        self.horizon_s = horizon_s
        self.clock = clock
        # Off under two-stage aggregation: any keying gives the same results there, nothing to warn of.
        self.enabled = enabled
        self._seen: dict[int, dict[str, float]] = defaultdict(dict)  # partition -> model -> last seen
        self._partitions: dict[str, tuple[int, ...]] = {}  # model -> partitions, as last reported

    def saw(self, partition: int, *models: Iterable[str]) -> None:
        """Events of ``models`` (one iterable per topic) were just read from ``partition``."""
        if not self.enabled:
            return
        now = self.clock()
        seen = self._seen[partition]
        for names in models:
            for name in set(names):
                seen[name] = now

    def models(self, partition: int) -> tuple[str, ...]:
        """The models ``partition`` had events of within the horizon (older ones are forgotten)."""
        seen = self._seen.get(partition)
        if not seen:
            return ()
        oldest = self.clock() - self.horizon_s
        for name in [name for name, at in seen.items() if at < oldest]:
            del seen[name]
        return tuple(sorted(seen))

    def forget(self, partition: int) -> None:
        """The partition left this worker: its new owner reports it from now on."""
        self._seen.pop(partition, None)

    def update(self, partition_models: Mapping[int, Sequence[str]]) -> dict[str, tuple[int, ...]]:
        """Publish what the group's checkpoints say (this worker's own partitions read live);
        returns the models on more than one partition, with their partitions."""
        merged = {p: tuple(models) for p, models in partition_models.items()}
        merged.update({p: self.models(p) for p in list(self._seen)})
        on: dict[str, set[int]] = defaultdict(set)
        for partition, models in merged.items():
            for name in models:
                on[name].add(partition)
        split = {}
        for name in set(on) | set(self._partitions):
            partitions = tuple(sorted(on.get(name, ())))
            self.metrics.model_partitions.labels(name).set(len(partitions))
            if len(partitions) > 1:
                split[name] = partitions
                if partitions != self._partitions.get(name):
                    log.warning("model %r has events on partitions %s: its producers do not key every event by "
                                "model, so each partition computes its windows from part of the events (results "
                                "are kept per partition) and labels may miss their predictions; key predictions "
                                "and feedback by model (README, Event contract)", name,
                                ", ".join(map(str, partitions)))
            self._partitions[name] = partitions
        return split

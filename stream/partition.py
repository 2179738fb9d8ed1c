"""The state of one partition and the output of one batch.

State is partition-local (Kafka Streams style): producers key predictions and
feedback by model, so partition ``p`` of both topics holds every event of the
models it carries, and a :class:`PartitionState` holds their monitors, the
label join and the alert engines. Its checkpoint is one versioned document
(:mod:`driftline.stream.checkpoint_format`) together with its offsets.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from driftline.alerting import Alert, AlertEngine
from driftline.detectors import ExperimentResult, WindowReport
from driftline.sinks.lifecycle import VersionRecord
from driftline.sinks.rows import FeedbackRows, PredictionRows

from .checkpoint_format import encode_checkpoint
from .events import DeadLetter
from .experiments import ExperimentTracker
from .join import LabelJoin
from .join_topic import JoinInbox, JoinRelay, pending_snapshot
from .join_wire import JoinBatch
from .lifecycle import Lifecycle
from .monitor import ModelMonitor

__all__ = ["BatchOutput", "PartitionState"]


@dataclass
class PartitionState:
    partition: int
    monitors: dict[tuple[str, str], ModelMonitor]
    join: LabelJoin
    engines: dict[tuple[str, str], AlertEngine]
    offsets: dict[str, int] = field(default_factory=dict)  # topic -> next offset to read
    experiments: dict[str, ExperimentTracker] = field(default_factory=dict)  # by experiment name
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    lifecycle_engine: AlertEngine | None = None  # experiment verdicts and ineffective rollbacks
    owners: dict = field(default_factory=dict)  # (model, version) -> WindowOwner: stage 2 (two_stage)
    relay: JoinRelay | None = None  # two_stage: this partition as a source of the join topic
    inbox: JoinInbox | None = None  # two_stage: this partition as a join partition (its join's entries saved)

    def snapshot(self) -> bytes:
        """The checkpoint document (version 2); :meth:`Processor.restore_partition` loads it."""
        return encode_checkpoint({
            "partition": self.partition,
            "offsets": dict(self.offsets),
            "monitors": [monitor.snapshot() for monitor in self.monitors.values()],
            "join": self.join.snapshot() if self.inbox is None else pending_snapshot(self.join),
            "engines": [{"model": model, "version": version, "state": engine.snapshot()}
                        for (model, version), engine in self.engines.items()],
            "experiments": [{"name": name, "state": t.snapshot()} for name, t in self.experiments.items()],
            "lifecycle": self.lifecycle.snapshot(),
            "lifecycle_engine": None if self.lifecycle_engine is None else self.lifecycle_engine.snapshot(),
            **({"owners": [owner.snapshot() for owner in self.owners.values()]} if self.owners else {}),
            **({"join_topic": {"relay": self.relay.snapshot(), "inbox": self.inbox.snapshot()}}
               if self.inbox is not None and self.relay is not None else {}),
        })


@dataclass
class BatchOutput:
    predictions: PredictionRows = field(default_factory=PredictionRows)
    feedback: FeedbackRows = field(default_factory=FeedbackRows)
    dead: list[DeadLetter] = field(default_factory=list)
    reports: list[WindowReport] = field(default_factory=list)
    report_partitions: list[int] = field(default_factory=list)  # the partition of each report, in order
    alerts: list[Alert] = field(default_factory=list)
    counts: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    late: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # model -> events for closed windows
    folded: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # model -> events monitored as _other
    experiments: list[tuple[int, ExperimentResult]] = field(default_factory=list)  # (partition, evaluation)
    versions: list[VersionRecord] = field(default_factory=list)  # model_versions rows to write
    partials: list[tuple[bytes, bytes]] = field(default_factory=list)  # (key, value) to the partials topic
    join: dict[tuple[int, int], JoinBatch] = field(default_factory=dict)  # (source, join partition) -> its records

    def add_report(self, partition: int, report: WindowReport) -> None:
        """A closed window of ``partition``: its results are keyed by partition when stored."""
        self.reports.append(report)
        self.report_partitions.append(partition)

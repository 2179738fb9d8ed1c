"""Ownership of partitions as the checkpoints see it: epochs that order them, and the fence.

A partition's checkpoints are ordered by ``(epoch, counter)``
(:func:`~driftline.sinks.checkpoints.pack_seq`), never by a clock. A worker assigned a
partition takes the epoch after the one of the checkpoint it loaded and writes a claim row at
once (counter 0, the state it loaded); each checkpoint it writes then counts up. So everything
a new owner writes outranks every earlier owner, whatever their clocks.

Right before each insert, :meth:`Ownership.still_owned` checks that the worker still owns the
partitions: no rebalance since the rows were built, the partitions still in the consumer's
assignment, and the offset commit accepted by the group coordinator, which refuses a member it
has fenced out (say, one that stalled past ``max.poll.interval.ms`` and does not know yet). The
commit comes before the insert, which is harmless: on restore the ``checkpoints`` table, not
the committed offsets, is the truth. A stale write that slips through still loses under
``FINAL`` to the new owner's claim.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from driftline.sinks.checkpoints import Checkpoint, pack_seq, unpack_seq
from driftline.sinks.metrics import WorkerMetrics

from .partition import PartitionState
from .rebalance import Partitions

__all__ = ["FENCED", "Ownership"]

log = logging.getLogger("driftline.ingest")

# The group coordinator's (and librdkafka's) answers to a member that no longer owns what it commits.
FENCED = frozenset({KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID, KafkaError.REBALANCE_IN_PROGRESS,
                    KafkaError.FENCED_INSTANCE_ID, getattr(KafkaError, "_ASSIGNMENT_LOST", -142),
                    getattr(KafkaError, "_MAX_POLL_EXCEEDED", -147)})


class Ownership:
    def __init__(self, consumer: Any, partitions: Partitions, metrics: WorkerMetrics) -> None:
        self.consumer = consumer
        self.partitions = partitions
        self.metrics = metrics
        self._loaded_epoch: dict[int, int] = {}  # partition -> epoch of the checkpoint it was loaded from
        self._seq: dict[int, tuple[int, int]] = {}  # partition -> (epoch, counter) of the last row written

    @property
    def sequences(self) -> dict[int, tuple[int, int]]:
        """Partition -> ``(epoch, counter)`` of the last checkpoint row this worker wrote for it."""
        return dict(self._seq)

    def loaded(self, partition: int, checkpoint: Checkpoint | None) -> None:
        """The newest checkpoint found on assignment (None: the partition was never checkpointed)."""
        self._loaded_epoch[partition] = unpack_seq(checkpoint.seq)[0] if checkpoint is not None else 0

    def claims(self, states: Mapping[int, PartitionState]) -> list[Checkpoint]:
        """The claim rows of newly assigned partitions: their states under the next epoch."""
        return [Checkpoint(p, pack_seq(self._loaded_epoch.pop(p, 0) + 1, 0), dict(state.offsets), state.snapshot())
                for p, state in sorted(states.items())]

    def next_row(self, partition: int, state: PartitionState, models: tuple[str, ...]) -> Checkpoint:
        """The partition's next checkpoint row (a partition never claimed writes under epoch 0)."""
        epoch, counter = self._seq.get(partition, (0, 0))
        return Checkpoint(partition, pack_seq(epoch, counter + 1), dict(state.offsets), state.snapshot(), models)

    def written(self, rows: list[Checkpoint]) -> None:
        for row in rows:
            self._seq[row.partition] = unpack_seq(row.seq)

    def release(self, partitions: list[int]) -> None:
        for partition in partitions:
            self._seq.pop(partition, None)
            self._loaded_epoch.pop(partition, None)

    def still_owned(self, partitions: list[int], generation: int) -> bool:
        """The fence: no rebalance since ``generation``, still assigned, and the offsets committed."""
        assigned = {tp.partition for tp in self.consumer.assignment()}
        lost = sorted(set(partitions) - assigned)
        if self.partitions.generation != generation or lost:
            log.warning("checkpoint fenced: partition(s) %s no longer assigned to this worker",
                        ", ".join(map(str, lost or partitions)))
            self.metrics.checkpoints.labels("fenced").inc()
            return False
        states = self.partitions.states
        commits = [TopicPartition(t, p, o) for p in partitions for t, o in states[p].offsets.items()]
        if not commits:
            return True
        try:
            self.consumer.commit(offsets=commits, asynchronous=False)
        except KafkaException as exc:
            error = exc.args[0]
            if error.code() in FENCED:
                log.warning("checkpoint fenced: the group coordinator refused the offsets of partition(s) %s "
                            "(%s); their new owner checkpoints them", ", ".join(map(str, partitions)), error)
                self.metrics.checkpoints.labels("fenced").inc()
                return False
            log.warning("offset commit failed (the checkpoint is written anyway): %s", exc)
        except Exception as exc:  # the checkpoint table stays the source of truth
            log.warning("offset commit failed (the checkpoint is written anyway): %s", exc)
        return True

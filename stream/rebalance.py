"""The partitions a worker owns, and what a consumer-group rebalance does to them.

On assignment each new partition's state is restored from its last checkpoint
(or started fresh), claimed (written back under the next ownership epoch, so that
no earlier owner's late write can outrank this worker's checkpoints) and the
consumer is positioned at the checkpoint's offsets; on revocation the leaving
partitions are checkpointed once (the next owner replays more if that fails) and
dropped. Every rebalance bumps
:attr:`Partitions.generation`, which tells a checkpoint that waited for the
store that its partitions may have moved meanwhile.

Range assignment (see :func:`~driftline.stream.wiring.consumer_config`) gives a
worker the same partition number of both topics, so one state covers both.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from driftline.sinks.errors import StoreError

from .processor import PartitionState, Processor

__all__ = ["CheckpointKeeper", "Partitions", "Rebalance"]

log = logging.getLogger("driftline.ingest")


class Partitions:
    """Partition number -> state of the partitions this worker owns."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.states: dict[int, PartitionState] = {}
        self.generation = 0  # bumped by every rebalance callback
        self.ready = threading.Event()  # set once partitions are assigned

    def restart_idle_clocks(self) -> None:
        """Time the worker spent not reading (paused, restarted) is not model idleness.

        Without this a window would be closed as idle right after a restart or a store outage,
        before the events of that window still waiting in Kafka are read.
        """
        now_ms = int(self.clock() * 1000)
        for state in self.states.values():
            for monitor in state.monitors.values():
                monitor.last_event_at_ms = max(monitor.last_event_at_ms, now_ms)
            if state.relay is not None:  # two_stage: the marks it relays to the join partitions
                state.relay.restart(now_ms)


class CheckpointKeeper(Protocol):
    """What a rebalance needs from checkpoints (:class:`~driftline.stream.checkpoints.CheckpointCoordinator`)."""

    def load(self, partition: int) -> PartitionState | None: ...

    def claim(self, states: dict[int, PartitionState]) -> None: ...

    def release(self, partitions: list[int]) -> None: ...

    def checkpoint(self, partitions: list[int] | None = None, *, wait: bool = True) -> None: ...


class Rebalance:
    """The consumer's ``on_assign``/``on_revoke`` callbacks (librdkafka calls them inside ``consume()``)."""

    def __init__(self, partitions: Partitions, processor: Processor, checkpoints: CheckpointKeeper, *,
                 on_takeover: Callable[[list[int]], None] = lambda partitions: None) -> None:
        """``on_takeover(partitions)``: called with the partitions restored from another owner's (or an
        earlier run's) checkpoint, e.g. to re-send the alerts that owner stored but never delivered."""
        self.partitions = partitions
        self.processor = processor
        self.checkpoints = checkpoints
        self.on_takeover = on_takeover

    def on_assign(self, consumer, assigned: list[TopicPartition]) -> None:
        partitions = self.partitions
        partitions.generation += 1
        new, restored = {}, []
        for p in sorted({tp.partition for tp in assigned}):
            if p in partitions.states:
                continue
            state = self.checkpoints.load(p)
            new[p] = partitions.states[p] = state or self.processor.new_partition(p)
            if state is not None:
                restored.append(p)
            log.info("partition %d assigned (%s)", p, "restored from checkpoint" if state else "fresh state")
        if new:
            self.checkpoints.claim(new)
        partitions.restart_idle_clocks()
        for tp in assigned:
            offset = partitions.states[tp.partition].offsets.get(tp.topic)
            tp.offset = offset if offset is not None else OFFSET_BEGINNING
        consumer.assign(assigned)
        partitions.ready.set()
        if restored:
            self.on_takeover(restored)

    def on_revoke(self, consumer, revoked: list[TopicPartition]) -> None:
        partitions = self.partitions
        partitions.generation += 1
        leaving = sorted({tp.partition for tp in revoked} & set(partitions.states))
        if leaving:
            try:
                self.checkpoints.checkpoint(leaving, wait=False)
            except StoreError as exc:
                log.warning("checkpoint on revoke failed, the next owner replays more: %s", exc)
            for p in leaving:
                del partitions.states[p]
            self.checkpoints.release(leaving)
        consumer.unassign()

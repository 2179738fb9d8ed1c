"""Partitions of a two-stage worker without a broker: input, join and partials topics as in-memory logs.

:class:`Cluster` runs one :class:`~driftline.stream.processor.Processor` over ``partitions`` partition
states; a step of partition *p* reads the next messages of partition *p* of the predictions,
feedback and join topics from the state's offsets (so a state restored from a checkpoint replays
from there, as the worker does), then closes windows; the join messages it produces go to the
join partition librdkafka's default partitioner picks for their key (CRC32), and every partial to
one list that a stage-2 owner reads.
"""

from __future__ import annotations

import zlib

from driftline.stream.processor import BatchOutput, Processor

PREDICTIONS, FEEDBACK, JOIN, PARTIALS = "predictions", "feedback", "join", "partials"


class Cluster:
    def __init__(self, processor: Processor, partitions: int) -> None:
        self.processor = processor
        self.partitions = partitions
        processor.two_stage.partitions = partitions
        self.states = {p: processor.new_partition(p) for p in range(partitions)}
        self.logs = {topic: {p: [] for p in range(partitions)} for topic in (PREDICTIONS, FEEDBACK, JOIN)}
        k = processor.settings.kafka
        self.names = {PREDICTIONS: k.predictions_topic, FEEDBACK: k.feedback_topic, JOIN: JOIN}  # offsets' keys
        self.partials: list[bytes] = []
        self.reports = []  # stage 1 closes nothing itself: stays empty

    def produce(self, topic: str, partition: int, value: bytes | str) -> None:
        self.logs[topic][partition].append(value)

    def pending(self, p: int) -> bool:
        state = self.states[p]
        return any(state.offsets.get(self.names[topic], 0) < len(self.logs[topic][p]) for topic in self.logs)

    def step(self, p: int, now_ms: int, batch: int = 500) -> None:
        state, out = self.states[p], BatchOutput()
        read = {}
        for topic in self.logs:
            start = state.offsets.get(self.names[topic], 0)
            read[topic] = [(p, offset, value, 0) for offset, value in
                           enumerate(self.logs[topic][p][start:start + batch], start)]
        self.processor.process(state, read[PREDICTIONS], read[FEEDBACK], now_ms, out)
        if read[JOIN]:
            self.processor.join_exchange.receive(state, read[JOIN], JOIN, now_ms)
        self.processor.close_windows(state, now_ms, out)
        self.emit(out)

    def emit(self, out: BatchOutput) -> None:
        self.reports += out.reports
        for key, value in self.processor.join_exchange.messages(out):
            self.logs[JOIN][zlib.crc32(key) % self.partitions].append(value)
        self.partials += [value for _, value in out.partials]

    def settle(self, now_ms: int, rounds: int = 4) -> None:
        """Steps on every partition until nothing is left to read, then ``rounds`` more (marks travel)."""
        while any(self.pending(p) for p in self.states):
            for p in self.states:
                self.step(p, now_ms)
        for _ in range(rounds):
            for p in self.states:
                self.step(p, now_ms)

    def close(self, owner_partition: int, now_ms: int, *, split: int | None = None):
        """One owner reads every partial (restarted from its checkpoint after ``split`` of them) and closes."""
        processor = self.processor
        owner = processor.new_partition(owner_partition)
        messages = [(owner_partition, offset, value, None) for offset, value in enumerate(self.partials)]
        half = len(messages) if split is None else split
        processor.two_stage.receive(owner, messages[:half], PARTIALS, now_ms)
        if split is not None:
            owner = processor.restore_partition(owner.snapshot())
            assert owner.offsets[PARTIALS] == half
        processor.two_stage.receive(owner, messages[half:], PARTIALS, now_ms)
        closed = BatchOutput()
        processor.close_windows(owner, now_ms, closed)
        return sorted(closed.reports, key=lambda r: (r.model, r.window_start_ms, r.n_predictions == 0)), closed

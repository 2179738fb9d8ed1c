"""Put benchmark traffic into the broker, and read it back raw (the consume ceilings)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka import Consumer, Producer
from driftline.settings import Settings
from driftline.stream import events
from driftline.stream.wiring import consumer_config

from .traffic import Plan, messages, tick_messages

PRODUCER_CONFIG = {"linger.ms": 50, "batch.num.messages": 10_000, "queue.buffering.max.messages": 1_000_000,
                   "queue.buffering.max.kbytes": 1_048_576, "acks": 1}


def produce_plan(bootstrap: str, predictions_topic: str, feedback_topic: str, plan: Plan, *,
                 partitions: Mapping[str, int] | None = None, pace: Callable[[int], None] | None = None) -> dict:
    """Produce every prediction and feedback of ``plan``, then one watermark tick per stream.

    ``partitions``: keyed by (model, version) stream (:func:`~bench.traffic.stream_key`) onto these
    partitions, a stream's feedback with its predictions; default: keyed by model, librdkafka's partitioner.
    ``pace(sent)``, called before each chunk with the messages sent so far, may block: to produce
    in stages while a worker consumes (live traffic rather than a backlog).
    """
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_CONFIG})
    started = time.perf_counter()
    counts = {"predictions": 0, "feedback": 0, "bytes": 0}
    by_stream = partitions is not None
    for preds, feedback in messages(plan, by_stream=by_stream):
        if pace is not None:
            producer.flush(60)
            pace(counts["predictions"] + counts["feedback"])
        _send(producer, predictions_topic, preds, partitions)
        _send(producer, feedback_topic, feedback, partitions)
        counts["predictions"] += len(preds)
        counts["feedback"] += len(feedback)
        counts["bytes"] += sum(len(v) for _, v in preds)
    ticks = tick_messages(plan, by_stream=by_stream)
    _send(producer, predictions_topic, ticks, partitions)
    counts["predictions"] += len(ticks)
    left = producer.flush(120)
    if left:
        raise RuntimeError(f"{left} messages were not delivered to the broker")
    counts["seconds"] = time.perf_counter() - started
    return counts


def _send(producer: Producer, topic: str, records: Iterable[tuple[str, bytes]],
          partitions: Mapping[str, int] | None = None) -> None:
    for key, value in records:
        extra = {"partition": partitions[key]} if partitions is not None else {}
        while True:
            try:
                producer.produce(topic, value=value, key=key, **extra)
                break
            except BufferError:
                producer.poll(0.05)
    producer.poll(0)


@dataclass
class CeilingResult:
    messages: int
    seconds: float  # first non-empty batch -> last message (decode included for ceiling B)

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else float("nan")


def consume_all(settings: Settings, expected: int, handle: Callable[[list], None] | None = None,
                timeout: float = 600.0) -> CeilingResult:
    """Consume both topics with the worker's consumer settings (fresh group) until ``expected`` messages."""
    k = settings.kafka
    config = consumer_config(settings)
    config["group.id"] = f"bench-ceiling-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(config)
    consumer.subscribe([k.predictions_topic, k.feedback_topic])
    seen = 0
    first = None
    deadline = time.monotonic() + timeout
    try:
        while seen < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"ceiling consumer read {seen} of {expected} messages in {timeout:g}s")
            batch = consumer.consume(k.batch_size, k.poll_timeout_s)
            if not batch:
                continue
            if first is None:
                first = time.perf_counter()
            if handle is not None:
                handle(batch)
            seen += len(batch)
        return CeilingResult(seen, time.perf_counter() - first)
    finally:
        consumer.close()


def decoder(settings: Settings) -> Callable[[list], None]:
    """Ceiling B's per-batch work: group by partition and topic, then decode and validate like the Processor."""
    k = settings.kafka
    known = frozenset(m.name for m in settings.models)
    limits = dict(max_bytes=k.max_message_bytes, max_features=settings.worker.max_features)
    if hasattr(events, "EventDecoder"):  # the reusable decoder the Processor holds
        p = events.EventDecoder(events.PredictionEvent, topic=k.predictions_topic, known_models=known, **limits)
        f = events.EventDecoder(events.FeedbackEvent, topic=k.feedback_topic, known_models=known, **limits)
        decode_predictions, decode_feedback = p.decode, f.decode
    else:
        def decode_predictions(messages):
            return events.decode_predictions(messages, k.predictions_topic, known, **limits)

        def decode_feedback(messages):
            return events.decode_feedback(messages, k.feedback_topic, known, **limits)

    def handle(batch: list) -> None:
        by_partition: dict[int, tuple[list, list]] = {}
        for msg in batch:
            if msg.error() is not None:
                continue
            ts_type, ts = msg.timestamp()
            lists = by_partition.setdefault(msg.partition(), ([], []))
            lists[0 if msg.topic() == k.predictions_topic else 1].append(
                (msg.partition(), msg.offset(), msg.value(), ts if ts_type else 0))
        for predictions, feedback in by_partition.values():
            if predictions:
                out = decode_predictions(predictions)
                assert not out.dead, out.dead[:1]
            if feedback:
                out = decode_feedback(feedback)
                assert not out.dead, out.dead[:1]

    return handle

"""Every Kafka topic and consumer group a worker uses, the access it needs, and creating the topics.

A worker with ``kafka.group_id: driftline`` uses:

* its four topics: it reads ``predictions`` and ``feedback`` (the same partition count: range
  assignment gives one worker partition *p* of both, where a model's events and state meet) and
  writes ``alerts`` and ``dead_letter``, plus the topic of each ``type: kafka`` alert channel;
* the consumer group ``driftline`` of its ingest loop (offsets committed at checkpoints);
* Faust's own: the app ``driftline-app`` joins the consumer group ``driftline-app`` and uses
  the topic ``driftline-app-__assignor-__leader`` (1 partition) to elect a leader. Faust creates that
  topic at start if it is missing, which needs ``CREATE``; :func:`ensure_topics` creates it up
  front, so a worker then needs no ``CREATE`` at all.

:func:`ensure_topics` is idempotent: it creates what is missing and reports what exists, and it
says when predictions and feedback have different partition counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic
from driftline.settings import KafkaChannelSettings, Settings

from .errors import DriftlineError

__all__ = ["ConsumerGroupUse", "TopicError", "TopicOutcome", "TopicUse", "consumer_groups", "ensure_topics",
           "faust_app_id", "leader_topic", "worker_topics"]


class TopicError(DriftlineError):
    """Topics could not be listed or created (the broker is unreachable, or the principal lacks the ACL)."""

    retriable = True


@dataclass(frozen=True)
class TopicUse:
    """A topic the worker uses: ``partitions`` to create it with, what it holds, the operations it needs."""

    name: str
    partitions: int
    purpose: str
    operations: tuple[str, ...]


@dataclass(frozen=True)
class ConsumerGroupUse:
    name: str
    purpose: str
    operations: tuple[str, ...] = ("READ",)


@dataclass(frozen=True)
class TopicOutcome:
    """What :func:`ensure_topics` did about one topic: ``created`` it, or it ``exists``."""

    topic: TopicUse
    status: str
    partitions: int
    replication: int


def faust_app_id(settings: Settings) -> str:
    """Faust's app id, which is also its consumer group: ``<kafka.group_id>-app``."""
    return f"{settings.kafka.group_id}-app"


def leader_topic(settings: Settings) -> str:
    """The topic Faust's leader assignor uses (one partition)."""
    return f"{faust_app_id(settings)}-__assignor-__leader"


def worker_topics(settings: Settings, partitions: int) -> list[TopicUse]:
    """Every topic a worker on ``settings`` uses; ``partitions`` for all but Faust's leader topic."""
    k = settings.kafka
    two_stage = settings.worker.aggregation == "two_stage"
    keyed = "any keying (two-stage aggregation)" if two_stage else "keyed by model"  # the join topic meets them
    topics = [
        TopicUse(k.predictions_topic, partitions, f"prediction events, {keyed} (read)", ("READ", "DESCRIBE")),
        TopicUse(k.feedback_topic, partitions, f"label events, {keyed}; as many partitions as predictions "
                 "(read)", ("READ", "DESCRIBE")),
        TopicUse(k.alerts_topic, partitions, "alerts, keyed by dedup_key (written)", ("WRITE", "DESCRIBE")),
        TopicUse(k.dead_letter_topic, partitions, "events the worker could not take, with the reason in headers "
                 "(written)", ("WRITE", "DESCRIBE")),
    ]
    if two_stage:
        topics.append(TopicUse(k.partials_topic, partitions, "partial window states of two-stage aggregation, "
                               "keyed by model version (written and read)", ("READ", "WRITE", "DESCRIBE")))
        topics.append(TopicUse(k.join_topic, partitions, "join records of two-stage aggregation: predictions and "
                               "labels by event id, binary (written and read)", ("READ", "WRITE", "DESCRIBE")))
    for channel in settings.alert_channels:
        if isinstance(channel, KafkaChannelSettings) and channel.topic not in {t.name for t in topics}:
            topics.append(TopicUse(channel.topic, partitions, f"alerts of the kafka channel {channel.name!r} "
                                   "(written)", ("WRITE", "DESCRIBE")))
    topics.append(TopicUse(leader_topic(settings), 1, "Faust's leader election (read; created by the worker at "
                           "start when missing, which needs CREATE)", ("READ", "DESCRIBE")))
    return topics


def consumer_groups(settings: Settings) -> list[ConsumerGroupUse]:
    """The consumer groups a worker joins."""
    return [ConsumerGroupUse(settings.kafka.group_id, "the ingest loop: offsets committed at checkpoints"),
            ConsumerGroupUse(faust_app_id(settings), "Faust's worker (its leader topic)")]


def ensure_topics(admin: Any, topics: Sequence[TopicUse], *, replication: int, timeout_s: float = 30.0
                  ) -> list[TopicOutcome]:
    """Create the ``topics`` that do not exist (with ``replication``); report every one. ``admin`` is a
    confluent-kafka ``AdminClient``. Raises :class:`TopicError` when the broker refuses or cannot be reached."""
    existing = _describe(admin, timeout_s)
    missing = [t for t in topics if t.name not in existing]
    created = set()
    if missing:
        futures = admin.create_topics([NewTopic(t.name, num_partitions=t.partitions, replication_factor=replication)
                                       for t in missing], operation_timeout=timeout_s, request_timeout=timeout_s)
        for name, future in futures.items():
            try:
                future.result()
                created.add(name)
            except KafkaException as exc:
                error = exc.args[0]
                if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:  # another process was quicker: it exists
                    raise TopicError(f"cannot create topic {name!r}: {error.str()}") from exc
        existing = _describe(admin, timeout_s)
    outcomes = []
    for t in topics:
        partitions, replication_now = existing.get(t.name, (t.partitions, replication))
        outcomes.append(TopicOutcome(t, "created" if t.name in created else "exists", partitions, replication_now))
    return outcomes


def _describe(admin: Any, timeout_s: float) -> dict[str, tuple[int, int]]:
    """topic -> (partitions, replication) of every topic the principal may describe."""
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise TopicError(f"cannot list the broker's topics: {exc.args[0].str()}") from exc
    out = {}
    for name, topic in metadata.topics.items():
        if topic.error is None:
            replicas = min((len(p.replicas) for p in topic.partitions.values()), default=0)
            out[name] = (len(topic.partitions), replicas)
    return out

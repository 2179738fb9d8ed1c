"""The one place that builds concrete clients and sinks from settings.

Kafka consumers and producers, stores, the event writer, the checkpoint store,
alert channels and their dispatcher, the Prometheus registry's metrics, and the
ingest loop that ties them together are all built here; everything else is
handed what it uses.
"""

from __future__ import annotations

import functools
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from driftline.detectors import ReferenceProfile
from driftline.settings import Settings
from driftline.sinks.checkpoints import CheckpointStore
from driftline.sinks.history import read_partition_history
from driftline.sinks.join_state import load_pending_join
from driftline.sinks.lifecycle import latest_version_states
from driftline.sinks.metrics import WorkerMetrics
from driftline.sinks.store import ClickHouseStore, Store
from driftline.sinks.writer import EventWriter
from prometheus_client import CollectorRegistry, disable_created_metrics

from .ingest import IngestLoop
from .log_redaction import redact_http_logs
from .processor import Processor
from .reference_files import load_reference

__all__ = [
    "AlertDelivery", "build_admin", "build_alert_delivery", "build_consumer", "build_ingest_loop", "build_metrics",
    "build_multivariate", "build_producer", "build_references", "build_registry", "build_settings_store", "build_store",
    "build_traffic_producer",
    "build_writer", "consumer_config", "faust_credentials", "producer_config",
]


def build_store(url: str, *, cluster: str | None = None, insert_quorum: int = 0) -> Store:
    """``chdb://`` is the embedded engine in this process; anything else a ClickHouse server, or the
    ClickHouse ``cluster`` it belongs to (``clickhouse.cluster``)."""
    if url.startswith("chdb://"):
        try:
            from chdb.session import Session
        except ImportError as exc:
            raise ImportError("the embedded store needs chdb: pip install 'chdb>=3.0'") from exc
        from driftline.sinks.embedded import EmbeddedStore

        return EmbeddedStore(url, session_factory=Session)
    from clickhouse_driver import Client

    return ClickHouseStore(url, client_factory=Client, cluster=cluster, insert_quorum=insert_quorum)


def build_settings_store(settings: Settings) -> Store:
    """The store of ``settings.clickhouse``: its URL, on its cluster if it names one."""
    c = settings.clickhouse
    return build_store(c.url, cluster=c.cluster, insert_quorum=c.insert_quorum)


def _security(settings: Settings) -> dict[str, Any]:
    """``kafka.security`` (mapped to librdkafka names), then ``kafka.options`` verbatim on top."""
    return {**settings.kafka.security.client_properties(), **settings.kafka.client_options}


def consumer_config(settings: Settings) -> dict[str, Any]:
    k = settings.kafka
    return {
        "bootstrap.servers": k.bootstrap_servers,
        "group.id": k.group_id,
        "client.id": f"driftline-{socket.gethostname()}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        # Range assignment gives one worker the same partition number of both topics,
        # which keeps a model's predictions, feedback and state together.
        "partition.assignment.strategy": "range",
        "session.timeout.ms": k.session_timeout_ms,
        "heartbeat.interval.ms": max(100, k.session_timeout_ms // 8),
        "max.poll.interval.ms": 300_000,
        "fetch.max.bytes": 52_428_800,
        "queued.max.messages.kbytes": 65_536,
        # librdkafka (>= 2.1) postpones a partition's next fetch by this much once its local queue
        # is over queued.min.messages: 1 s by default, which a fast consumer drains long before,
        # then waits. Measured on a backlog of 250-byte events: the consume alone 115k -> 476k
        # predictions/s, consume + decode 81k -> 155k (bench/results, docs/performance.md).
        "fetch.queue.backoff.ms": 10,
        "enable.partition.eof": False,
        **_security(settings),
    }


def producer_config(settings: Settings) -> dict[str, Any]:
    return {
        "bootstrap.servers": settings.kafka.bootstrap_servers,
        "linger.ms": 20,
        "log.connection.close": False,
        "acks": "all",
        "message.max.bytes": max(settings.kafka.max_message_bytes + 65_536, 1_000_000),
        # Two stages: a retried produce must not overtake a later one (a join partition drops records
        # at or below the highest source offset it took; stream/join_topic.py).
        **({"enable.idempotence": True} if settings.worker.aggregation == "two_stage" else {}),
        **_security(settings),
    }


def build_consumer(settings: Settings) -> Consumer:
    return Consumer(consumer_config(settings))


def build_producer(settings: Settings) -> Producer:
    return Producer(producer_config(settings))


def build_admin(settings: Settings) -> AdminClient:
    """An admin client on the worker's cluster, with its security settings (``driftline topics``).
    librdkafka's own log stays quiet below critical: a broker it cannot reach is the command's one error
    line, not a connection failure every 50 ms."""
    return AdminClient({"bootstrap.servers": settings.kafka.bootstrap_servers, "log.connection.close": False,
                        "log_level": 2, **_security(settings)})


def build_traffic_producer(settings: Settings) -> Producer:
    """A producer of generated traffic (the demo): the worker's connection settings, a deeper queue."""
    return Producer({**producer_config(settings), "queue.buffering.max.messages": 500_000})


def build_writer(store: Store, *, on_insert: Callable | None = None) -> EventWriter:
    return EventWriter(store, clock=time.time, on_insert=on_insert)


def build_ingest_loop(settings: Settings, store: Store, producer: Producer, metrics: WorkerMetrics, *,
                      on_alert: Callable = lambda alert: None, on_insert: Callable | None = None,
                      on_takeover: Callable[[list[int]], None] = lambda partitions: None) -> IngestLoop:
    """The batch loop with its consumer, processor, writer and checkpoint store, all on ``store``."""
    processor = Processor(settings, dict(build_references(settings)), build_multivariate(settings))
    return IngestLoop(
        settings, processor, consumer=build_consumer(settings), producer=producer,
        max_produce_bytes=int(producer_config(settings)["message.max.bytes"]),
        writer=build_writer(store, on_insert=on_insert),
        checkpoint_store=CheckpointStore(store, group_id=settings.kafka.group_id),
        pending_join=functools.partial(load_pending_join, store),
        history=functools.partial(read_partition_history, store), metrics=metrics, on_alert=on_alert,
        lifecycle_reader=functools.partial(latest_version_states, store), on_takeover=on_takeover)


@dataclass(frozen=True)
class AlertDelivery:
    """Alert channels, their dispatcher and the delivery log it records outcomes in."""

    dispatcher: Any  # driftline.sinks.alerts.AlertDispatcher
    delivery_log: Any  # driftline.sinks.delivery_log.StoreDeliveryLog
    channel_names: tuple[str, ...]


def build_alert_delivery(settings: Settings, store: Store, producer: Producer,
                         on_result: Callable[[str, str], None]) -> AlertDelivery | None:
    """None when no channel is configured. Kafka channels share the worker's ``producer``."""
    if not settings.alert_channels:
        return None
    from driftline.sinks.alerts import AlertDispatcher, build_channels
    from driftline.sinks.delivery_log import AsyncStoreDeliveryLog, StoreDeliveryLog

    channels = build_channels(settings.alert_channels, producer=producer)
    redact_http_logs()  # httpx logs each request's URL at INFO: a webhook's path or key is a secret
    delivery_log = StoreDeliveryLog(store)
    dispatcher = AlertDispatcher(channels, client=httpx.AsyncClient(follow_redirects=False),
                                 delivery_log=AsyncStoreDeliveryLog(delivery_log), on_result=on_result)
    return AlertDelivery(dispatcher, delivery_log, tuple(c.name for c in channels))


def build_registry() -> CollectorRegistry:
    """A worker's own Prometheus registry (never the process-wide default one)."""
    return CollectorRegistry()


def build_metrics(registry: CollectorRegistry | None = None) -> WorkerMetrics:
    disable_created_metrics()  # the *_created series only double the scrape size
    return WorkerMetrics(registry or build_registry())


def build_multivariate(settings: Settings) -> dict:
    """PCA reconstruction models fitted on reference files (warm-up references fit in the stream)."""
    from driftline.detectors import PCAReconstructionDrift

    from .reference_files import read_columns

    fitted = {}
    for m in settings.models:
        if m.multivariate is not None and m.reference_path:
            numeric = {f: k for f, k in m.features.items() if k == "numeric"}
            fitted[m.name] = PCAReconstructionDrift(**asdict(m.multivariate)).fit(read_columns(m.reference_path, numeric))
    return fitted


def build_references(settings: Settings) -> Mapping[str, ReferenceProfile]:
    """Reference profiles given as files in the config (warm-up models are built in the stream)."""
    return {m.name: p for m in settings.models if (p := load_reference(m)) is not None}


def faust_credentials(settings: Settings):
    """The same Kafka security settings for Faust's own (aiokafka) connection, or None."""
    import ssl

    import faust

    sec = settings.kafka.security.client_properties()
    protocol = sec.get("security.protocol", "PLAINTEXT").upper()
    context = None
    if protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=sec.get("ssl.ca.location"))
        if sec.get("ssl.certificate.location"):
            context.load_cert_chain(sec["ssl.certificate.location"], sec.get("ssl.key.location"),
                                    sec.get("ssl.key.password"))
    if protocol.startswith("SASL"):
        return faust.SASLCredentials(username=sec.get("sasl.username"), password=sec.get("sasl.password"),
                                     mechanism=sec.get("sasl.mechanism", "PLAIN"), ssl_context=context)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return None

"""The Faust application shell: worker lifecycle, web endpoints and alert delivery.

Faust owns the event loop, the CLI worker, the web server (``/metrics`` and
the status page) and the async alert dispatcher. The high-volume prediction
and feedback path is the batch :class:`~driftline.stream.ingest.IngestLoop`, run in its
own thread by :class:`IngestService` (Faust's per-event agents top out near
5k events/s here; the batch loop is an order of magnitude faster).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import threading
import time
from pathlib import Path

import faust
import mode
from driftline.settings import Settings
from driftline.sinks.migrations import migrate
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from . import wiring
from .health import Readiness
from .ingest import IngestLoop
from .topics import faust_app_id
from .web_access import install_access

__all__ = ["DEFAULT_DATADIR", "Runtime", "create_app"]

log = logging.getLogger("driftline.app")


class Runtime:
    """Everything a running worker holds; started and stopped by :class:`IngestService`."""

    def __init__(self, settings: Settings, *, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.registry = registry or wiring.build_registry()
        self.metrics = wiring.build_metrics(self.registry)
        self.loop_thread: threading.Thread | None = None
        self.ingest: IngestLoop | None = None
        self.store = None  # the ingest loop's connection: rows and checkpoints
        self.read_store = None  # a separate connection for the web/status page and delivery log
        self.alert_delivery: wiring.AlertDelivery | None = None
        self.dispatcher = None
        self._resubmitted: dict[str, None] = {}  # alert ids the outbox replay re-submitted (bounded)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        settings = self.settings
        for note in settings.notes:  # e.g. an alert channel whose optional URL is empty
            log.warning("config: %s", note)
        self.store = store = await loop.run_in_executor(None, wiring.build_settings_store, settings)
        applied = await loop.run_in_executor(None, migrate, store)
        if applied:
            log.info("applied schema migrations: %s", ", ".join(f"{m.version:04d}_{m.name}" for m in applied))
        self.read_store = await loop.run_in_executor(None, wiring.build_settings_store, settings)
        self.read_store.use_database()
        producer = wiring.build_producer(settings)
        self.alert_delivery = wiring.build_alert_delivery(
            settings, self.read_store, producer,
            on_result=lambda channel, result: self.metrics.deliveries.labels(channel, result).inc())
        if self.alert_delivery is not None:
            self.dispatcher = self.alert_delivery.dispatcher
            await self.dispatcher.start()
            await self._replay_outbox()

        def on_alert(alert) -> None:
            if self.dispatcher is not None:
                loop.call_soon_threadsafe(self.dispatcher.submit, alert)

        def on_takeover(partitions: list[int]) -> None:
            # Partitions restored from a checkpoint: their previous owner (another worker that
            # died, or this one before a restart) may have stored alerts it never delivered.
            if self.dispatcher is not None:
                loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._replay_outbox_after_takeover()))

        self.ingest = wiring.build_ingest_loop(settings, store, producer, self.metrics, on_alert=on_alert,
                                               on_insert=self._on_insert, on_takeover=on_takeover)
        # The hot path allocates millions of short-lived objects while the label join and the
        # row buffers hold many long-lived ones: with CPython's default thresholds full
        # collections keep rescanning those (18% of the worker's time in the benchmark).
        gc.collect()
        gc.freeze()
        gc.set_threshold(100_000, 50, 1000)
        self.loop_thread = threading.Thread(target=self._run_ingest, name="driftline-ingest", daemon=True)
        self.loop_thread.start()

    def references(self) -> list:
        """The reference each version this worker monitors uses
        (:class:`~driftline.stream.reference_watch.ReferenceInUse`), for the status page."""
        return [] if self.ingest is None else self.ingest.references.current()

    def ingest_thread_alive(self) -> bool:
        """True until the ingest thread has ended without being asked to (not started yet counts as alive)."""
        if self.loop_thread is None or self.ingest is None:
            return True
        return self.loop_thread.is_alive() or self.ingest.stopping.is_set()

    def readiness(self) -> Readiness:
        """What /healthz says: starting, ready, or stalled and why."""
        ingest = self.ingest
        if ingest is None or self.loop_thread is None:
            return Readiness(False, "starting: connecting to the store and loading references")
        return ingest.health.check(assigned=ingest.ready.is_set(), thread_alive=self.loop_thread.is_alive(),
                                   paused=ingest.backpressure.paused)

    def _run_ingest(self) -> None:
        try:
            self.ingest.run()
        except Exception:
            log.exception("ingest loop crashed")
            raise

    async def stop(self) -> None:
        if self.ingest is not None:
            self.ingest.stop()
        if self.loop_thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.loop_thread.join, 30)
        if self.dispatcher is not None:
            await self.dispatcher.stop(10)
        if self.ingest is not None:
            self.ingest.producer.flush(10)  # dead letters and alerts of the last batch
        if self.store is not None:
            self.store.close()  # the read store stays open for a caller's summary; closed at exit

    async def _replay_outbox(self) -> None:
        """Re-submit recent alerts some channel never delivered (a crash cut their delivery short)."""
        from driftline.alerting import Alert

        since = int(time.time()) - 24 * 3600
        delivery = self.alert_delivery
        rows = await asyncio.to_thread(delivery.delivery_log.undelivered, list(delivery.channel_names), since_s=since)
        # An alert this process re-submitted once is in its dispatcher already (or done): a second
        # copy queued beside the first could be sent twice.
        rows = [(alert_id, payload) for alert_id, payload in rows if alert_id not in self._resubmitted]
        for alert_id, payload in rows:
            self._resubmitted[alert_id] = None
            self.dispatcher.submit(Alert.from_dict(json.loads(payload)))
        while len(self._resubmitted) > 10_000:
            del self._resubmitted[next(iter(self._resubmitted))]
        if rows:
            log.info("re-submitted %d alert(s) with unfinished deliveries", len(rows))

    async def _replay_outbox_after_takeover(self) -> None:
        try:
            await self._replay_outbox()
        except Exception:  # noqa: BLE001 - the next takeover or restart tries again; the worker goes on
            log.warning("could not re-submit undelivered alerts after a partition takeover", exc_info=True)

    def _on_insert(self, table: str, rows: int, seconds: float, error: Exception | None) -> None:
        if error is None:
            self.metrics.insert_rows.labels(table).inc(rows)
            self.metrics.flush_duration.labels(table).observe(seconds)
        else:
            self.metrics.insert_errors.labels(table).inc()


def _apply_retention(settings: Settings) -> list:
    from datetime import UTC, datetime

    from driftline.sinks.retention import apply_retention

    store = wiring.build_settings_store(settings)  # its own connection: clients are not thread-safe
    try:
        store.use_database()
        return apply_retention(store, settings.retention, datetime.now(UTC))
    finally:
        store.close()


DEFAULT_DATADIR = ".driftline/faust"  # relative to the working directory, like the embedded store's default


def create_app(settings: Settings, *, datadir: str | Path = DEFAULT_DATADIR,
               registry: CollectorRegistry | None = None) -> tuple[faust.App, Runtime]:
    """The Faust app of a worker on ``settings``; ``datadir`` is created with its parents if missing."""
    # Faust creates its data directory without parents: a fresh working directory has no .driftline/.
    Path(datadir).mkdir(parents=True, exist_ok=True)
    runtime = Runtime(settings, registry=registry)
    app = faust.App(
        faust_app_id(settings),  # its consumer group too; stream/topics.py lists what it uses
        broker=f"kafka://{settings.kafka.bootstrap_servers.split(',')[0]}",
        broker_credentials=wiring.faust_credentials(settings),
        web_port=settings.metrics.port,
        web_bind=settings.metrics.host,
        web_host=settings.metrics.host,
        datadir=str(datadir),
        topic_partitions=4,
        topic_replication_factor=1,
        broker_session_timeout=max(2.0, settings.kafka.session_timeout_ms / 1000),
        broker_heartbeat_interval=0.5,
        autodiscover=False,
        store="memory://",
    )

    @app.service
    class IngestService(mode.Service):
        async def on_start(self) -> None:
            await runtime.start()

        async def on_stop(self) -> None:
            await runtime.stop()

    @app.timer(interval=3600.0)
    async def retention() -> None:
        """Drop expired partitions on servers without TTL (a no-op where TTL is set)."""
        if runtime.read_store is None:  # not started yet
            return
        try:
            actions = await asyncio.to_thread(_apply_retention, settings)
        except Exception as exc:  # noqa: BLE001 - retention must never stop the worker
            log.warning("retention failed: %s", exc)
            return
        if actions:
            log.info("retention: %d statement(s) applied", len(actions))

    @app.page("/metrics")
    async def metrics(web, request):
        return web.bytes(generate_latest(runtime.registry), content_type=CONTENT_TYPE_LATEST.split(";")[0] + "; version=0.0.4")

    @app.page("/healthz")
    async def healthz(web, request):
        """Readiness: 200 while ingesting, 503 with the reason while starting or stalled (see stream/health.py)."""
        verdict = runtime.readiness()
        return web.json({"status": "ok" if verdict.ready else "unavailable", "reason": verdict.reason},
                        status=200 if verdict.ready else 503, headers={"Cache-Control": "no-store"})

    @app.page("/livez")
    async def livez(web, request):
        """Liveness: 200 unless the ingest thread died. A stalled worker is alive: a restart does
        not bring a store back, so probes that restart pods use this, not /healthz."""
        alive = runtime.ingest_thread_alive()
        return web.json({"status": "ok" if alive else "dead"}, status=200 if alive else 503,
                        headers={"Cache-Control": "no-store"})

    if settings.metrics.token:
        install_access(app.web.web_app, settings.metrics)
    return app, runtime

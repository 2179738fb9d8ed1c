"""Drift onset -> alert at a local webhook, with a real-time paced producer.

Per run: fresh topics, database and consumer group. First, 20 s of history
(event time before the run starts) is produced at once: the reference warm-up
(2,500 events per model version) and a few clean windows. Then a paced
producer sends ``rate`` predictions/s with event time = wall clock; at a known
wall-clock instant (``phase`` seconds after a 10 s window boundary) ``f0``
shifts by one standard deviation and ``c1`` changes its mix in every stream.
The latency is from that instant to the first ``data_drift`` alert received
by the webhook (``WebhookReceiver`` timestamps, monotonic clock). With onset
just after a window boundary the drifted window closes one window later, so
the target is one window + 2 s.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
import uuid

import numpy as np
from confluent_kafka import Producer
from driftline.stream.app import Runtime
from prometheus_client import CollectorRegistry

from tests.support.servers import WebhookReceiver

from .e2e import release_runtime
from .load import PRODUCER_CONFIG
from .settings import bench_settings, topics
from .traffic import _PREDICTION, MODELS, VERSIONS, WINDOW_MS, feature_rows

STREAMS = [(m, v) for m in MODELS for v in VERSIONS]


def encode(rng: np.random.Generator, ts_ms: list[int], drifted: bool, seq: list[int]) -> list[tuple[str, bytes]]:
    """One prediction per stream per timestamp (no feedback: labels play no part here)."""
    out = []
    n = len(ts_ms)
    for s, (model, version) in enumerate(STREAMS):
        num, cats = feature_rows(rng, n, np.full(n, drifted))
        for j, ts in enumerate(ts_ms):
            x = num[j]
            seq[s] += 1
            out.append((model, (_PREDICTION % (
                f"{model[:2]}{version[1]}l{seq[s]}", model, version, ts, *x.tolist(),
                cats["c0"][j], cats["c1"][j], cats["c2"][j], 0, 0.5, 5.0)).encode()))
    return out


class _Worker(threading.Thread):
    """The real Runtime (ingest thread + alert dispatcher) on its own event loop."""

    def __init__(self, settings) -> None:
        super().__init__(name="bench-latency-worker", daemon=True)
        self.settings = settings
        self.started = threading.Event()
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self.runtime: Runtime | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            self.error = exc
            self.started.set()

    async def _main(self) -> None:
        self.runtime = Runtime(self.settings, registry=CollectorRegistry())
        await self.runtime.start()
        self.started.set()
        try:
            while not self.stopping.is_set():
                await asyncio.sleep(0.05)
        finally:
            await self.runtime.stop()


def one_run(broker, store_url_for, *, rate: int = 5_000, phase: float = 0.5, history_s: int = 20,
            timeout_s: float = 40.0, seed: int = 0) -> dict:
    run_id = uuid.uuid4().hex[:6]
    names = topics(run_id)
    broker.create_topics(list(names.values()), partitions=4)
    rng = np.random.default_rng(seed)
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers, **PRODUCER_CONFIG, "linger.ms": 5})
    seq = [0] * len(STREAMS)
    per_stream = rate // len(STREAMS)
    now_ms = int(time.time() * 1000)
    step = 1000 // per_stream
    history = list(range(now_ms - history_s * 1000, now_ms, step))
    for lo in range(0, len(history), 2000):
        for key, value in encode(rng, history[lo:lo + 2000], False, seq):
            producer.produce(names["predictions"], value=value, key=key)
        producer.poll(0)
    producer.flush(30)
    with WebhookReceiver() as hook:
        settings = bench_settings(broker.bootstrap_servers, store_url_for(run_id), run_id, webhook_url=hook.url,
                                  warmup_events=2_500)
        worker = _Worker(settings)
        worker.start()
        worker.started.wait(60)
        if worker.error:
            raise worker.error
        # Onset: `phase` s after the first window boundary at least 12 s from now (>= 1 clean live window).
        start_ms = int(time.time() * 1000)
        boundary = (start_ms + 12_000) // WINDOW_MS * WINDOW_MS + WINDOW_MS
        onset_wall = boundary / 1000 + phase
        onset_mono = None
        tick = 0.02  # one batch of rate * tick predictions every 20 ms
        next_at = time.time()
        alert = None
        sent = 0
        try:
            while True:
                now = time.time()
                if now < next_at:
                    time.sleep(next_at - now)
                    now = time.time()
                drifted = now >= onset_wall
                if drifted and onset_mono is None:
                    onset_mono = time.monotonic() - (now - onset_wall)
                ts = int(now * 1000)
                for key, value in encode(rng, [ts] * max(1, int(per_stream * tick)), drifted, seq):
                    producer.produce(names["predictions"], value=value, key=key)
                    sent += 1
                producer.poll(0)
                next_at += tick
                if onset_mono is not None:
                    alerts = [r for r in hook.requests if r.received_at >= onset_mono and _is_drift(r)]
                    if alerts:
                        alert = alerts[0]
                        break
                    if time.monotonic() - onset_mono > timeout_s:
                        break
                if worker.error:
                    raise worker.error
            before = [r for r in hook.requests if onset_mono is not None and r.received_at < onset_mono
                      and _is_drift(r)]
        finally:
            worker.stopping.set()
            worker.join(60)
            release_runtime(worker.runtime)
            producer.flush(5)
    latency = alert.received_at - onset_mono if alert is not None else None
    body = alert.json() if alert is not None else {}
    return {"latency_s": latency, "phase_s": phase, "rate": rate, "sent_live": sent,
            "false_alerts_before_onset": len(before),
            "alert": {k: body.get(k) for k in ("kind", "model", "version", "window_start_ms", "window_end_ms")}}


def _is_drift(request) -> bool:
    try:
        return request.json().get("kind") == "data_drift"
    except (ValueError, AttributeError):
        return False


def measure(broker, store_url_for, runs: int = 3, rate: int = 5_000, phase: float = 0.5) -> dict:
    results = [one_run(broker, store_url_for, rate=rate, phase=phase, seed=i) for i in range(runs)]
    latencies = [r["latency_s"] for r in results if r["latency_s"] is not None]
    return {"runs": results, "median_s": statistics.median(latencies) if latencies else None,
            "window_s": WINDOW_MS / 1000, "target_s": WINDOW_MS / 1000 + 2, "missed": runs - len(latencies)}


if __name__ == "__main__":
    import logging

    from driftline.demo import EmbeddedBroker

    logging.basicConfig(level=logging.WARNING)
    with EmbeddedBroker() as broker:
        import tempfile

        d = tempfile.mkdtemp(prefix="driftline-bench-lat-")
        print(json.dumps(measure(broker, lambda run: f"chdb://{d}?database=lat_{run}", runs=1), indent=1))

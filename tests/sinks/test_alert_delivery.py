"""AlertDispatcher against real local HTTP servers: retries, Retry-After, timeouts, dedup, overflow."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from driftline.alerting import Alert
from driftline.settings import parse_channels
from driftline.sinks.alerts import (
    AlertDispatcher,
    DeliveryRecord,
    MemoryDeliveryLog,
    build_channels,
)
from driftline.sinks.alerts.delivery import parse_retry_after

from tests.support.servers import free_port


@dataclass
class Reply:
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


class PlannedServer:
    """Loopback HTTP server answering from a plan (then 200s), recording every request."""

    def __init__(self, *plan: Reply):
        self.plan = list(plan)
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    outer.requests.append({"headers": dict(self.headers), "body": body, "t": time.monotonic()})
                    reply = outer.plan.pop(0) if outer.plan else Reply()
                time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers:
                        self.send_header(k, v)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and hung up

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(*plan: Reply) -> PlannedServer:
        servers.append(PlannedServer(*plan))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def make_alert(i: int = 0, status: str = "firing", key: str = "fraud/v3/data_drift") -> Alert:
    return Alert(alert_id=f"{i:032x}", dedup_key=key, status=status, kind="data_drift", severity="warning",
                 action="notify", model="fraud", version="v3", features=(), window_start_ms=i * 60_000,
                 window_end_ms=(i + 1) * 60_000, summary=f"alert {i}", ts_ms=(i + 1) * 60_000)


class Harness:
    """A dispatcher with a recorded sleep, results and log."""

    def __init__(self, url: str, **kw):
        self.sleeps: list[float] = []
        self.results: list[tuple[str, str]] = []
        self.log = kw.pop("delivery_log", None) or MemoryDeliveryLog()
        channels = build_channels(parse_channels(kw.pop("channels", None) or
                                                 [{"type": "webhook", "name": "hook", "url": url}]))

        async def sleep(delay: float) -> None:
            self.sleeps.append(delay)

        kw.setdefault("sleep", sleep)
        self.dispatcher = AlertDispatcher(client=httpx.AsyncClient(), channels=channels, delivery_log=self.log, rng=random.Random(7),
                                          on_result=lambda ch, r: self.results.append((ch, r)), **kw)

    async def run(self, *alerts: Alert, start: bool = True) -> list[DeliveryRecord]:
        if start:
            await self.dispatcher.start()
        for alert in alerts:
            self.dispatcher.submit(alert)
        await self.dispatcher.stop(drain_timeout=30)
        return list(self.log.records)


async def test_refused_connection_retries_then_records_failure():
    h = Harness(f"http://127.0.0.1:{free_port()}/hook", max_attempts=4, base_backoff=0.5, max_backoff=30)
    (record,) = await h.run(make_alert())
    assert (record.status, record.attempts, record.last_status_code) == ("failed", 4, None)
    assert "ConnectError" in record.error
    assert len(h.sleeps) == 3
    for n, delay in enumerate(h.sleeps, start=1):  # full jitter within the exponential cap
        assert 0 <= delay <= 0.5 * 2 ** (n - 1)
    assert h.results == [("hook", "retry")] * 3 + [("hook", "failed")]


async def test_500_500_200_is_delivered_on_third_attempt_with_one_idempotency_key(serve):
    server = serve(Reply(500), Reply(503))
    h = Harness(server.url)
    (record,) = await h.run(make_alert(1))
    assert (record.status, record.attempts, record.last_status_code, record.error) == ("delivered", 3, 200, None)
    keys = {r["headers"]["Idempotency-Key"] for r in server.requests}
    assert keys == {make_alert(1).alert_id} and len(server.requests) == 3


async def test_429_retry_after_seconds_is_honoured(serve):
    server = serve(Reply(429, (("Retry-After", "1"),)))
    h = Harness(server.url)
    (record,) = await h.run(make_alert())
    assert h.sleeps == [1.0]
    assert (record.status, record.attempts) == ("delivered", 2)


async def test_429_retry_after_http_date_is_capped_by_max_backoff(serve):
    now = 1_714_564_800.0
    server = serve(Reply(429, (("Retry-After", "Wed, 01 May 2024 12:00:04 GMT"),)),
                   Reply(503, (("Retry-After", "3600"),)))
    h = Harness(server.url, clock=lambda: now, max_backoff=30)
    (record,) = await h.run(make_alert())
    assert h.sleeps == [4.0, 30]
    assert record.attempts == 3


async def test_real_sleep_waits_about_retry_after(serve):
    server = serve(Reply(429, (("Retry-After", "1"),)))
    h = Harness(server.url, sleep=asyncio.sleep)
    await h.run(make_alert())
    first, second = (r["t"] for r in server.requests)
    assert 0.9 <= second - first < 3


async def test_slow_response_times_out_and_is_retried(serve):
    server = serve(Reply(200, delay=1.5))
    h = Harness(server.url, timeout=0.3)
    (record,) = await h.run(make_alert())
    assert (record.status, record.attempts) == ("delivered", 2)
    assert len(server.requests) == 2 and len(h.sleeps) == 1


async def test_timeouts_until_max_attempts_record_the_timeout(serve):
    server = serve(*[Reply(200, delay=1.0)] * 2)
    h = Harness(server.url, timeout=0.2, max_attempts=2)
    (record,) = await h.run(make_alert())
    assert (record.status, record.attempts, record.last_status_code) == ("failed", 2, None)
    assert record.error.startswith("timeout after 0.2s")


async def test_4xx_is_final(serve):
    server = serve(Reply(400))
    h = Harness(server.url)
    (record,) = await h.run(make_alert())
    assert (record.status, record.attempts, record.last_status_code) == ("failed", 1, 400)
    assert record.error.startswith("HTTP 400 from http://127.0.0.1:") and "/hook" not in record.error
    assert h.sleeps == [] and len(server.requests) == 1


async def test_408_is_retried(serve):
    server = serve(Reply(408))
    h = Harness(server.url)
    (record,) = await h.run(make_alert())
    assert (record.status, record.attempts) == ("delivered", 2)


async def test_already_delivered_alert_is_not_resent(serve):
    server = serve()
    log = MemoryDeliveryLog()
    log.record(DeliveryRecord(make_alert(2).alert_id, "fraud/v3/data_drift", "hook", "delivered", 1, 200, None, 0))
    h = Harness(server.url, delivery_log=log)
    records = await h.run(make_alert(2), make_alert(3))
    assert len(server.requests) == 1
    assert json.loads(server.requests[0]["body"])["alert_id"] == make_alert(3).alert_id
    assert ("hook", "skipped") in h.results
    assert [r.alert_id for r in records] == [make_alert(2).alert_id, make_alert(3).alert_id]


async def test_restart_with_same_log_does_not_resend(serve):
    server = serve()
    log = MemoryDeliveryLog()
    await Harness(server.url, delivery_log=log).run(make_alert(5))
    await Harness(server.url, delivery_log=log).run(make_alert(5))  # recomputed after a crash
    assert len(server.requests) == 1


class AsyncLog(MemoryDeliveryLog):
    async def delivered(self, alert_id, channel):
        await asyncio.sleep(0)
        return super().delivered(alert_id, channel)

    async def record(self, record):
        await asyncio.sleep(0)
        super().record(record)


async def test_async_delivery_log_is_supported(serve):
    server = serve()
    log = AsyncLog()
    h = Harness(server.url, delivery_log=log)
    records = await h.run(make_alert(1), make_alert(1))
    assert len(server.requests) == 1 and [r.status for r in records] == ["delivered"]


async def test_queue_full_is_recorded_never_silently_dropped(serve):
    server = serve()
    h = Harness(server.url, max_queue=2)
    for i in range(5):
        h.dispatcher.submit(make_alert(i))  # not started yet: nothing drains the queue
    assert h.dispatcher.dropped == 3
    dropped = [r for r in h.log.records]
    assert [(r.status, r.error, r.attempts) for r in dropped] == [("failed", "queue full", 0)] * 3
    await h.dispatcher.start()
    await h.dispatcher.stop(drain_timeout=10)
    assert len(server.requests) == 2
    assert h.results.count(("hook", "dropped")) == 3


async def test_stop_records_undelivered_alerts():
    h = Harness("http://127.0.0.1:9/hook")
    h.dispatcher.submit(make_alert(1))
    await h.dispatcher.stop(drain_timeout=0.01)  # never started
    ((status, error),) = [(r.status, r.error) for r in h.log.records]
    assert (status, error) == ("failed", "dispatcher stopped")


async def test_firing_then_resolved_arrive_in_order_despite_retries(serve):
    server = serve(Reply(500), Reply(500))
    h = Harness(server.url, concurrency=4)
    firing, resolved = make_alert(1), make_alert(2, status="resolved")
    await h.run(firing, resolved)
    order = [json.loads(r["body"])["alert_id"] for r in server.requests]
    firing_at = [i for i, a in enumerate(order) if a == firing.alert_id]
    resolved_at = [i for i, a in enumerate(order) if a == resolved.alert_id]
    assert len(firing_at) == 3 and len(resolved_at) == 1  # 500, 500, 200 then one try
    assert max(firing_at) < min(resolved_at)
    assert {r.status for r in h.log.records} == {"delivered"}


async def test_a_dead_channel_does_not_delay_a_healthy_one(serve):
    server = serve()
    gate = asyncio.Event()

    async def slow_sleep(delay):
        await gate.wait()

    h = Harness(server.url, sleep=slow_sleep, channels=[
        {"type": "webhook", "name": "dead", "url": f"http://127.0.0.1:{free_port()}/x"},
        {"type": "webhook", "name": "live", "url": server.url}])
    await h.dispatcher.start()
    h.dispatcher.submit(make_alert())
    for _ in range(200):
        if any(r.channel == "live" for r in h.log.records):
            break
        await asyncio.sleep(0.01)
    assert [r.channel for r in h.log.records] == ["live"]  # "dead" is still backing off
    gate.set()
    await h.dispatcher.stop(drain_timeout=10)
    assert {(r.channel, r.status) for r in h.log.records} == {("live", "delivered"), ("dead", "failed")}


async def test_kafka_channel_runs_in_a_thread_and_retries():
    class FlakyProducer:
        def __init__(self):
            self.calls = 0

        def produce(self, topic, value=None, key=None, on_delivery=None):
            self.calls += 1
            if self.calls == 1:
                raise BufferError("queue full")
            on_delivery(None, None)

        def flush(self, timeout=None):
            return 0

    producer = FlakyProducer()
    log = MemoryDeliveryLog()
    channels = build_channels(parse_channels([{"type": "kafka", "topic": "alerts"}]), producer=producer)
    sleeps = []

    async def sleep(d):
        sleeps.append(d)

    dispatcher = AlertDispatcher(client=httpx.AsyncClient(), channels=channels, delivery_log=log, sleep=sleep)
    await dispatcher.start()
    dispatcher.submit(make_alert())
    await dispatcher.stop()
    (record,) = log.records
    assert (record.channel, record.status, record.attempts) == ("kafka", "delivered", 2)


def test_backoff_bounds_and_parameters():
    dispatcher = AlertDispatcher(client=httpx.AsyncClient(), channels=[], delivery_log=MemoryDeliveryLog(), base_backoff=0.5, max_backoff=4,
                                 rng=random.Random(1))
    for attempt in range(1, 10):
        assert 0 <= dispatcher.backoff(attempt) <= min(4, 0.5 * 2 ** (attempt - 1))
    assert dispatcher.backoff(3, retry_after=2.5) == 2.5
    assert dispatcher.backoff(3, retry_after=100) == 4
    with pytest.raises(ValueError, match="max_attempts: got 0, expected an integer >= 1"):
        AlertDispatcher(client=httpx.AsyncClient(), channels=[], delivery_log=MemoryDeliveryLog(), max_attempts=0)
    assert parse_retry_after("Wed, 01 May 2024 12:00:04 GMT", 1_714_564_810.0) == 0.0


async def test_an_unreachable_delivery_log_neither_blocks_nor_kills_delivery():
    import httpx
    from driftline.alerting import Alert
    from driftline.settings import WebhookSettings
    from driftline.sinks.alerts import AlertDispatcher, WebhookChannel

    class BrokenLog:
        calls = 0

        def delivered(self, alert_id, channel):
            BrokenLog.calls += 1
            raise ConnectionError("store down")

        def record(self, record):
            BrokenLog.calls += 1
            raise ConnectionError("store down")

    sent = []

    def handler(request):
        sent.append(request.headers["Idempotency-Key"])
        return httpx.Response(200)

    delays = []

    async def no_sleep(seconds):
        delays.append(seconds)

    channel = WebhookChannel(WebhookSettings("hook", "http://hook.test/x"))
    dispatcher = AlertDispatcher([channel], client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
                                 delivery_log=BrokenLog(), sleep=no_sleep)
    alert = Alert.from_dict({"alert_id": "a1", "dedup_key": "m/v/data_drift", "status": "firing", "kind": "data_drift",
                             "severity": "warning", "action": "notify", "model": "m", "version": "v",
                             "window_start_ms": 0, "window_end_ms": 60_000, "summary": "s", "ts_ms": 60_000})
    record = await dispatcher.deliver(channel, alert)
    assert record.status == "delivered" and sent == ["a1"]
    assert BrokenLog.calls == 10 and len(delays) == 8  # 5 tries each for delivered() and record()

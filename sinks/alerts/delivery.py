"""Delivering alerts: a bounded queue per channel, retries, and a delivery log.

Delivery guarantee: **at most once per alert id per channel**, across restarts,
as far as the :class:`DeliveryLog` remembers. Before sending, the dispatcher
asks ``delivered(alert_id, channel)`` and skips what was already delivered;
every alert it accepted ends in exactly one :class:`DeliveryRecord` (delivered
or failed — including "queue full" and "dispatcher stopped") unless skipped.
Alerts of one ``dedup_key`` reach a channel in submission order (firing before
resolved); different keys and different channels are delivered concurrently,
so a dead Slack never delays PagerDuty.

Retries: connection errors, timeouts, 408, 429 and 5xx, up to ``max_attempts``
with exponential backoff and full jitter (``uniform(0, min(max_backoff,
base_backoff * 2**(attempt-1)))``); a ``Retry-After`` header (seconds or
HTTP-date) replaces the jittered delay, capped by ``max_backoff``.

>>> log = MemoryDeliveryLog()
>>> log.record(DeliveryRecord("a1", "m/v/data_drift", "slack", "delivered", 1, 200, None, 0))
>>> log.delivered("a1", "slack"), log.delivered("a1", "pagerduty")
(True, False)
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx
from driftline.alerting import Alert
from driftline.settings import redact_url
from driftline.sinks.alerts.base import (
    AlertSinkError,
    DeliveryError,
    HttpStatusError,
    TransportError,
)

__all__ = ["AlertDispatcher", "DeliveryLog", "DeliveryRecord", "MemoryDeliveryLog", "parse_retry_after"]

log = logging.getLogger("driftline.alerts")


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One row of the ``alert_deliveries`` table: the final outcome for (alert, channel)."""

    alert_id: str
    dedup_key: str
    channel: str
    status: str  # "delivered" | "failed"
    attempts: int
    last_status_code: int | None
    error: str | None
    ts_ms: int


class DeliveryLog(Protocol):
    """Where outcomes go. Methods may be plain or ``async``."""

    def delivered(self, alert_id: str, channel: str) -> bool | Awaitable[bool]: ...
    def record(self, record: DeliveryRecord) -> None | Awaitable[None]: ...


class MemoryDeliveryLog:
    """In-process log for tests and single-process use; bounded by ``max_records``."""

    def __init__(self, max_records: int = 100_000):
        self.records: deque[DeliveryRecord] = deque(maxlen=max_records)
        self._delivered: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._max = max_records

    def delivered(self, alert_id: str, channel: str) -> bool:
        return (alert_id, channel) in self._delivered

    def record(self, record: DeliveryRecord) -> None:
        self.records.append(record)
        if record.status == "delivered":
            self._delivered[(record.alert_id, record.channel)] = None
            while len(self._delivered) > self._max:
                self._delivered.popitem(last=False)


async def _resolve(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def parse_retry_after(value: str | None, now_s: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date).

    >>> parse_retry_after("3", 0), parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", 4.0)
    (3.0, 6.0)
    >>> parse_retry_after("soon", 0) is None
    True
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now_s)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class AlertDispatcher:
    """Fan alerts out to channels without ever blocking the caller.

    ``on_result(channel, result)`` is called with ``result`` in ``"delivered"``,
    ``"failed"``, ``"retry"``, ``"skipped"`` (already delivered) and
    ``"dropped"`` (queue full) — wire Prometheus counters there.
    """

    def __init__(self, channels: Iterable[Any], *, client: httpx.AsyncClient,
                 delivery_log: DeliveryLog, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep, max_attempts: int = 5,
                 base_backoff: float = 0.5, max_backoff: float = 30.0, timeout: float = 10.0,
                 max_queue: int = 10_000, concurrency: int = 4,
                 on_result: Callable[[str, str], None] | None = None, rng: random.Random | None = None):
        for name, value, low in (("max_attempts", max_attempts, 1), ("max_queue", max_queue, 1),
                                 ("concurrency", concurrency, 1)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: got {value!r}, expected an integer >= {low}")
        for name, value in (("base_backoff", base_backoff), ("max_backoff", max_backoff), ("timeout", timeout)):
            if not value > 0:
                raise ValueError(f"{name}: got {value!r}, expected a number > 0")
        self.channels = {c.name: c for c in channels}
        self._client: httpx.AsyncClient | None = client  # owned: closed by stop()
        self._log, self._clock, self._sleep = delivery_log, clock, sleep
        self.max_attempts, self.base_backoff, self.max_backoff = max_attempts, base_backoff, max_backoff
        self.timeout, self.concurrency = timeout, concurrency
        self._on_result = on_result or (lambda channel, result: None)
        self._rng = rng or random.Random()
        self._queues = {name: asyncio.Queue(maxsize=max_queue) for name in self.channels}
        self._locks: dict[tuple[str, str], list[Any]] = {}
        self._workers: list[asyncio.Task] = []
        self._pending: set[asyncio.Task] = set()
        self.dropped = 0

    def submit(self, alert: Alert) -> int:
        """Queue ``alert`` for every channel that accepts it; returns how many. Never blocks."""
        queued = 0
        for name, channel in self.channels.items():
            if not channel.accepts(alert):
                continue
            try:
                self._queues[name].put_nowait(alert)
                queued += 1
            except asyncio.QueueFull:
                self.dropped += 1
                self._on_result(name, "dropped")
                log.warning("alert %s for channel %s dropped: queue full", alert.alert_id, name)
                self._record_soon(self._record(alert, name, "failed", 0, None, "queue full"))
        return queued

    def _record(self, alert: Alert, channel: str, status: str, attempts: int,
                code: int | None, error: str | None) -> DeliveryRecord:
        return DeliveryRecord(alert.alert_id, alert.dedup_key, channel, status, attempts, code, error,
                              int(self._clock() * 1000))

    def _record_soon(self, record: DeliveryRecord) -> None:
        result = self._log.record(record)
        if inspect.isawaitable(result):  # an async log: keep a reference until it finishes
            task = asyncio.ensure_future(result)
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def start(self) -> None:
        if self._workers:
            return
        for name in self.channels:
            for _ in range(self.concurrency):
                self._workers.append(asyncio.create_task(self._work(name), name=f"alerts:{name}"))

    async def drain(self) -> None:
        """Wait until every queued alert has a final outcome."""
        await asyncio.gather(*(q.join() for q in self._queues.values()))
        if self._pending:
            await asyncio.gather(*list(self._pending))

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Drain for up to ``drain_timeout`` seconds, then cancel; leftovers are recorded as failed."""
        try:
            await asyncio.wait_for(self.drain(), drain_timeout)
        except TimeoutError:
            log.warning("alert dispatcher stopping with undelivered alerts")
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        for name, queue in self._queues.items():
            while not queue.empty():
                alert = queue.get_nowait()
                queue.task_done()
                self._record_soon(self._record(alert, name, "failed", 0, None, "dispatcher stopped"))
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _work(self, name: str) -> None:
        queue, channel = self._queues[name], self.channels[name]
        while True:
            alert = await queue.get()
            # get() and acquire() run in one step, so per-key order is the queue order.
            entry = self._locks.setdefault((name, alert.dedup_key), [asyncio.Lock(), 0])
            entry[1] += 1
            try:
                async with entry[0]:
                    await self.deliver(channel, alert)
            finally:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[(name, alert.dedup_key)]
                queue.task_done()

    async def deliver(self, channel: Any, alert: Alert) -> DeliveryRecord | None:
        """Deliver one alert to one channel with retries; returns the record (None if skipped)."""
        if await self._log_call("delivered", alert.alert_id, channel.name, default=False):
            self._on_result(channel.name, "skipped")
            return None
        attempts, code, error = 0, None, None
        try:
            while True:
                attempts += 1
                try:
                    code = await self._attempt(channel, alert)
                    record = self._record(alert, channel.name, "delivered", attempts, code, None)
                    break
                except DeliveryError as exc:
                    code, error = exc.status_code, str(exc)
                    if not exc.retriable or attempts >= self.max_attempts:
                        record = self._record(alert, channel.name, "failed", attempts, code, error)
                        log.warning("alert %s to %s failed after %d attempts: %s",
                                    alert.alert_id, channel.name, attempts, error)
                        break
                    self._on_result(channel.name, "retry")
                    await self._sleep(self.backoff(attempts, exc.retry_after))
        except asyncio.CancelledError:
            self._record_soon(self._record(alert, channel.name, "failed", attempts, code,
                                           f"cancelled during shutdown (last error: {error})"))
            raise
        await self._log_call("record", record, default=None)
        self._on_result(channel.name, record.status)
        return record

    async def _log_call(self, method: str, *args: Any, default: Any, attempts: int = 5) -> Any:
        """Call the delivery log, retrying while its store is away.

        If the log stays unreachable the delivery goes ahead (``delivered`` answers ``default``):
        an outage of the store must not stop alerting, and receivers can deduplicate repeats by
        the ``Idempotency-Key`` header. A failing log never ends a delivery task.
        """
        for attempt in range(1, attempts + 1):
            try:
                return await _resolve(getattr(self._log, method)(*args))
            except Exception as exc:  # noqa: BLE001 - any store error; the log is best effort here
                if attempt == attempts:
                    log.warning("delivery log %s failed %d times, going on without it: %s", method, attempts, exc)
                    return default
                await self._sleep(self.backoff(attempt))
        return default

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Delay before attempt ``attempt + 1``."""
        if retry_after is not None:
            return min(retry_after, self.max_backoff)
        return self._rng.uniform(0, min(self.max_backoff, self.base_backoff * 2 ** (attempt - 1)))

    async def _attempt(self, channel: Any, alert: Alert) -> int | None:
        try:
            if hasattr(channel, "render"):
                return await self._http(channel.render(alert, now_s=self._clock()))
            await asyncio.wait_for(asyncio.to_thread(channel.deliver, alert, timeout=self.timeout),
                                   self.timeout + 1)
            return None
        except AlertSinkError:
            raise
        except TimeoutError as exc:
            raise TransportError(f"timeout after {self.timeout}s") from exc
        except Exception as exc:  # a bug in rendering must not kill the worker
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc

    async def _http(self, request: Any) -> int:
        assert self._client is not None, "call start() first"
        try:
            response = await self._client.request(request.method, request.url, headers=list(request.headers),
                                                  content=request.body, timeout=self.timeout)
        except httpx.TimeoutException as exc:
            raise TransportError(f"timeout after {self.timeout}s ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        if 200 <= response.status_code < 300:
            return response.status_code
        raise HttpStatusError(
            f"HTTP {response.status_code} from {redact_url(request.url)}: {response.text[:200]}",
            status_code=response.status_code,
            retry_after=parse_retry_after(response.headers.get("Retry-After"), self._clock()),
        )

"""The ``alert_deliveries`` table as the persisted delivery log of alert notifications."""

from __future__ import annotations

import asyncio
import threading

from .store import Store

__all__ = ["AsyncStoreDeliveryLog", "StoreDeliveryLog"]


class StoreDeliveryLog:
    """Answers "was this alert state change delivered on this channel?" across restarts.

    It keeps a bounded in-memory cache of delivered pairs in front of the table.
    """

    def __init__(self, store: Store, *, cache_size: int = 100_000) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._delivered: dict[tuple[str, str], None] = {}
        self._cache_size = cache_size

    def delivered(self, alert_id: str, channel: str) -> bool:
        key = (alert_id, channel)
        if key in self._delivered:
            return True
        with self._lock:
            rows = self.store.execute(
                "SELECT count() FROM alert_deliveries FINAL WHERE alert_id = %(a)s AND channel = %(c)s"
                " AND status = 'delivered'", {"a": alert_id, "c": channel})
        found = bool(rows and rows[0][0])
        if found:
            self._remember(key)
        return found

    def record(self, record) -> None:
        with self._lock:
            self.store.insert("alert_deliveries", {
                "alert_id": [record.alert_id], "dedup_key": [record.dedup_key], "channel": [record.channel],
                "status": [record.status], "attempts": [record.attempts],
                "last_status_code": [record.last_status_code or 0], "error": [record.error or ""],
                "ts": [record.ts_ms // 1000],
            })
        if record.status == "delivered":
            self._remember((record.alert_id, record.channel))

    async def delivered_async(self, alert_id: str, channel: str) -> bool:
        return await asyncio.to_thread(self.delivered, alert_id, channel)

    async def record_async(self, record) -> None:
        await asyncio.to_thread(self.record, record)

    def undelivered(self, channels: list[str], *, since_s: int, limit: int = 1000) -> list[tuple[str, str]]:
        """Alert payloads (JSON) written since ``since_s`` that some channel has not delivered.

        Used at start-up as an outbox: an alert whose window was checkpointed but whose delivery
        was cut short by a crash is sent again (at most once per channel: delivered ones are skipped).
        """
        with self._lock:
            rows = self.store.execute(
                "SELECT alert_id, payload FROM alerts FINAL WHERE ts >= %(since)s AND alert_id NOT IN "
                "(SELECT alert_id FROM alert_deliveries FINAL WHERE status = 'delivered' "
                "GROUP BY alert_id HAVING uniqExact(channel) >= %(n)s) ORDER BY ts LIMIT %(limit)s",
                {"since": since_s, "n": len(channels), "limit": limit})
        return [(alert_id, payload) for alert_id, payload in rows]

    def _remember(self, key: tuple[str, str]) -> None:
        self._delivered[key] = None
        while len(self._delivered) > self._cache_size:
            self._delivered.pop(next(iter(self._delivered)))


class AsyncStoreDeliveryLog:
    """The same log with async methods, so the dispatcher never blocks the event loop on a query."""

    def __init__(self, log: StoreDeliveryLog) -> None:
        self.log = log

    async def delivered(self, alert_id: str, channel: str) -> bool:
        return await self.log.delivered_async(alert_id, channel)

    async def record(self, record) -> None:
        await self.log.record_async(record)

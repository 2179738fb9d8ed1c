"""The ``alert_deliveries`` table as the persisted delivery log of alert notifications."""

from __future__ import annotations

import threading

from .store import Store

__all__ = ["StoreDeliveryLog"]


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

    def _remember(self, key: tuple[str, str]) -> None:
        self._delivered[key] = None
        while len(self._delivered) > self._cache_size:
            self._delivered.pop(next(iter(self._delivered)))

"""The storage interface and its ClickHouse-server implementation.

A :class:`Store` runs SQL and inserts columnar batches. Two implementations
share one schema and one dialect: :class:`ClickHouseStore` (a ClickHouse
server over the native protocol, via clickhouse-driver) and
:class:`~driftline.sinks.embedded.EmbeddedStore` (chdb, the in-process engine).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlparse

from .errors import StoreError
from .store_errors import insert_error

__all__ = ["ClickHouseStore", "Store", "connect_params"]


class Store(Protocol):
    database: str

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple]: ...

    def insert(self, table: str, columns: Mapping[str, Sequence[Any]]) -> None:
        """Insert one columnar batch (all columns the same length), all of it or none of it.

        Raises :class:`~driftline.sinks.errors.StoreRejected` when the store refuses the rows
        (see :mod:`driftline.sinks.store_errors`), a retriable StoreError when it may take them later.
        """

    def server_version(self) -> tuple[int, ...]: ...

    def close(self) -> None: ...


def connect_params(url: str) -> dict[str, Any]:
    """``clickhouse://user:pass@host:port/db?secure=1`` -> clickhouse-driver keyword arguments.

    >>> connect_params("clickhouse://bob:s3@127.0.0.1:9000/driftline")["database"]
    'driftline'
    """
    parsed = urlparse(url)
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    secure = parsed.scheme == "clickhouses" or query.pop("secure", "0") in ("1", "true")
    params: dict[str, Any] = {
        "host": parsed.hostname or "127.0.0.1",
        "port": parsed.port or (9440 if secure else 9000),
        "user": unquote(parsed.username or "default"),
        "password": unquote(parsed.password or ""),
        "database": (parsed.path or "/driftline").lstrip("/") or "driftline",
        "secure": secure,
    }
    for key in ("ca_certs", "certfile", "keyfile", "verify"):
        if key in query:
            params[key] = query[key] if key != "verify" else query[key] in ("1", "true")
    return params


class ClickHouseStore:
    """A ClickHouse server. Rows always travel as parameters (never inline VALUES)."""

    def __init__(self, url: str, *, client_factory: Callable[..., Any],
                 settings: Mapping[str, Any] | None = None) -> None:
        """``client_factory(**connect_params)`` makes a clickhouse-driver ``Client``; the wiring passes
        ``clickhouse_driver.Client`` (the store reconnects with it to switch database)."""
        params = connect_params(url)
        self.database = params.pop("database")
        factory = client_factory
        self._settings = {"allow_experimental_low_cardinality_type": 1, **(settings or {})}
        self._client = factory(database="default", settings=self._settings, **params)
        self._params = params
        self._factory = factory
        # clickhouse-driver clients are not thread-safe; the status page, the delivery log and
        # retention may share a store across threads.
        self._lock = threading.RLock()

    def use_database(self) -> None:
        with self._lock:
            self._client.disconnect()
            self._client = self._factory(database=self.database, settings=self._settings, **self._params)

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        try:
            with self._lock:
                return self._client.execute(sql, params) if params else self._client.execute(sql)
        except Exception as exc:  # clickhouse-driver raises many unrelated types
            raise StoreError(f"ClickHouse query failed: {exc}") from exc

    def insert(self, table: str, columns: Mapping[str, Sequence[Any]]) -> None:
        names = ", ".join(columns)
        try:
            with self._lock:
                self._client.execute(
                    f"INSERT INTO {table} ({names}) VALUES", list(columns.values()), columnar=True
                )
        except Exception as exc:  # the driver disconnects on any error, so the next call starts clean
            raise insert_error(exc, table=table, store="ClickHouse") from exc

    def server_version(self) -> tuple[int, ...]:
        (version,), = self.execute("SELECT version()")
        return tuple(int(p) for p in version.split(".") if p.isdigit())

    def close(self) -> None:
        with self._lock:
            self._client.disconnect()

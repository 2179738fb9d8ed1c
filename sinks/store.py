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
    cluster: str | None  # the ClickHouse cluster the schema lives on (driftline.sinks.cluster), or None

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


# On a cluster (see driftline.sinks.cluster), for every query of the store:
CLUSTER_SETTINGS: Mapping[str, Any] = {
    # An insert returns once its rows are on one replica of each shard and in ZooKeeper's
    # replication log, never parked in a node-local queue of the Distributed table.
    "insert_distributed_sync": 1,
    # Every worker, whatever server it connects to, reads and writes the first live replica of
    # each shard (config order): a checkpoint or an event row one worker wrote is what the next
    # owner of the partition reads, while that replica lives.
    "load_balancing": "in_order",
    "prefer_localhost_replica": 0,
    # `x IN (SELECT ... FROM distributed)` inside a query of a Distributed table: run the
    # subquery once, on the whole cluster (the label-join rebuild reads this way).
    "distributed_product_mode": "global",
}


class ClickHouseStore:
    """A ClickHouse server, or a cluster through one of its servers (``cluster``). Rows always
    travel as parameters (never inline VALUES).

    ``insert_quorum`` (cluster only, 0 = off) makes every insert wait until that many replicas
    of its shard hold it, and reads then ask for ``select_sequential_consistency``: see
    docs/deployment.md "ClickHouse cluster" for the trade-off.
    """

    def __init__(self, url: str, *, client_factory: Callable[..., Any],
                 settings: Mapping[str, Any] | None = None, cluster: str | None = None,
                 insert_quorum: int = 0) -> None:
        """``client_factory(**connect_params)`` makes a clickhouse-driver ``Client``; the wiring passes
        ``clickhouse_driver.Client`` (the store reconnects with it to switch database)."""
        if insert_quorum < 0:
            raise ValueError(f"insert_quorum must be >= 0, got {insert_quorum}")
        if insert_quorum and not cluster:
            raise ValueError("insert_quorum needs a cluster")
        params = connect_params(url)
        self.database = params.pop("database")
        self.cluster = cluster or None
        factory = client_factory
        clustered: dict[str, Any] = dict(CLUSTER_SETTINGS) if cluster else {}
        if insert_quorum:
            clustered.update(insert_quorum=insert_quorum, select_sequential_consistency=1)
        self._settings = {"allow_experimental_low_cardinality_type": 1, **clustered, **(settings or {})}
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

    def on_each_shard(self, sql: str) -> None:
        """Run ``sql`` on one replica of every shard of the cluster (the first that answers):
        a replicated table's ALTER reaches the shard's other replicas through ZooKeeper."""
        if not self.cluster:
            raise StoreError("on_each_shard needs a cluster")
        rows = self.execute("SELECT shard_num, host_name, port FROM system.clusters WHERE cluster = %(c)s "
                            "ORDER BY shard_num, replica_num", {"c": self.cluster})
        if not rows:
            raise StoreError(f"cluster {self.cluster!r} is not in system.clusters of the server")
        shards: dict[int, list[tuple[str, int]]] = {}
        for shard, host, port in rows:
            shards.setdefault(int(shard), []).append((str(host), int(port)))
        for shard, replicas in sorted(shards.items()):
            errors = []
            for host, port in replicas:
                client = self._factory(**{**self._params, "host": host, "port": port},
                                       database=self.database, settings=self._settings)
                try:
                    client.execute(sql)
                    break
                except Exception as exc:  # noqa: BLE001 - the next replica may answer
                    errors.append(f"{host}:{port}: {exc}")
                finally:
                    client.disconnect()
            else:
                raise StoreError(f"shard {shard} of cluster {self.cluster}: " + "; ".join(errors))

    def server_version(self) -> tuple[int, ...]:
        (version,), = self.execute("SELECT version()")
        return tuple(int(p) for p in version.split(".") if p.isdigit())

    def close(self) -> None:
        with self._lock:
            self._client.disconnect()

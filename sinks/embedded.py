"""The in-process ClickHouse engine (chdb) behind the :class:`~driftline.sinks.store.Store` interface.

``driftline demo`` stores everything in a local directory with no server to run:
same schema, same SQL, same migrations as :class:`~driftline.sinks.store.ClickHouseStore`.

URLs: ``chdb://./.driftline/store`` (relative to the working directory),
``chdb:///var/lib/driftline`` (absolute), optional ``?database=name``
(default ``driftline``).

chdb runs ONE embedded engine per process, bound to one directory: a second
store on the same directory shares it, a store on another directory fails
until every store on the first one is closed, and a second process cannot
open a directory another process holds. The session runs in UTC, so
``DateTime`` values read back as naive UTC ``datetime`` objects.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import threading
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from .errors import StoreError
from .store_errors import insert_error

# chdb's background threads crash (SIGSEGV) when the interpreter tears down under an open
# engine, so every store still open at exit is closed first.
_OPEN_STORES: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_open_stores() -> None:
    for store in list(_OPEN_STORES):
        store.close()

__all__ = ["DEFAULT_URL", "EmbeddedStore", "embedded_path"]

DEFAULT_URL = "chdb://./.driftline/store"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SESSION_SETTINGS = (
    "SET session_timezone = 'UTC'",
    "SET output_format_json_quote_64bit_integers = 0",  # Int64/UInt64 as JSON numbers
    "SET output_format_json_quote_denormals = 1",  # NaN/inf as "nan"/"inf", not null
    "SET output_format_json_named_tuples_as_objects = 0",
)
_DDL = ("ALTER", "CREATE", "DROP", "RENAME", "EXCHANGE", "ATTACH", "DETACH")


def embedded_path(url: str) -> tuple[str, str]:
    """``chdb://dir?database=db`` -> (absolute directory, database).

    >>> embedded_path("chdb:///srv/dl?database=demo")
    ('/srv/dl', 'demo')
    """
    parsed = urlparse(url)
    if parsed.scheme != "chdb":
        raise ValueError(f"store url must start with chdb://, got {url!r}")
    location = unquote(parsed.netloc + parsed.path)
    database = parse_qs(parsed.query).get("database", ["driftline"])[-1]
    if not location:
        raise ValueError(f"store url {url!r} names no directory: use chdb://./path or chdb:///abs/path")
    if not _IDENTIFIER.match(database):
        raise ValueError(f"database must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*), got {database!r}")
    if location == ":memory:":
        return location, database
    # chdb compares directories as strings: normalise so ./x and /cwd/x are one engine.
    return os.path.realpath(os.path.expanduser(location)), database


class _Context:
    """The bit of clickhouse-driver's connection context its escaping reads."""

    class server_info:  # noqa: N801 - mirrors clickhouse_driver's attribute name
        @staticmethod
        def get_timezone() -> str:
            return "UTC"


class EmbeddedStore:
    """chdb in this process. One lock serialises the session across threads."""

    cluster = None  # one process, one engine: never a cluster

    def __init__(self, url: str = DEFAULT_URL, *, session_factory: Callable[[str], Any]) -> None:
        """``session_factory(path)`` opens a chdb session; the wiring passes ``chdb.session.Session``."""
        self.path, self.database = embedded_path(url)
        if self.path != ":memory:":
            os.makedirs(self.path, exist_ok=True)
        self._lock = threading.Lock()
        self._columns: dict[tuple[str, str], dict[str, str]] = {}
        self._current_db = "default"
        try:
            self._session = session_factory(self.path)
            for statement in _SESSION_SETTINGS:
                self._session.query(statement)
        except Exception as exc:
            hint = ""
            if "already initialized" in str(exc):
                hint = " (chdb allows one data directory per process: close the other store first)"
            elif "initializing EmbeddedServer" in str(exc):
                hint = " (is another process using this directory?)"
            raise StoreError(f"cannot open chdb store at {self.path}{hint}: {exc}") from exc
        _OPEN_STORES.add(self)

    def use_database(self) -> None:
        self._run(f"USE {self.database}")
        self._current_db = self.database

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        if params:
            from clickhouse_driver.util.escape import escape_params

            sql = sql % escape_params(params, _Context)
        if sql.lstrip().upper().startswith(_DDL):
            self._columns.clear()
        raw = self._run(sql, "JSONCompact")
        if not raw.strip():
            return []
        result = json.loads(raw.decode("utf-8", "replace"))
        converters = [_converter(col["type"]) for col in result["meta"]]
        if all(c is None for c in converters):
            return [tuple(row) for row in result["data"]]
        return [
            tuple(v if c is None or v is None else c(v) for c, v in zip(converters, row, strict=True))
            for row in result["data"]
        ]

    def insert(self, table: str, columns: Mapping[str, Sequence[Any]]) -> None:
        """Insert the batch as one Arrow table read by the ``Python()`` table function.

        Not chdb's streaming insert (``send_insert``): it reports the rows written even when the
        engine refused them (150 months in one insert exceed ``max_partitions_per_insert_block``:
        nothing stored, no error), while an ``INSERT ... SELECT`` raises what the engine raises,
        as a server does. Arrow keeps it about 10x faster than JSON for 50k rows.
        """
        import pyarrow as pa  # a dependency of chdb itself

        if not columns or not len(next(iter(columns.values()))):
            return
        try:
            types = self._column_types(table)
            # chdb finds the table by this variable name in the calling frame.
            _driftline_rows = pa.table({name: pa.array(values, type=_arrow_type(pa, types.get(name)))
                                        for name, values in columns.items()})
        except Exception as exc:  # pyarrow raises ArrowInvalid, TypeError, OverflowError...
            raise insert_error(exc, table=table, store="chdb") from exc
        sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM Python(_driftline_rows)"
        with self._lock:
            self._check_open()
            try:
                self._session.query(sql)
            except Exception as exc:
                raise insert_error(exc, table=table, store="chdb") from exc
        del _driftline_rows

    def server_version(self) -> tuple[int, ...]:
        (version,), = self.execute("SELECT version()")
        return tuple(int(p) for p in version.split(".") if p.isdigit())

    def close(self) -> None:
        with self._lock:
            session, self._session = self._session, None
            if session is not None:
                session.close()

    def _run(self, sql: str, fmt: str = "CSV") -> bytes:
        with self._lock:
            self._check_open()
            try:
                return self._session.query(sql, fmt).bytes()
            except Exception as exc:
                raise StoreError(f"chdb query failed: {exc}") from exc

    def _check_open(self) -> None:
        if self._session is None:
            raise StoreError(f"the chdb store at {self.path} is closed")

    def _column_types(self, table: str) -> dict[str, str]:
        database, _, name = table.rpartition(".")
        key = (database or self._current_db, name)
        if key not in self._columns:
            rows = self.execute(
                "SELECT name, type FROM system.columns WHERE database = %(db)s AND table = %(t)s",
                {"db": key[0], "t": key[1]},
            )
            self._columns[key] = dict(rows)
        return self._columns[key]


_ARROW_TYPES = {
    "String": "string", "FixedString": "string",
    "Int8": "int8", "Int16": "int16", "Int32": "int32", "Int64": "int64",
    "UInt8": "uint8", "UInt16": "uint16", "UInt32": "uint32", "UInt64": "uint64",
    "Float32": "float32", "Float64": "float64",
}


def _arrow_type(pa, ch_type: str | None):
    """The Arrow type a column is encoded as; None lets Arrow infer (DateTime accepts ints, floats, datetimes)."""
    if ch_type is None:
        return None
    inner = _unwrap(_unwrap(ch_type, "LowCardinality"), "Nullable")
    name = _ARROW_TYPES.get(inner.split("(")[0])
    return getattr(pa, name)() if name else None


def _unwrap(ch_type: str, wrapper: str) -> str:
    prefix = wrapper + "("
    return ch_type[len(prefix):-1] if ch_type.startswith(prefix) else ch_type


def _converter(ch_type: str) -> Callable[[Any], Any] | None:
    """JSON value -> the Python value clickhouse-driver returns for ``ch_type``; None means as-is."""
    base = ch_type.split("(")[0]
    if base in ("Nullable", "LowCardinality"):
        inner = _converter(ch_type[len(base) + 1:-1])
        return None if inner is None else (lambda v: None if v is None else inner(v))
    if base.startswith("Float"):
        return float
    if base.startswith(("Int", "UInt")):
        return int
    if base.startswith("Decimal"):
        return lambda v: Decimal(str(v))
    if base.startswith("DateTime"):
        return datetime.fromisoformat
    if base in ("Date", "Date32"):
        return date.fromisoformat
    if base == "UUID":
        return uuid.UUID
    if base == "Array":
        item = _converter(ch_type[6:-1]) or (lambda v: v)
        return lambda v: [item(x) for x in v]
    if base == "Tuple":
        items = [_converter(_element_type(arg)) or (lambda v: v) for arg in _split_args(ch_type[6:-1])]
        return lambda v: tuple(c(x) for c, x in zip(items, v, strict=True))
    if base == "Map":
        key, value = (_converter(a) or (lambda v: v) for a in _split_args(ch_type[4:-1]))
        return lambda v: {key(k): value(x) for k, x in v.items()}
    return None


def _element_type(arg: str) -> str:
    """``name Type`` (a named tuple element) -> ``Type``."""
    head, _, rest = arg.partition(" ")
    return rest if rest and _IDENTIFIER.match(head) else arg


def _split_args(args: str) -> list[str]:
    """Top-level comma split of a type's arguments: ``String, Array(Tuple(Int8, String))``."""
    parts, depth, start, quoted = [], 0, 0, False
    for i, ch in enumerate(args):
        if ch == "'" and (i == 0 or args[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and ch == "," and depth == 0:
            parts.append(args[start:i].strip())
            start = i + 1
    parts.append(args[start:].strip())
    return parts

"""``clickhouse:``, ``metrics:`` and ``worker:``: where rows go, where the worker listens, how it paces itself.

>>> from driftline.settings.reader import Reader
>>> r = Reader()
>>> parse_clickhouse(r, {"url": "clickhouse://default:s3cret@127.0.0.1:9000/driftline"})
ClickHouseSettings(url='clickhouse://default:***@127.0.0.1:9000/driftline', flush_rows=50000, flush_interval_s=1.0, cluster=None, insert_quorum=0)
>>> parse_clickhouse(r, {"url": "clickhouse://ch-0:9000/driftline", "cluster": "metrics"}).cluster
'metrics'
>>> parse_metrics(r, {"token": ""}).token is None  # an empty ${VAR:-} means no token
True
>>> m = parse_metrics(r, {"token": "t0ken", "public": ["healthz", "livez", "metrics"], "stall_after": "5m"})
>>> m.public, m.stall_after_s, m.session_ttl_s, m.secure_cookie, "t0ken" in repr(m)
(('healthz', 'livez', 'metrics'), 300.0, 43200.0, 'auto', False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import redact
from .limits import (
    EventLimits,
    EventTimeBounds,
    VersionLimits,
    parse_event_time,
    parse_limits,
    parse_versions,
)
from .reader import Reader, join

__all__ = ["PUBLIC_PATHS", "SECURE_COOKIE", "ClickHouseSettings", "MetricsSettings", "WorkerSettings",
           "parse_clickhouse", "parse_metrics", "parse_worker"]

STORE_SCHEMES = ("clickhouse", "clickhouses", "chdb")
# Paths of the web server that ``metrics.public`` may exempt from the token: the probes and the scrape.
PUBLIC_PATHS = ("healthz", "livez", "metrics")
SECURE_COOKIE = ("auto", "always", "never")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ClickHouseSettings:
    """``cluster``: the name of a ClickHouse cluster (``remote_servers``) the schema is created on,
    as replicated tables under Distributed ones (see :mod:`driftline.sinks.cluster`); ``url`` is
    then any of its servers. ``insert_quorum`` (cluster only): replicas of a shard every insert
    waits for, 0 for none."""

    url: str = "chdb://./.driftline/store"
    flush_rows: int = 50_000
    flush_interval_s: float = 1.0
    cluster: str | None = None
    insert_quorum: int = 0

    def __repr__(self) -> str:  # the URL may carry a password
        return (f"ClickHouseSettings(url={redact('url', self.url)!r}, flush_rows={self.flush_rows!r}, "
                f"flush_interval_s={self.flush_interval_s!r}, cluster={self.cluster!r}, "
                f"insert_quorum={self.insert_quorum!r})")


@dataclass(frozen=True)
class MetricsSettings:
    """The worker's web server: ``/metrics``, ``/healthz``, ``/livez``, the status page and its API.

    With ``token`` set, every path but those in ``public`` needs ``Authorization: Bearer <token>`` or
    the session cookie of ``/login``, which lasts ``session_ttl_s`` and is ``Secure`` over TLS
    (``auto``: the request came over https, directly or per ``X-Forwarded-Proto``), ``always`` or
    ``never``. ``/healthz`` turns unready after ``stall_after_s`` without ingest progress.
    """

    port: int = 9108
    host: str = "127.0.0.1"
    token: str | None = field(default=None, repr=False)
    public: tuple[str, ...] = ("healthz", "livez")
    session_ttl_s: float = 43_200.0
    secure_cookie: str = "auto"
    stall_after_s: float = 120.0


@dataclass(frozen=True)
class WorkerSettings:
    checkpoint_interval_s: float = 5.0
    join_max_delay_ms: int = 3_600_000
    join_max_pending: int = 200_000
    max_features: int = 500
    event_time: EventTimeBounds = field(default_factory=EventTimeBounds)
    limits: EventLimits = field(default_factory=EventLimits)
    versions: VersionLimits = field(default_factory=VersionLimits)
    # per_partition: a partition's windows are closed where they are (events keyed by model);
    # two_stage: partial window states are merged by one owner per model version (any keying).
    aggregation: str = "per_partition"
    aggregation_wait_ms: int = 60_000  # the longest a window waits for a lagging partition (two_stage)


AGGREGATIONS = ("per_partition", "two_stage")


def parse_clickhouse(r: Reader, raw: Any, path: str = "clickhouse") -> ClickHouseSettings:
    c = r.mapping(raw, path, keys=("url", "flush_rows", "flush_interval", "cluster", "insert_quorum"))
    d = ClickHouseSettings
    url = r.url(c, "url", path, d.url, schemes=STORE_SCHEMES)
    cluster = r.string(c, "cluster", path, None)
    if cluster is not None and not _IDENTIFIER.match(cluster):
        r.problem(join(path, "cluster"), cluster, "a cluster name of letters, digits and underscores")
        cluster = None
    elif cluster is not None and url is not None and url.startswith("chdb:"):
        r.problem(join(path, "cluster"), cluster, "no cluster with the embedded chdb store (a clickhouse:// url)")
        cluster = None
    quorum = r.integer(c, "insert_quorum", path, d.insert_quorum, low=0, high=16)
    if quorum and cluster is None and "cluster" not in c:
        r.problem(join(path, "insert_quorum"), quorum, "0 without clickhouse.cluster")
    return ClickHouseSettings(
        url=url,
        flush_rows=r.integer(c, "flush_rows", path, d.flush_rows, low=1),
        flush_interval_s=r.duration_ms(c, "flush_interval", path, 1000) / 1000,
        cluster=cluster,
        insert_quorum=quorum if cluster else 0,
    )


def parse_metrics(r: Reader, raw: Any, path: str = "metrics") -> MetricsSettings:
    m = r.mapping(raw, path, keys=("host", "port", "token", "public", "session_ttl", "secure_cookie",
                                   "stall_after"))
    d = MetricsSettings
    public = r.strings(m, "public", path, choices=PUBLIC_PATHS)  # [] protects every path
    return MetricsSettings(
        port=r.integer(m, "port", path, d.port, low=0, high=65535),
        host=r.string(m, "host", path, d.host),
        token=r.string(m, "token", path, None, secret=True),
        public=d.public if public is None else tuple(dict.fromkeys(public)),
        session_ttl_s=r.duration_ms(m, "session_ttl", path, 43_200_000, low=60_000) / 1000,
        secure_cookie=r.string(m, "secure_cookie", path, d.secure_cookie, choices=SECURE_COOKIE),
        stall_after_s=r.duration_ms(m, "stall_after", path, 120_000, low=1000) / 1000,
    )


def parse_worker(r: Reader, raw: Any, path: str = "worker", *, raw_events_days: int = 30) -> WorkerSettings:
    """``raw_events_days`` (``retention.raw_events``) sets the default oldest event age."""
    w = r.mapping(raw, path, keys=("checkpoint_interval", "max_features", "join", "event_time", "limits",
                                   "versions", "aggregation", "aggregation_wait"))
    join_path = join(path, "join")
    j = r.section(w, "join", path, keys=("max_delay", "max_pending"))
    d = WorkerSettings
    return WorkerSettings(
        checkpoint_interval_s=r.duration_ms(w, "checkpoint_interval", path, 5000) / 1000,
        join_max_delay_ms=r.duration_ms(j, "max_delay", join_path, d.join_max_delay_ms),
        join_max_pending=r.integer(j, "max_pending", join_path, d.join_max_pending, low=1),
        max_features=r.integer(w, "max_features", path, d.max_features, low=1),
        event_time=parse_event_time(r, w.get("event_time"), join(path, "event_time"),
                                    raw_events_days=raw_events_days),
        limits=parse_limits(r, w.get("limits"), join(path, "limits")),
        versions=parse_versions(r, w.get("versions"), join(path, "versions")),
        aggregation=r.string(w, "aggregation", path, d.aggregation, choices=AGGREGATIONS),
        aggregation_wait_ms=r.duration_ms(w, "aggregation_wait", path, d.aggregation_wait_ms, low=100),
    )

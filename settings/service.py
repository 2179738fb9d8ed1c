"""``clickhouse:``, ``metrics:`` and ``worker:``: where rows go, where the worker listens, how it paces itself.

>>> from driftline.settings.reader import Reader
>>> r = Reader()
>>> parse_clickhouse(r, {"url": "clickhouse://default:s3cret@127.0.0.1:9000/driftline"})
ClickHouseSettings(url='clickhouse://default:***@127.0.0.1:9000/driftline', flush_rows=50000, flush_interval_s=1.0)
>>> parse_metrics(r, {"token": ""}).token is None  # an empty ${VAR:-} means no token
True
"""

from __future__ import annotations

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

__all__ = ["ClickHouseSettings", "MetricsSettings", "WorkerSettings", "parse_clickhouse", "parse_metrics",
           "parse_worker"]

STORE_SCHEMES = ("clickhouse", "clickhouses", "chdb")


@dataclass(frozen=True)
class ClickHouseSettings:
    url: str = "chdb://./.driftline/store"
    flush_rows: int = 50_000
    flush_interval_s: float = 1.0

    def __repr__(self) -> str:  # the URL may carry a password
        return (f"ClickHouseSettings(url={redact('url', self.url)!r}, flush_rows={self.flush_rows!r}, "
                f"flush_interval_s={self.flush_interval_s!r})")


@dataclass(frozen=True)
class MetricsSettings:
    port: int = 9108
    host: str = "127.0.0.1"
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class WorkerSettings:
    checkpoint_interval_s: float = 5.0
    join_max_delay_ms: int = 3_600_000
    join_max_pending: int = 200_000
    max_features: int = 500
    event_time: EventTimeBounds = field(default_factory=EventTimeBounds)
    limits: EventLimits = field(default_factory=EventLimits)
    versions: VersionLimits = field(default_factory=VersionLimits)


def parse_clickhouse(r: Reader, raw: Any, path: str = "clickhouse") -> ClickHouseSettings:
    c = r.mapping(raw, path, keys=("url", "flush_rows", "flush_interval"))
    d = ClickHouseSettings
    return ClickHouseSettings(
        url=r.url(c, "url", path, d.url, schemes=STORE_SCHEMES),
        flush_rows=r.integer(c, "flush_rows", path, d.flush_rows, low=1),
        flush_interval_s=r.duration_ms(c, "flush_interval", path, 1000) / 1000,
    )


def parse_metrics(r: Reader, raw: Any, path: str = "metrics") -> MetricsSettings:
    m = r.mapping(raw, path, keys=("host", "port", "token"))
    return MetricsSettings(
        port=r.integer(m, "port", path, MetricsSettings.port, low=0, high=65535),
        host=r.string(m, "host", path, MetricsSettings.host),
        token=r.string(m, "token", path, None, secret=True),
    )


def parse_worker(r: Reader, raw: Any, path: str = "worker", *, raw_events_days: int = 30) -> WorkerSettings:
    """``raw_events_days`` (``retention.raw_events``) sets the default oldest event age."""
    w = r.mapping(raw, path, keys=("checkpoint_interval", "max_features", "join", "event_time", "limits",
                                   "versions"))
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
    )

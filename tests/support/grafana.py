"""Expand Grafana dashboard queries the way Grafana and its data source plugins do, for tests.

A ClickHouse panel's ``rawSql`` goes through two steps before it reaches the server:

1. Grafana interpolates template variables (``$model``, ``${model}``,
   ``${version:singlequote}``) — :func:`interpolate_variables`. Multi-value
   variables render with the format after the colon: ``singlequote`` gives
   ``'a','b'``, ``csv`` gives ``a,b``, ``regex`` gives ``(a|b)``, none gives
   ``{a,b}`` for multi values (Grafana's default glob format).
2. grafana-clickhouse-datasource (v4) expands its macros —
   :func:`expand_clickhouse_macros` — with the panel's time range and interval:

   ======================  ===========================================================
   ``$__timeFilter(c)``    ``c >= toDateTime(<from s>) AND c <= toDateTime(<to s>)``
   ``$__dateFilter(c)``    ``c >= toDate('<from date>') AND c <= toDate('<to date>')``
   ``$__fromTime``         ``toDateTime(<from s>)``
   ``$__toTime``           ``toDateTime(<to s>)``
   ``$__interval_s``       the interval in whole seconds, at least 1
   ``$__timeInterval(c)``  ``toStartOfInterval(toDateTime(c), INTERVAL <s> second)``
   ======================  ===========================================================

   Times are UTC Unix seconds, as the plugin sends them. ``$__timeInterval``
   needs ``toStartOfInterval`` (ClickHouse >= 19.x): driftline's dashboards
   bucket with ``$__interval_s`` instead, so they also run on 18.16.

PromQL targets get Grafana's own variables: ``$__rate_interval``, ``$__interval``
and ``$__range`` become durations (:func:`expand_promql`).

>>> from datetime import datetime, timezone
>>> r = TimeRange(datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2024, 1, 8, tzinfo=timezone.utc), 3600)
>>> expand_clickhouse_macros("WHERE $__timeFilter(ts) AND $__dateFilter(day) GROUP BY intDiv(x, $__interval_s)", r)
"WHERE ts >= toDateTime(1704067200) AND ts <= toDateTime(1704672000) AND day >= toDate('2024-01-01') AND day <= toDate('2024-01-08') GROUP BY intDiv(x, 3600)"
>>> interpolate_variables("model = '${model}' AND version IN (${version:singlequote})",
...                       {"model": "credit", "version": ["v1", "v2"]})
"model = 'credit' AND version IN ('v1','v2')"
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["TimeRange", "expand_clickhouse_macros", "expand_promql", "interpolate_variables"]

_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")
_MACRO_WITH_ARG = re.compile(r"\$__(timeFilter|dateFilter|timeInterval)\(\s*([^)]*?)\s*\)")


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    interval_s: int = 60

    @property
    def from_s(self) -> int:
        return int(self.start.astimezone(UTC).timestamp())

    @property
    def to_s(self) -> int:
        return int(self.end.astimezone(UTC).timestamp())


def interpolate_variables(text: str, variables: Mapping[str, str | Sequence[str]]) -> str:
    """Grafana's template interpolation for the variables given; ``$__...`` names are left alone."""

    def render(match: re.Match) -> str:
        name = match.group(1) or match.group(3)
        if name.startswith("__") or name not in variables:
            return match.group(0)
        value = variables[name]
        values = [value] if isinstance(value, str) else list(value)
        fmt = match.group(2)
        if fmt == "singlequote":
            return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
        if fmt == "doublequote":
            return ",".join('"' + v.replace('"', '\\"') + '"' for v in values)
        if fmt == "csv":
            return ",".join(values)
        if fmt == "regex" or (fmt is None and len(values) > 1 and _in_promql_regex(text, match.start())):
            return values[0] if len(values) == 1 else "(" + "|".join(re.escape(v) for v in values) + ")"
        if fmt is None:
            return values[0] if len(values) == 1 else "{" + ",".join(values) + "}"
        raise ValueError(f"variable format {fmt!r} is not supported by this test helper")

    return _VARIABLE.sub(render, text)


def _in_promql_regex(text: str, position: int) -> bool:
    """Grafana's Prometheus data source renders multi values as a regex after ``=~``."""
    return bool(re.search(r'=~\s*"[^"]*$', text[:position]))


def expand_clickhouse_macros(sql: str, time_range: TimeRange) -> str:
    """grafana-clickhouse-datasource's macro expansion (see the module docstring)."""
    start, end = time_range.start.astimezone(UTC), time_range.end.astimezone(UTC)
    interval = max(1, int(time_range.interval_s))

    def with_arg(match: re.Match) -> str:
        macro, column = match.group(1), match.group(2)
        if not column:
            raise ValueError(f"$__{macro} needs a column argument")
        if macro == "timeFilter":
            return f"{column} >= toDateTime({time_range.from_s}) AND {column} <= toDateTime({time_range.to_s})"
        if macro == "dateFilter":
            return f"{column} >= toDate('{start:%Y-%m-%d}') AND {column} <= toDate('{end:%Y-%m-%d}')"
        return f"toStartOfInterval(toDateTime({column}), INTERVAL {interval} second)"

    sql = _MACRO_WITH_ARG.sub(with_arg, sql)
    sql = sql.replace("$__fromTime", f"toDateTime({time_range.from_s})")
    sql = sql.replace("$__toTime", f"toDateTime({time_range.to_s})")
    sql = re.sub(r"\$__interval_s\b", str(interval), sql)
    leftover = re.search(r"\$__\w+", sql)
    if leftover:
        raise ValueError(f"unsupported macro {leftover.group(0)} in: {sql}")
    return sql


def expand_promql(expr: str, variables: Mapping[str, str | Sequence[str]], *, interval: str = "1m") -> str:
    """Grafana's interpolation for a Prometheus target: variables, then its interval variables."""
    expr = interpolate_variables(expr, variables)
    for name, value in (("__rate_interval", "4m"), ("__interval", interval), ("__range", "1h")):
        expr = expr.replace("${" + name + "}", value).replace("$" + name, value)
    leftover = re.search(r"\$\w+", expr)
    if leftover:
        raise ValueError(f"uninterpolated variable {leftover.group(0)} in: {expr}")
    return expr

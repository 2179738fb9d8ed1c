"""Shared pieces of the alert channels: errors, the rendered request, filters, config reading.

Exception hierarchy (``retriable`` says whether the dispatcher tries again)::

    AlertSinkError                      retriable = False
    ├── ChannelConfigError (ValueError)  bad ``alerts.channels`` entry; names the key path
    └── DeliveryError                   one delivery attempt failed
        ├── TransportError              retriable = True  (refused, reset, timeout)
        ├── HttpStatusError             retriable for 408, 429 and 5xx; carries status_code, retry_after
        └── KafkaDeliveryError          retriable as librdkafka says
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from driftline.alerting import Alert
from driftline.alerting.rules import (
    ACTIONS,
    KINDS,
    SEVERITIES,
    RuleConfigError,
    parse_duration_ms,
    severity_rank,
)

__all__ = [
    "AlertSinkError",
    "ChannelConfigError",
    "ChannelFilter",
    "ConfigReader",
    "DeliveryError",
    "HttpRequest",
    "HttpStatusError",
    "KafkaDeliveryError",
    "TransportError",
    "redact_url",
]


class AlertSinkError(Exception):
    """Root of every error raised by ``driftline.sinks.alerts``."""

    retriable = False


class ChannelConfigError(AlertSinkError, ValueError):
    """An ``alerts.channels`` entry is invalid; the message names the key path."""


class DeliveryError(AlertSinkError):
    """One attempt to deliver an alert to a channel failed."""

    def __init__(self, message: str, *, status_code: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after


class TransportError(DeliveryError):
    """Connection refused or reset, DNS failure, timeout: always worth a retry."""

    retriable = True


class HttpStatusError(DeliveryError):
    """A non-2xx answer. 408, 429 and 5xx are retriable; other 4xx are final."""

    def __init__(self, message: str, *, status_code: int, retry_after: float | None = None):
        super().__init__(message, status_code=status_code, retry_after=retry_after)
        self.retriable = status_code in (408, 429) or status_code >= 500


class KafkaDeliveryError(DeliveryError):
    """The producer could not deliver; ``retriable`` comes from librdkafka."""

    def __init__(self, message: str, *, retriable: bool = True):
        super().__init__(message)
        self.retriable = retriable


def redact_url(url: str) -> str:
    """Keep scheme and host, hide the path and query (Slack puts its secret there).

    >>> redact_url("https://hooks.slack.com/services/T0/B0/XYZ")
    'https://hooks.slack.com/***'
    """
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}/***"


@dataclass(frozen=True, slots=True, repr=False)
class HttpRequest:
    """What a channel wants sent: pure data, so rendering is tested byte for byte."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:  # never leak webhook URLs, tokens or signatures into logs
        names = ", ".join(k for k, _ in self.headers)
        return f"HttpRequest({self.method} {redact_url(self.url)}, headers=[{names}], {len(self.body)} bytes)"


@dataclass(frozen=True, slots=True)
class ChannelFilter:
    """Which alerts a channel takes. ``None`` means "any".

    Channels filtered by ``actions`` trigger work (a retrain pipeline), so by
    default they get only new and escalated firing alerts: no repeats, no resolves.
    """

    actions: frozenset[str] | None = None
    kinds: frozenset[str] | None = None
    min_severity: str = "warning"
    send_resolved: bool = True
    send_repeats: bool = True

    def accepts(self, alert: Alert) -> bool:
        if self.actions is not None and alert.action not in self.actions:
            return False
        if self.kinds is not None and alert.kind not in self.kinds:
            return False
        if severity_rank(alert.severity) < severity_rank(self.min_severity):
            return False
        if alert.status == "resolved":
            return self.send_resolved
        return self.send_repeats or alert.reason != "repeat"


_FILTER_KEYS = {"actions", "kinds", "min_severity", "send_resolved", "send_repeats"}
_COMMON_KEYS = {"type", "name"} | _FILTER_KEYS
TEMPLATE_FIELDS = ("model", "version", "kind", "severity", "dedup_key", "alert_id",
                   "window_start_ms", "window_end_ms")


def format_template(template: str, alert: Alert) -> str:
    """Fill a ``dashboard_url`` template; values are URL-quoted."""
    values = {f: quote(str(getattr(alert, f)), safe="") for f in TEMPLATE_FIELDS}
    return template.format_map(values)


class ConfigReader:
    """Reads one channel mapping; every error names ``path.key``, never echoes a secret."""

    def __init__(self, raw: object, path: str, allowed: set[str]):
        if not isinstance(raw, Mapping):
            raise ChannelConfigError(f"{path}: got {type(raw).__name__}, expected a mapping")
        self.raw, self.path = raw, path
        unknown = sorted(set(raw) - allowed - _COMMON_KEYS)
        if unknown:
            valid = ", ".join(sorted(allowed | _COMMON_KEYS))
            raise ChannelConfigError(f"{path}.{unknown[0]}: unknown key, expected one of {valid}")

    def _fail(self, key: str, value: object, expected: str, secret: bool = False) -> ChannelConfigError:
        shown = "'***'" if secret and value else repr(value)
        return ChannelConfigError(f"{self.path}.{key}: got {shown}, expected {expected}")

    def string(self, key: str, default: str | None = None, *, required: bool = False,
               secret: bool = False) -> str | None:
        value = self.raw.get(key, default)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise self._fail(key, value, "a non-empty string", secret)
        return value

    def url(self, key: str, default: str | None = None, *, required: bool = True, secret: bool = False) -> str:
        value = self.string(key, default, required=required, secret=secret)
        if value is None:
            return None  # type: ignore[return-value]
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self._fail(key, value, "an http:// or https:// URL", secret)
        return value

    def template(self, key: str) -> str | None:
        value = self.url(key, required=False)
        if value is not None:
            names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
            bad = sorted(names - set(TEMPLATE_FIELDS))
            if bad:
                raise self._fail(key, value, f"placeholders among {{{'}, {'.join(TEMPLATE_FIELDS)}}}, not {{{bad[0]}}}")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: str) -> str:
        value = self.raw.get(key, default)
        if value not in options:
            raise self._fail(key, value, f"one of {', '.join(repr(o) for o in options)}")
        return value

    def subset(self, key: str, options: tuple[str, ...]) -> frozenset[str] | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, str) or not isinstance(value, list | tuple) or not set(value) <= set(options):
            raise self._fail(key, value, f"a list drawn from {', '.join(repr(o) for o in options)}")
        return frozenset(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, value, "true or false")
        return value

    def integer(self, key: str, default: int, minimum: int) -> int:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._fail(key, value, f"an integer >= {minimum}")
        return value

    def duration_ms(self, key: str, default: str) -> int:
        try:
            return parse_duration_ms(self.raw.get(key, default), f"{self.path}.{key}")
        except RuleConfigError as exc:
            raise ChannelConfigError(str(exc)) from exc

    def headers(self, key: str) -> tuple[tuple[str, str], ...]:
        value = self.raw.get(key, {})
        if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                     for k, v in value.items()):
            raise ChannelConfigError(f"{self.path}.{key}: expected a mapping of header name to string value")
        return tuple(value.items())

    def channel_filter(self) -> ChannelFilter:
        actions = self.subset("actions", ACTIONS)
        return ChannelFilter(
            actions=actions,
            kinds=self.subset("kinds", KINDS),
            min_severity=self.choice("min_severity", SEVERITIES, "warning"),
            send_resolved=self.boolean("send_resolved", actions is None),
            send_repeats=self.boolean("send_repeats", actions is None),
        )

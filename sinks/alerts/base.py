"""Shared pieces of the alert channels: errors, the rendered request, the filter check, templates.

Channels are built from typed settings (:mod:`driftline.settings.channels`); nothing here
reads configuration.

Exception hierarchy (``retriable`` says whether the dispatcher tries again)::

    AlertSinkError (a driftline.sinks.SinkError)   retriable = False
    ├── ChannelConfigError (ValueError)  a channel cannot be built from its settings
    └── DeliveryError                   one delivery attempt failed
        ├── TransportError              retriable = True  (refused, reset, timeout)
        ├── HttpStatusError             retriable for 408, 429 and 5xx; carries status_code, retry_after
        └── KafkaDeliveryError          retriable as librdkafka says
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from driftline.alerting import Alert, severity_rank
from driftline.settings import ChannelFilter, redact_url
from driftline.settings.channels import TEMPLATE_FIELDS
from driftline.sinks.errors import SinkError

__all__ = [
    "AlertSinkError",
    "ChannelConfigError",
    "DeliveryError",
    "HttpRequest",
    "HttpStatusError",
    "KafkaDeliveryError",
    "TransportError",
    "accepts",
    "format_template",
]


class AlertSinkError(SinkError):
    """Root of every error raised by ``driftline.sinks.alerts``."""

    retriable = False


class ChannelConfigError(AlertSinkError, ValueError):
    """A channel cannot be built from its settings (say, a Kafka channel without the worker's
    producer); the message names the channel."""


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


def accepts(channel_filter: ChannelFilter, alert: Alert) -> bool:
    """Whether a channel with this filter takes the alert (see :class:`~driftline.settings.ChannelFilter`)."""
    f = channel_filter
    if f.actions is not None and alert.action not in f.actions:
        return False
    if f.kinds is not None and alert.kind not in f.kinds:
        return False
    if severity_rank(alert.severity) < severity_rank(f.min_severity):
        return False
    if alert.status == "resolved":
        return f.send_resolved
    return f.send_repeats or alert.reason != "repeat"


def format_template(template: str, alert: Alert) -> str:
    """Fill a ``dashboard_url`` template; values are URL-quoted."""
    values = {f: quote(str(getattr(alert, f)), safe="") for f in TEMPLATE_FIELDS}
    return template.format_map(values)

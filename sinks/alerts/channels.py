"""The channel registry: settings ``type`` -> channel class, and building channels from typed settings.

>>> from driftline.settings import parse_channels
>>> channels = build_channels(parse_channels([
...     {"type": "slack", "url": "https://hooks.slack.com/services/T/B/X"},
...     {"type": "webhook", "url": "https://ci.example/retrain", "actions": ["retrain"], "secret": "s"},
...     {"type": "webhook", "url": "https://ops.example/hook"},
... ]))
>>> [(type(c).__name__, c.name) for c in channels]
[('SlackChannel', 'slack'), ('WebhookChannel', 'webhook-1'), ('WebhookChannel', 'webhook-2')]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from driftline.alerting import Alert
from driftline.settings import ChannelSettings
from driftline.sinks.alerts.alertmanager import AlertmanagerChannel
from driftline.sinks.alerts.base import ChannelConfigError, HttpRequest
from driftline.sinks.alerts.kafka import KafkaChannel, Producer
from driftline.sinks.alerts.pagerduty import PagerDutyChannel
from driftline.sinks.alerts.slack import SlackChannel
from driftline.sinks.alerts.webhook import WebhookChannel

__all__ = [
    "CHANNEL_TYPES",
    "AlertChannel",
    "BlockingChannel",
    "HttpChannel",
    "build_channels",
]


@runtime_checkable
class AlertChannel(Protocol):
    """Anything the dispatcher can deliver to. ``name`` keys the delivery log."""

    name: str

    def accepts(self, alert: Alert) -> bool: ...


@runtime_checkable
class HttpChannel(AlertChannel, Protocol):
    """Renders an alert to one HTTP request; pure, so tests compare bytes."""

    def render(self, alert: Alert, *, now_s: float) -> HttpRequest: ...


@runtime_checkable
class BlockingChannel(AlertChannel, Protocol):
    """Delivers itself, blocking until acknowledged or raising ``DeliveryError``."""

    def deliver(self, alert: Alert, *, timeout: float) -> None: ...


CHANNEL_TYPES: dict[str, type] = {
    "alertmanager": AlertmanagerChannel,
    "kafka": KafkaChannel,
    "pagerduty": PagerDutyChannel,
    "slack": SlackChannel,
    "webhook": WebhookChannel,
}


def build_channels(settings: Sequence[ChannelSettings], *,
                   producer: Producer | None = None) -> tuple[AlertChannel, ...]:
    """One channel per ``alerts.channels`` entry. ``kafka`` channels are given ``producer``
    (the worker's wiring builds it); they never build one."""
    out: list[AlertChannel] = []
    for cfg in settings:
        cls = CHANNEL_TYPES[cfg.type]
        if cls is KafkaChannel:
            if producer is None:
                raise ChannelConfigError(f"channel {cfg.name!r}: a kafka channel needs a producer, none was given")
            out.append(KafkaChannel(cfg, producer))
        else:
            out.append(cls(cfg))
    return tuple(out)

"""The channel registry: YAML ``type:`` -> channel class, plus parsing and building.

>>> configs = parse_channel_configs([
...     {"type": "slack", "url": "https://hooks.slack.com/services/T/B/X"},
...     {"type": "webhook", "url": "https://ci.example/retrain", "actions": ["retrain"], "secret": "s"},
...     {"type": "webhook", "url": "https://ops.example/hook"},
... ])
>>> [c.name for c in configs]
['slack', 'webhook-1', 'webhook-2']
>>> parse_channel_configs([{"type": "sms"}])
Traceback (most recent call last):
...
driftline.sinks.alerts.base.ChannelConfigError: alerts.channels[0].type: got 'sms', expected one of 'alertmanager', 'kafka', 'pagerduty', 'slack', 'webhook'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from driftline.alerting import Alert
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
    "parse_channel_configs",
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


def parse_channel_configs(raw: object, path: str = "alerts.channels") -> tuple[Any, ...]:
    """Validate ``alerts.channels``. Unnamed channels are named after their type
    (``type-<index>`` when a type appears more than once); names must be unique
    because the delivery log is keyed by them.
    """
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
        raise ChannelConfigError(f"{path}: got {type(raw).__name__}, expected a list of channels")
    types = [item.get("type") if isinstance(item, Mapping) else None for item in raw]
    counts = Counter(types)
    configs = []
    for i, (item, kind) in enumerate(zip(raw, types, strict=True)):
        where = f"{path}[{i}]"
        if kind not in CHANNEL_TYPES:
            valid = ", ".join(repr(t) for t in sorted(CHANNEL_TYPES))
            raise ChannelConfigError(f"{where}.type: got {kind!r}, expected one of {valid}")
        default_name = kind if counts[kind] == 1 else f"{kind}-{i}"
        configs.append(CHANNEL_TYPES[kind].config_class.from_dict(item, where, default_name))
    seen: set[str] = set()
    for i, cfg in enumerate(configs):
        if cfg.name in seen:
            raise ChannelConfigError(f"{path}[{i}].name: got {cfg.name!r}, expected a name no other channel uses")
        seen.add(cfg.name)
    return tuple(configs)


def build_channels(configs: Sequence[Any], *, path: str = "alerts.channels",
                   producer: Producer | None = None) -> tuple[AlertChannel, ...]:
    """Instantiate channels from raw ``alerts.channels`` mappings (validated here,
    errors under ``path``) or from configs already parsed by :func:`parse_channel_configs`.
    ``kafka`` channels are given ``producer`` (the worker's wiring builds it); they never build one.

    >>> [c.name for c in build_channels([{"type": "pagerduty", "routing_key": "k"}])]
    ['pagerduty']
    """
    if any(isinstance(c, Mapping) for c in configs):
        configs = parse_channel_configs(configs, path)
    by_config = {cls.config_class: cls for cls in CHANNEL_TYPES.values()}
    out = []
    for cfg in configs:
        cls = by_config[type(cfg)]
        if cls is KafkaChannel:
            if producer is None:
                raise ChannelConfigError(f"channel {cfg.name!r}: a kafka channel needs a producer, none was given")
            out.append(KafkaChannel(cfg, producer))
        else:
            out.append(cls(cfg))
    return tuple(out)

"""``alerts.channels``: typed settings per channel ``type``, each with the filter of alerts it takes.

``driftline.sinks.alerts.build_channels`` constructs the channels from these; nothing parses
a channel mapping twice. Unnamed channels are named after their type (``type-<index>`` when a
type appears more than once); names are unique, as the delivery log is keyed by them.
A channel whose URL (routing key, topic) is an optional reference that is empty, such as
``url: "${SLACK_WEBHOOK_URL:-}"`` with the variable unset, is off: left out, with a note
(:attr:`~driftline.settings.Settings.notes`) that ``check-config`` and the worker's log show.
A repr shows a channel URL (webhook, Slack, PagerDuty, Alertmanager) by its scheme and host only;
an error shows a URL with its password masked, or not at all where the URL is the secret; secrets,
tokens, routing keys and headers never appear in either.

>>> slack, hook = parse_channels([
...     {"type": "slack", "url": "https://hooks.slack.com/services/T/B/X", "min_severity": "critical"},
...     {"type": "webhook", "url": "https://ci.example/retrain", "actions": ["retrain"], "secret": "s"}])
>>> slack
SlackSettings(name='slack', url='https://hooks.slack.com/***', min_severity='critical')
>>> hook
WebhookSettings(name='webhook', url='https://ci.example/***', secret='***', headers=[], format='driftline', actions=['retrain'])
>>> hook.filter.send_resolved  # action channels get new and escalated firing alerts only
False
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from .env import EnvStr
from .errors import redact_url
from .reader import Reader, join
from .rules import ACTIONS, KINDS, SEVERITIES

__all__ = ["CHANNEL_SETTINGS", "DEFAULT_EVENTS_URL", "TEMPLATE_FIELDS", "WEBHOOK_FORMATS",
           "AlertmanagerSettings", "ChannelFilter", "ChannelSettings", "KafkaChannelSettings",
           "PagerDutySettings", "SlackSettings", "WebhookSettings", "parse_channels", "read_channels"]

WEBHOOK_FORMATS = ("driftline", "github_dispatch", "gitlab_trigger")
DEFAULT_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
# Alert fields a ``dashboard_url`` template may use, URL-quoted: {model}, {version}...
TEMPLATE_FIELDS = ("model", "version", "kind", "severity", "dedup_key", "alert_id", "window_start_ms",
                   "window_end_ms")
_FILTER_KEYS = ("actions", "kinds", "min_severity", "send_resolved", "send_repeats")
_HTTP = ("http", "https")


@dataclass(frozen=True)
class ChannelFilter:
    """Which alerts a channel takes; ``None`` means any. Channels filtered by ``actions``
    trigger work (a retrain pipeline), so by default they get no repeats and no resolves."""

    actions: frozenset[str] | None = None
    kinds: frozenset[str] | None = None
    min_severity: str = "warning"
    send_resolved: bool = True
    send_repeats: bool = True


@dataclass(frozen=True, repr=False)
class WebhookSettings:
    """Generic and action webhooks; ``format`` shapes the body for GitHub or GitLab triggers."""

    type: ClassVar[str] = "webhook"
    name: str
    url: str
    filter: ChannelFilter = ChannelFilter()
    secret: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    format: str = "driftline"
    event_type: str = "driftline_alert"
    ref: str = "main"
    token: str | None = None

    def __repr__(self) -> str:
        actions = sorted(self.filter.actions) if self.filter.actions is not None else None
        return (f"WebhookSettings(name={self.name!r}, url={redact_url(self.url)!r}, "
                f"secret={'***' if self.secret else None!r}, headers={[k for k, _ in self.headers]}, "
                f"format={self.format!r}, actions={actions})")


@dataclass(frozen=True, repr=False)
class SlackSettings:
    """A Slack incoming webhook: the URL *is* the secret."""

    type: ClassVar[str] = "slack"
    name: str
    url: str
    filter: ChannelFilter = ChannelFilter()
    dashboard_url: str | None = None
    max_features: int = 5

    def __repr__(self) -> str:
        return f"SlackSettings(name={self.name!r}, url={redact_url(self.url)!r}, " \
               f"min_severity={self.filter.min_severity!r})"


@dataclass(frozen=True, repr=False)
class PagerDutySettings:
    type: ClassVar[str] = "pagerduty"
    name: str
    routing_key: str
    filter: ChannelFilter = ChannelFilter()
    url: str = DEFAULT_EVENTS_URL
    dashboard_url: str | None = None

    def __repr__(self) -> str:
        return f"PagerDutySettings(name={self.name!r}, url={redact_url(self.url)!r}, routing_key='***')"


@dataclass(frozen=True, repr=False)
class AlertmanagerSettings:
    """``ttl`` bounds how long Alertmanager keeps a firing alert without a re-send; keep it above the cooldown.
    The URL may carry basic-auth credentials or a proxy's token: only its host is shown."""

    type: ClassVar[str] = "alertmanager"
    name: str
    url: str
    filter: ChannelFilter = ChannelFilter()
    ttl_ms: int = 3_600_000
    dashboard_url: str | None = None

    def __repr__(self) -> str:
        return f"AlertmanagerSettings(name={self.name!r}, url={redact_url(self.url)!r}, ttl_ms={self.ttl_ms!r})"


@dataclass(frozen=True)
class KafkaChannelSettings:
    """A topic on the worker's own Kafka cluster, written with the worker's producer."""

    type: ClassVar[str] = "kafka"
    name: str
    topic: str
    filter: ChannelFilter = ChannelFilter()


ChannelSettings = WebhookSettings | SlackSettings | PagerDutySettings | AlertmanagerSettings | KafkaChannelSettings

# The registry: YAML ``type:`` -> settings class.
CHANNEL_SETTINGS: dict[str, type] = {
    cls.type: cls
    for cls in (AlertmanagerSettings, KafkaChannelSettings, PagerDutySettings, SlackSettings, WebhookSettings)
}


def parse_channels(raw: Any, path: str = "alerts.channels") -> tuple[ChannelSettings, ...]:
    """Read a list of channels; raises :class:`~driftline.settings.ConfigError` listing every problem."""
    r = Reader()
    channels = read_channels(r, raw, path)
    r.raise_if_problems()
    return channels


def read_channels(r: Reader, raw: Any, path: str) -> tuple[ChannelSettings, ...]:
    if not isinstance(raw, list):
        r.problem(path, raw, "a list of channels")
        return ()
    types = [item.get("type") if isinstance(item, Mapping) else None for item in raw]
    counts = Counter(types)
    channels: list[ChannelSettings] = []
    for i, (item, kind) in enumerate(zip(raw, types, strict=True)):
        where = join(path, i)
        if not isinstance(item, Mapping):
            r.problem(where, item, "a mapping with a type")
            continue
        if kind not in CHANNEL_SETTINGS:
            r.problem(join(where, "type"), kind, "one of: " + ", ".join(CHANNEL_SETTINGS))
            continue
        keys, read = _READERS[kind]
        off = next((key for key in _REQUIRED[kind] if _empty_optional(item.get(key))), None)
        if off is not None:
            r.notes.append(f"{where} ({item.get('name') or kind}) is off: its {off} {item[off]!r} is empty")
            continue
        c = r.mapping(item, where, keys=("type", "name", *_FILTER_KEYS, *keys))
        name = r.string(c, "name", where, kind if counts[kind] == 1 else f"{kind}-{i}")
        if any(name == other.name for other in channels):
            r.problem(join(where, "name"), name, "a name no other channel uses")
        channels.append(CHANNEL_SETTINGS[kind](name, **read(r, c, where), filter=_filter(r, c, where)))
    return tuple(channels)


def _empty_optional(value: Any) -> bool:
    """An optional reference (``${SLACK_WEBHOOK_URL:-}``) that expanded to nothing: the channel it would
    configure is off, as an empty optional value means "not set". An unset ``${VAR}`` stays a problem."""
    return isinstance(value, EnvStr) and value == "" and not value.unset and ":-" in value.template


def _filter(r: Reader, c: Mapping[str, Any], path: str) -> ChannelFilter:
    actions = r.strings(c, "actions", path, choices=ACTIONS)
    kinds = r.strings(c, "kinds", path, choices=KINDS)
    return ChannelFilter(
        actions=None if actions is None else frozenset(actions),
        kinds=None if kinds is None else frozenset(kinds),
        min_severity=r.string(c, "min_severity", path, "warning", choices=SEVERITIES),
        send_resolved=r.boolean(c, "send_resolved", path, actions is None),
        send_repeats=r.boolean(c, "send_repeats", path, actions is None),
    )


def _template(r: Reader, c: Mapping[str, Any], path: str) -> str | None:
    value = r.url(c, "dashboard_url", path, schemes=_HTTP, required=False)
    if value is not None:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        bad = sorted(names - set(TEMPLATE_FIELDS))
        if bad:
            r.problem(join(path, "dashboard_url"), value,
                      "placeholders among {" + "}, {".join(TEMPLATE_FIELDS) + "}")
            return None
    return value


def _webhook(r: Reader, c: Mapping[str, Any], path: str) -> dict[str, Any]:
    fmt = r.string(c, "format", path, "driftline", choices=WEBHOOK_FORMATS)
    token = r.string(c, "token", path, secret=True, required=fmt == "gitlab_trigger")
    return {"url": r.url(c, "url", path, schemes=_HTTP, secret=True) or "",
            "secret": r.string(c, "secret", path, secret=True),
            "headers": tuple(r.string_map(c, "headers", path, secret=True).items()),
            "format": fmt, "event_type": r.string(c, "event_type", path, "driftline_alert"),
            "ref": r.string(c, "ref", path, "main"), "token": token}


def _slack(r: Reader, c: Mapping[str, Any], path: str) -> dict[str, Any]:
    return {"url": r.url(c, "url", path, schemes=_HTTP, secret=True) or "",
            "dashboard_url": _template(r, c, path), "max_features": r.integer(c, "max_features", path, 5, low=1)}


def _pagerduty(r: Reader, c: Mapping[str, Any], path: str) -> dict[str, Any]:
    return {"routing_key": r.string(c, "routing_key", path, "", required=True, secret=True),
            "url": r.url(c, "url", path, DEFAULT_EVENTS_URL, schemes=_HTTP, required=False),
            "dashboard_url": _template(r, c, path)}


def _alertmanager(r: Reader, c: Mapping[str, Any], path: str) -> dict[str, Any]:
    return {"url": r.url(c, "url", path, schemes=_HTTP) or "", "ttl_ms": r.duration_ms(c, "ttl", path, 3_600_000),
            "dashboard_url": _template(r, c, path)}


def _kafka(r: Reader, c: Mapping[str, Any], path: str) -> dict[str, Any]:
    return {"topic": r.string(c, "topic", path, "", required=True)}


# The key a channel cannot work without: an empty optional reference there turns the channel off.
_REQUIRED = {"alertmanager": ("url",), "kafka": ("topic",), "pagerduty": ("routing_key",), "slack": ("url",),
             "webhook": ("url",)}
# YAML ``type:`` -> (keys besides type, name and the filter keys, their reader)
_READERS = {
    "alertmanager": (("url", "ttl", "dashboard_url"), _alertmanager),
    "kafka": (("topic",), _kafka),
    "pagerduty": (("routing_key", "url", "dashboard_url"), _pagerduty),
    "slack": (("url", "dashboard_url", "max_features"), _slack),
    "webhook": (("url", "secret", "headers", "format", "event_type", "ref", "token"), _webhook),
}

"""Generic and action webhooks (``type: webhook``).

``format: driftline`` (default) POSTs the v1 alert JSON (``Alert.to_dict()``,
which carries ``action`` and ``evidence``) with ``Idempotency-Key``,
``X-Driftline-Timestamp`` and, when ``secret`` is set, ``X-Driftline-Signature``.
``format: github_dispatch`` and ``format: gitlab_trigger`` shape the body for
GitHub ``repository_dispatch`` and GitLab pipeline triggers so a retrain action
needs no relay. An action webhook is a webhook with ``actions: [retrain]``.

>>> cfg = WebhookConfig.from_dict({"url": "https://ci.example/hook", "secret": "s", "actions": ["retrain"]},
...                               "alerts.channels[0]", "webhook")
>>> cfg
WebhookConfig(name='webhook', url='https://ci.example/***', secret='***', headers=[], format='driftline', actions=['retrain'])
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlencode

from driftline.alerting import Alert
from driftline.sinks.alerts.base import (
    ChannelConfigError,
    ChannelFilter,
    ConfigReader,
    HttpRequest,
    redact_url,
)
from driftline.sinks.alerts.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

__all__ = ["FORMATS", "WebhookChannel", "WebhookConfig"]

FORMATS = ("driftline", "github_dispatch", "gitlab_trigger")
USER_AGENT = "driftline-alerts/1"


def json_bytes(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


@dataclass(frozen=True, slots=True, repr=False)
class WebhookConfig:
    name: str
    url: str
    filter: ChannelFilter = ChannelFilter()
    secret: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    format: str = "driftline"
    event_type: str = "driftline_alert"
    ref: str = "main"
    token: str | None = None

    @classmethod
    def from_dict(cls, raw: object, path: str, default_name: str) -> WebhookConfig:
        r = ConfigReader(raw, path, {"url", "secret", "headers", "format", "event_type", "ref", "token"})
        fmt = r.choice("format", FORMATS, "driftline")
        token = r.string("token", secret=True)
        if fmt == "gitlab_trigger" and token is None:
            raise ChannelConfigError(f"{path}.token: missing, expected the pipeline trigger token "
                                     "(format: gitlab_trigger)")
        return cls(
            name=r.string("name", default_name, required=True),  # type: ignore[arg-type]
            url=r.url("url", secret=True),
            filter=r.channel_filter(),
            secret=r.string("secret", secret=True),
            headers=r.headers("headers"),
            format=fmt,
            event_type=r.string("event_type", "driftline_alert", required=True),  # type: ignore[arg-type]
            ref=r.string("ref", "main", required=True),  # type: ignore[arg-type]
            token=token,
        )

    def __repr__(self) -> str:
        actions = sorted(self.filter.actions) if self.filter.actions is not None else None
        return (f"WebhookConfig(name={self.name!r}, url={redact_url(self.url)!r}, "
                f"secret={'***' if self.secret else None!r}, headers={[k for k, _ in self.headers]}, "
                f"format={self.format!r}, actions={actions})")


def github_dispatch_body(alert: Alert, event_type: str) -> dict:
    """``repository_dispatch``: ``client_payload`` may have at most 10 top-level keys."""
    return {
        "event_type": event_type,
        "client_payload": {
            "alert_id": alert.alert_id, "action": alert.action, "model": alert.model,
            "version": alert.version, "kind": alert.kind, "severity": alert.severity,
            "status": alert.status, "alert": alert.to_dict(),
        },
    }


def gitlab_trigger_form(alert: Alert, token: str, ref: str) -> list[tuple[str, str]]:
    """Pipeline trigger API form fields: ``token``, ``ref`` and ``variables[...]``."""
    variables = {
        "DRIFTLINE_ALERT_ID": alert.alert_id, "DRIFTLINE_ACTION": alert.action,
        "DRIFTLINE_MODEL": alert.model, "DRIFTLINE_VERSION": alert.version,
        "DRIFTLINE_KIND": alert.kind, "DRIFTLINE_SEVERITY": alert.severity,
        "DRIFTLINE_STATUS": alert.status, "DRIFTLINE_ALERT": json.dumps(alert.to_dict(), separators=(",", ":")),
    }
    return [("token", token), ("ref", ref), *((f"variables[{k}]", v) for k, v in variables.items())]


class WebhookChannel:
    """Renders an alert to a signed POST; see the module docstring for formats."""

    config_class = WebhookConfig

    def __init__(self, config: WebhookConfig):
        self.config = config
        self.name = config.name

    def accepts(self, alert: Alert) -> bool:
        return self.config.filter.accepts(alert)

    def render(self, alert: Alert, *, now_s: float) -> HttpRequest:
        cfg = self.config
        content_type = "application/json"
        if cfg.format == "github_dispatch":
            body = json_bytes(github_dispatch_body(alert, cfg.event_type))
        elif cfg.format == "gitlab_trigger":
            body = urlencode(gitlab_trigger_form(alert, cfg.token or "", cfg.ref)).encode()
            content_type = "application/x-www-form-urlencoded"
        else:
            body = json_bytes(alert.to_dict())
        timestamp = int(now_s)
        headers = [
            ("Content-Type", content_type),
            ("User-Agent", USER_AGENT),
            ("Idempotency-Key", alert.alert_id),
            (TIMESTAMP_HEADER, str(timestamp)),
        ]
        if cfg.secret:
            headers.append((SIGNATURE_HEADER, sign(cfg.secret, timestamp, body)))
        if cfg.format == "github_dispatch":
            headers += [("Accept", "application/vnd.github+json"), ("X-GitHub-Api-Version", "2022-11-28")]
        headers += list(cfg.headers)
        return HttpRequest("POST", cfg.url, tuple(headers), body)

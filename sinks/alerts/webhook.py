"""Generic and action webhooks (``type: webhook``).

``format: driftline`` (default) POSTs the v1 alert JSON (``Alert.to_dict()``,
which carries ``action`` and ``evidence``) with ``Idempotency-Key``,
``X-Driftline-Timestamp`` and, when ``secret`` is set, ``X-Driftline-Signature`` (``v2=``: the MAC
covers timestamp, idempotency key and body; see :mod:`~driftline.sinks.alerts.signing`).
``format: github_dispatch`` and ``format: gitlab_trigger`` shape the body for
GitHub ``repository_dispatch`` and GitLab pipeline triggers so a retrain action
needs no relay. An action webhook is a webhook with ``actions: [retrain]``.

>>> from driftline.settings import parse_channels
>>> (settings,) = parse_channels([{"type": "webhook", "url": "https://ci.example/hook", "secret": "s"}])
>>> alert = Alert("a1", "m/v1/data_drift", "firing", "data_drift", "warning", "retrain", "m", "v1", (),
...               0, 60_000, "Data drift on m/v1", 60_000)
>>> request = WebhookChannel(settings).render(alert, now_s=1_714_564_800)
>>> request
HttpRequest(POST https://ci.example/***, headers=[Content-Type, User-Agent, Idempotency-Key, X-Driftline-Timestamp, X-Driftline-Signature], 436 bytes)
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from driftline.alerting import Alert
from driftline.settings import WebhookSettings
from driftline.sinks.alerts.base import HttpRequest, accepts
from driftline.sinks.alerts.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)

__all__ = ["WebhookChannel"]

USER_AGENT = "driftline-alerts/1"


def json_bytes(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


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

    def __init__(self, config: WebhookSettings):
        self.config = config
        self.name = config.name

    def __repr__(self) -> str:  # the settings' repr: URLs by host only, no secret
        return f"{type(self).__name__}({self.config!r})"

    def accepts(self, alert: Alert) -> bool:
        return accepts(self.config.filter, alert)

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
            (IDEMPOTENCY_HEADER, alert.alert_id),
            (TIMESTAMP_HEADER, str(timestamp)),
        ]
        if cfg.secret:
            headers.append((SIGNATURE_HEADER, sign(cfg.secret, timestamp, alert.alert_id, body)))
        if cfg.format == "github_dispatch":
            headers += [("Accept", "application/vnd.github+json"), ("X-GitHub-Api-Version", "2022-11-28")]
        headers += list(cfg.headers)
        return HttpRequest("POST", cfg.url, tuple(headers), body)

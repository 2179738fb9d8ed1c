"""PagerDuty Events API v2 (``type: pagerduty``).

Firing alerts ``trigger`` and resolved ones ``resolve`` the incident keyed by
the alert's ``dedup_key``, so a re-send or escalation updates one incident.
"""

from __future__ import annotations

from driftline.alerting import Alert, rfc3339
from driftline.settings import PagerDutySettings
from driftline.sinks.alerts.base import HttpRequest, accepts, format_template
from driftline.sinks.alerts.webhook import USER_AGENT, json_bytes

__all__ = ["PagerDutyChannel"]


def pagerduty_event(alert: Alert, routing_key: str, dashboard_url: str | None = None) -> dict:
    """The exact Events API v2 body."""
    event = {
        "routing_key": routing_key,
        "event_action": "resolve" if alert.status == "resolved" else "trigger",
        "dedup_key": alert.dedup_key,
        "payload": {
            "summary": alert.summary[:1024],
            "source": f"driftline/{alert.model}/{alert.version}",
            "severity": alert.severity,
            "timestamp": rfc3339(alert.ts_ms),
            "component": alert.model,
            "group": alert.version,
            "class": alert.kind,
            "custom_details": {
                "alert_id": alert.alert_id,
                "action": alert.action,
                "reason": alert.reason,
                "window_start": rfc3339(alert.window_start_ms),
                "window_end": rfc3339(alert.window_end_ms),
                "features": alert.to_dict()["features"],
                "evidence": alert.to_dict()["evidence"],
            },
        },
        "client": "driftline",
    }
    if dashboard_url:
        link = format_template(dashboard_url, alert)
        event["client_url"] = link
        event["links"] = [{"href": link, "text": "Driftline dashboard"}]
    return event


class PagerDutyChannel:
    def __init__(self, config: PagerDutySettings):
        self.config = config
        self.name = config.name

    def __repr__(self) -> str:  # the settings' repr: URLs by host only, no secret
        return f"{type(self).__name__}({self.config!r})"

    def accepts(self, alert: Alert) -> bool:
        return accepts(self.config.filter, alert)

    def render(self, alert: Alert, *, now_s: float) -> HttpRequest:
        body = json_bytes(pagerduty_event(alert, self.config.routing_key, self.config.dashboard_url))
        headers = (("Content-Type", "application/json"), ("User-Agent", USER_AGENT))
        return HttpRequest("POST", self.config.url, headers, body)

"""Prometheus Alertmanager API v2 (``type: alertmanager``).

POSTs ``[{labels, annotations, startsAt, endsAt, generatorURL}]`` to
``<url>/api/v2/alerts``. Firing alerts get ``endsAt = now + ttl`` (the engine
re-sends every cooldown, so keep ``ttl`` longer than the cooldown); resolved
ones ``endsAt = now``. An escalation also ends the warning-labelled twin so
Alertmanager does not keep both.

>>> alertname("data_quality")
'DriftlineDataQuality'
"""

from __future__ import annotations

from driftline.alerting import Alert, rfc3339
from driftline.settings import AlertmanagerSettings
from driftline.sinks.alerts.base import HttpRequest, accepts, format_template
from driftline.sinks.alerts.webhook import USER_AGENT, json_bytes

__all__ = ["AlertmanagerChannel", "alertmanager_alerts"]


def alertname(kind: str) -> str:
    """``data_drift`` -> ``DriftlineDataDrift``."""
    return "Driftline" + "".join(part.capitalize() for part in kind.split("_"))


def _labels(alert: Alert, severity: str) -> dict[str, str]:
    labels = {"alertname": alertname(alert.kind), "model": alert.model, "version": alert.version,
              "kind": alert.kind, "severity": severity}
    base = f"{alert.model}/{alert.version}/{alert.kind}"
    if alert.dedup_key.startswith(base + "/"):
        labels["feature"] = alert.dedup_key[len(base) + 1:]
    return labels


def alertmanager_alerts(alert: Alert, *, now_ms: int, ttl_ms: int, dashboard_url: str | None = None) -> list[dict]:
    """The exact JSON list for ``POST /api/v2/alerts``."""
    features = ", ".join(f"{f.name} {f.test}={f.statistic:.4g}" for f in alert.features[:10])
    description = (f"{alert.summary}\nAction: {alert.action}. Window {rfc3339(alert.window_start_ms)} → "
                   f"{rfc3339(alert.window_end_ms)}." + (f"\nFeatures: {features}" if features else ""))
    annotations = {"summary": alert.summary, "description": description, "action": alert.action,
                   "alert_id": alert.alert_id, "dedup_key": alert.dedup_key}
    resolved = alert.status == "resolved"
    since = alert.evidence.get("firing_since", alert.window_start_ms) if resolved else alert.window_start_ms
    starts = min(int(since), now_ms)
    item = {
        "labels": _labels(alert, alert.severity),
        "annotations": annotations,
        "startsAt": rfc3339(starts),
        "endsAt": rfc3339(now_ms if resolved else now_ms + ttl_ms),
    }
    if dashboard_url:
        item["generatorURL"] = format_template(dashboard_url, alert)
    out = [item]
    if alert.reason == "escalation" and alert.severity == "critical":
        out.append({"labels": _labels(alert, "warning"), "annotations": annotations,
                    "startsAt": rfc3339(starts), "endsAt": rfc3339(now_ms)})
    return out


class AlertmanagerChannel:
    def __init__(self, config: AlertmanagerSettings):
        self.config = config
        self.name = config.name

    def __repr__(self) -> str:  # the settings' repr: URLs by host only, no secret
        return f"{type(self).__name__}({self.config!r})"

    def accepts(self, alert: Alert) -> bool:
        return accepts(self.config.filter, alert)

    def render(self, alert: Alert, *, now_s: float) -> HttpRequest:
        body = json_bytes(alertmanager_alerts(alert, now_ms=int(now_s * 1000), ttl_ms=self.config.ttl_ms,
                                              dashboard_url=self.config.dashboard_url))
        headers = (("Content-Type", "application/json"), ("User-Agent", USER_AGENT))
        return HttpRequest("POST", self.config.url.rstrip("/") + "/api/v2/alerts", headers, body)

"""Slack incoming webhooks (``type: slack``): Block Kit plus a ``text`` fallback.

The webhook URL *is* the secret, so it never appears in a repr or an error
(:class:`~driftline.settings.SlackSettings` hides it).
"""

from __future__ import annotations

from driftline.alerting import Alert, rfc3339
from driftline.settings import SlackSettings
from driftline.sinks.alerts.base import HttpRequest, accepts, format_template
from driftline.sinks.alerts.webhook import USER_AGENT, json_bytes

__all__ = ["SlackChannel"]

KIND_LABELS = {
    "data_drift": "Data drift", "prediction_drift": "Prediction drift", "concept_drift": "Concept drift",
    "covariate_shift": "Covariate shift",
    "performance": "Performance", "data_quality": "Data quality", "latency": "Latency",
}
_ICONS = {("firing", "critical"): ":red_circle:", ("firing", "warning"): ":large_orange_circle:"}


def escape(text: str) -> str:
    """Slack mrkdwn control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _feature_line(f) -> str:
    line = f"• `{escape(f.name)}` {escape(f.test)} = {f.statistic:.4g} (threshold {f.threshold:.4g}"
    return line + (f", p = {f.p_value:.3g})" if f.p_value is not None else ")")


def slack_message(alert: Alert, *, dashboard_url: str | None = None, max_features: int = 5) -> dict:
    """The exact JSON body posted to the incoming webhook."""
    status = alert.status.upper()
    label = KIND_LABELS.get(alert.kind, alert.kind)
    icon = _ICONS.get((alert.status, alert.severity), ":large_green_circle:")
    header = f"{icon} {status} {alert.severity}: {label} on {alert.model}/{alert.version}"
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:150], "emoji": True}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Model*\n{escape(alert.model)}"},
            {"type": "mrkdwn", "text": f"*Version*\n{escape(alert.version)}"},
            {"type": "mrkdwn", "text": f"*Kind*\n{alert.kind}"},
            {"type": "mrkdwn", "text": f"*Severity*\n{alert.severity}"},
            {"type": "mrkdwn", "text": f"*Window*\n{rfc3339(alert.window_start_ms)} → {rfc3339(alert.window_end_ms)}"},
            {"type": "mrkdwn", "text": f"*Action*\n{alert.action}"},
        ]},
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(alert.summary)[:3000]}},
    ]
    if alert.features:
        lines = [_feature_line(f) for f in alert.features[:max_features]]
        if len(alert.features) > max_features:
            lines.append(f"… and {len(alert.features) - max_features} more")
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": "*Top features*\n" + "\n".join(lines)}})
    context = f"alert `{alert.alert_id}` · `{escape(alert.dedup_key)}`"
    if dashboard_url:
        context = f"<{format_template(dashboard_url, alert)}|Open dashboard> · " + context
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": f"[{status}] {alert.severity}: {alert.summary}", "blocks": blocks}


class SlackChannel:
    def __init__(self, config: SlackSettings):
        self.config = config
        self.name = config.name

    def __repr__(self) -> str:  # the settings' repr: URLs by host only, no secret
        return f"{type(self).__name__}({self.config!r})"

    def accepts(self, alert: Alert) -> bool:
        return accepts(self.config.filter, alert)

    def render(self, alert: Alert, *, now_s: float) -> HttpRequest:
        body = json_bytes(slack_message(alert, dashboard_url=self.config.dashboard_url,
                                        max_features=self.config.max_features))
        headers = (("Content-Type", "application/json"), ("User-Agent", USER_AGENT))
        return HttpRequest("POST", self.config.url, headers, body)

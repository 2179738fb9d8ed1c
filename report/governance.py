"""Sections 6, 7 and 9 of a dossier: bias analysis, incidents and actions, the sign-off block."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .canonical import iso, num
from .collect import Evidence

__all__ = ["DECISIONS", "bias_section", "incidents_section", "signoff_section"]

DECISIONS = ("approve", "approve with conditions", "retrain", "retire")
ACTION_STATES = ("rolled_back", "deactivated", "promoted")
NOT_CONFIGURED = (
    "Bias analysis: not configured. Name the sensitive attributes of the model's events as segment keys and "
    "turn fairness on, e.g. `segments: {keys: [gender]}` and `fairness: {keys: [gender]}` under the model "
    "in the config; the worker then computes demographic parity, equalized odds and the other measures "
    "per window, and this section shows them.")


def bias_section(ev: Evidence) -> dict[str, Any]:
    if ev.model.fairness is None:
        return {"key": "bias", "title": "Bias analysis", "status": "not_configured", "note": NOT_CONFIGURED,
                "summary": [], "series": []}
    series: dict[tuple[str, str, str], list] = defaultdict(list)
    for r in ev.fairness_windows:
        series[(r.version, r.key, r.measure)].append(
            [iso(r.window_start_s), num(r.value), bool(r.flagged), r.worst_group, r.best_group])
    summary = [{"version": s.version, "key": s.key, "measure": s.measure, "windows": s.windows,
                "flagged_windows": s.flagged_windows, "min": num(s.min_value), "max": num(s.max_value),
                "first_window": iso(s.first_window_s), "last_window": iso(s.last_window_s)} for s in ev.fairness]
    return {
        "key": "bias", "title": "Bias analysis", "status": "ok" if summary else "empty",
        "note": "" if summary else (f"Fairness is configured on {', '.join(ev.model.fairness.keys)} but no result was "
                                    "recorded in the period: fairness needs labels and enough events per group."),
        "sensitive_keys": list(ev.model.fairness.keys), "summary": summary,
        "series": [{"version": v, "key": k, "measure": m, "points": pts} for (v, k, m), pts in sorted(series.items())],
    }


def incidents_section(ev: Evidence) -> dict[str, Any]:
    alerts = [{"at": iso(a.ts_s), "window_start": iso(a.window_start_s), "alert_id": a.alert_id, "status": a.status,
               "kind": a.kind, "severity": a.severity, "action": a.action, "version": a.version,
               "feature": a.feature, "summary": a.summary} for a in ev.alerts]
    actions: list[dict[str, Any]] = [
        {"at": a["at"], "action": a["action"], "source": f"alert {a['kind']} ({a['severity']})",
         "version": a["version"], "detail": a["summary"]}
        for a in alerts if a["action"] != "notify" and a["status"] == "firing"]
    acknowledgements = []
    for c in ev.lifecycle:
        if c.state not in ACTION_STATES:
            continue
        entry = {"at": iso(c.changed_at_s), "action": c.state, "source": f"lifecycle (by {c.changed_by})",
                 "version": c.version, "detail": c.reason}
        actions.append(entry)
        if c.changed_by.startswith(("webhook:", "cli:")):
            acknowledgements.append({"at": entry["at"], "version": c.version, "state": c.state, "by": c.changed_by,
                                     "reason": c.reason})
    decided = {}
    for v in ev.verdicts:  # the first window of each decision of each challenger
        if v.verdict in ("rollback", "promote") and (v.experiment, v.challenger, v.verdict) not in decided:
            decided[(v.experiment, v.challenger, v.verdict)] = v
            actions.append({"at": iso(v.window_end_s), "action": v.action or v.verdict,
                            "source": f"experiment {v.experiment} verdict {v.verdict}", "version": v.challenger,
                            "detail": v.reason})
    actions.sort(key=lambda a: (a["at"] or "", a["action"], a["version"], a["source"]))
    deliveries: dict[str, dict[str, Any]] = {}
    for d in ev.deliveries:
        channel = deliveries.setdefault(d.channel, {"channel": d.channel, "attempts": 0})
        channel[d.status] = d.alerts
        channel["attempts"] += d.attempts
    status = "ok" if alerts or actions else "empty"
    return {
        "key": "incidents", "title": "Incidents and actions", "status": status,
        "note": "" if status == "ok" else "No alert fired and no action was taken in the period.",
        "alerts": alerts, "firing": sum(a["status"] == "firing" for a in alerts),
        "deliveries": [deliveries[c] for c in sorted(deliveries)],
        "actions": actions, "acknowledgements": acknowledgements,
        "experiments": [{"experiment": e, "challenger": c, "verdict": v, "window_end": iso(r.window_end_s)}
                        for (e, c, v), r in sorted(decided.items())],
    }


def signoff_section() -> dict[str, Any]:
    return {"key": "signoff", "title": "Sign-off", "status": "open",
            "note": "To be completed by the reviewer; the footer's SHA-256 identifies the content reviewed.",
            "fields": [{"name": "reviewer", "value": ""}, {"name": "date", "value": ""},
                       {"name": "decision", "value": "", "choices": list(DECISIONS)},
                       {"name": "conditions and comments", "value": ""}]}

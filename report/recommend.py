"""Section 8 of a dossier: rule-based recommendations, each with the evidence that triggered it.

Rules, in the order they are listed (a dossier lists every rule that fires, or "no action: stable"):

* ``retrain``: a performance metric (realized, or ``estimated_*`` before labels) broke an alert rule's
  threshold in at least 3 (and 30%) of the version's last 10 windows; the evidence adds the features
  drifting in that span (not for a version now rolled back or deactivated);
* ``complete rollback``: a rolled-back or deactivated version still gets predictions
  (``rollback_not_effective`` alerts);
* ``investigate <feature>``: the top 3 drifted input features of the drift ranking;
* ``insufficient labels``: label coverage under 50% over the period (performance is then uncertain);
* ``fix data quality``: a quality rate above the config's threshold in some window;
* ``review fairness``: a fairness measure flagged in some window;
* ``fix alert delivery``: alerts a channel failed to deliver; ``check producers``: dead letters.

Thresholds come from the config (alert rules, quality and fairness settings) where it has them.
"""

from __future__ import annotations

import math
from typing import Any

from driftline.settings import Settings

from .behaviour import OPS, thresholds

__all__ = ["MIN_LABEL_COVERAGE", "RECENT_WINDOWS", "recommendations_section"]

RECENT_WINDOWS = 10
MIN_LABEL_COVERAGE = 0.5
TOP_FEATURES = 3
RETIRED = ("rolled_back", "deactivated")  # no retrain recommended for a version taken out of service


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _strength(r: dict) -> str:
    """``psi 0.41 (threshold 0.2)``, or for a p-value test ``chi2 p 1.8e-26 (alpha 0.001)``."""
    if r["min_p_value"] is not None and 0 < r["threshold"] < 1:
        return f"{r['test']} p {r['min_p_value']:.2g} (alpha {r['threshold']:g})"
    return f"{r['test']} {r['max_statistic']:.3g} (threshold {r['threshold']:g})"


def _retrain(settings: Settings, performance: dict, ranking: list[dict]) -> list[dict[str, Any]]:
    out = []
    limits = thresholds(settings)
    for m in [*performance["metrics"], *performance["estimated"]["metrics"]]:
        recent = m["series"][-RECENT_WINDOWS:]
        for rule, op, value in limits.get(m["metric"], ()):
            hits = [p for p in recent if p[1] is not None and OPS[op](p[1], value)]
            if recent and len(hits) >= max(3, math.ceil(0.3 * len(recent))):
                since = recent[0][0]
                drifting = sorted({r["feature"] for r in ranking if r["version"] == m["version"] and r["last_drifted"]
                                   and r["last_drifted"] >= since})
                words = "below" if op in ("<", "<=") else "above"
                text = (f"{m['metric']} {words} {value:g} in {len(hits)} of the last {len(recent)} windows"
                        + (f" and {len(drifting)} feature{'s' * (len(drifting) != 1)} drifting" if drifting else "")
                        + (" (estimated before labels)" if m["metric"].startswith("estimated_") else ""))
                out.append({"action": "retrain", "version": m["version"], "summary": f"retrain: {text}",
                            "evidence": [f"rule {rule}: {m['metric']} {op} {value:g}",
                                         *(f"{p[0]}: {m['metric']} {p[1]}" for p in hits),
                                         *(f"drifting since {since}: {f}" for f in drifting)]})
    return out


def recommendations_section(settings: Settings, sections: dict[str, dict[str, Any]]) -> dict[str, Any]:
    performance, drift, quality = sections["performance"], sections["drift"], sections["quality"]
    bias, incidents = sections["bias"], sections["incidents"]
    retired = {v["version"] for v in sections["identity"]["versions"] if v.get("state") in RETIRED}
    items = [r for r in _retrain(settings, performance, drift["ranking"]) if r["version"] not in retired]
    ineffective = sorted({a["version"] for a in incidents["alerts"]
                          if a["kind"] == "rollback_not_effective" and a["status"] == "firing"})
    for version in ineffective:
        items.append({"action": "complete rollback", "version": version,
                      "summary": f"complete the rollback of {version}: it still receives predictions",
                      "evidence": [f"{a['at']}: {a['summary']}" for a in incidents["alerts"]
                                   if a["kind"] == "rollback_not_effective" and a["version"] == version]})
    for r in [r for r in drift["ranking"] if r["drifted_windows"]][:TOP_FEATURES]:
        items.append({"action": "investigate", "version": r["version"], "feature": r["feature"],
                      "summary": f"investigate `{r['feature']}`: {_strength(r)}, drifted in {r['drifted_windows']} of "
                                 f"{r['windows']} windows, ranked {r['rank']} by drift",
                      "evidence": [f"first drifted {r['first_drifted']}, last {r['last_drifted']}",
                                   f"score {r['score']} (drift share x exceedance"
                                   + (" x importance)" if r["importance"] is not None else ")")]})
    for version, cov in performance["label_coverage"].items():
        if cov["mean"] is not None and cov["mean"] < MIN_LABEL_COVERAGE:
            items.append({"action": "insufficient labels", "version": version,
                          "summary": f"insufficient labels: coverage {_pct(cov['mean'])}",
                          "evidence": [f"label coverage {_pct(cov['mean'])} over {cov['windows']} windows "
                                       f"(under {_pct(MIN_LABEL_COVERAGE)}), lowest {_pct(cov['min'] or 0)}"]})
    for row in quality["features"]:
        for check, stats in row.items():
            if isinstance(stats, dict) and stats["exceeded"]:
                items.append({"action": "fix data quality", "version": row["version"], "feature": row["feature"],
                              "summary": f"fix data quality of `{row['feature']}`: {check} up to "
                                         f"{_pct(stats['max'])} (threshold {_pct(stats['threshold'])})",
                              "evidence": [f"{check} mean {stats['mean']}, max {stats['max']}"]})
    for s in bias["summary"]:
        if s["flagged_windows"]:
            items.append({"action": "review fairness", "version": s["version"], "feature": s["key"],
                          "summary": f"review fairness on `{s['key']}`: {s['measure']} flagged in "
                                     f"{s['flagged_windows']} of {s['windows']} windows (max {s['max']})",
                          "evidence": [f"{s['measure']} from {s['min']} to {s['max']}, {s['first_window']} to "
                                       f"{s['last_window']}"]})
    for d in incidents["deliveries"]:
        failed = sum(n for status, n in d.items() if status not in ("channel", "attempts", "delivered"))
        if failed:
            items.append({"action": "fix alert delivery", "version": "", "feature": d["channel"],
                          "summary": f"fix alert channel `{d['channel']}`: {failed} alert(s) not delivered",
                          "evidence": [f"{status}: {n}" for status, n in d.items() if status not in ("channel",)]})
    if quality["dead_letters_total"]:
        items.append({"action": "check producers", "version": "",
                      "summary": f"check producers: {quality['dead_letters_total']} dead letters",
                      "evidence": [f"{d['topic']} {d['reason']}: {d['count']}" for d in quality["dead_letters"]]})
    if not items:
        windows = sum(m["windows"] for m in performance["metrics"])
        items.append({"action": "no action", "version": "", "summary": "no action: stable",
                      "evidence": [f"{windows} metric windows within their thresholds",
                                   f"{drift['drifted_features']} drifted features", "no fairness flag, no failed delivery"]})
    for item in items:
        item.setdefault("feature", "")
    return {"key": "recommendations", "title": "Recommendations", "status": "ok", "note": "",
            "items": items}

"""Sections 1 and 2 of a dossier: identity and lineage, reference and assumptions."""

from __future__ import annotations

import importlib.metadata
from typing import Any

from driftline.alerting.rules import DEFAULT_RULE_SETTINGS
from driftline.detectors import ReferenceProfile
from driftline.settings import RuleSettings, Settings

from .canonical import config_hash, iso, num, plain, profile_hash
from .collect import Evidence

__all__ = ["identity_section", "reference_section", "rules_of"]

MAX_HISTOGRAM_BINS = 20


def rules_of(settings: Settings) -> tuple[tuple[RuleSettings, ...], str]:
    """The alert rules in force and where they come from (``configured`` or ``defaults``)."""
    if settings.alert_rules is None:
        return DEFAULT_RULE_SETTINGS, "defaults (alerts.rules is absent)"
    return settings.alert_rules, "configured"


def _driftline_version() -> str:
    try:
        return importlib.metadata.version("driftline")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def identity_section(ev: Evidence, settings: Settings, profile: ReferenceProfile | None) -> dict[str, Any]:
    m = ev.model
    versions: dict[str, dict[str, Any]] = {}
    for change in ev.lifecycle:  # in time order: the last row of a version is its current state
        seen = versions.setdefault(change.version, {"version": change.version, "first_seen": None,
                                                    "last_seen": None, "changes": 0})
        seen.update(state=change.state, changed_by=change.changed_by, reason=change.reason,
                    changed_at=iso(change.changed_at_s), changes=seen["changes"] + 1)
        if change.first_seen_s and (seen["first_seen"] is None or iso(change.first_seen_s) < seen["first_seen"]):
            seen["first_seen"] = iso(change.first_seen_s)
        if change.last_seen_s and (seen["last_seen"] is None or iso(change.last_seen_s) > seen["last_seen"]):
            seen["last_seen"] = iso(change.last_seen_s)
    if m.reference_profile:
        source = f"profile file {m.reference_profile}"
    elif m.reference_path:
        source = f"dataset {m.reference_path} (profiled when the worker starts)"
    else:
        source = (f"the first {m.warmup_events} events of each version (warm-up, built by the worker and not "
                  "stored: set reference.profile to pin it)")
    experiments = [{"name": e.name, "mode": e.mode, "champion": plain(e.champion), "challengers": plain(e.challengers),
                    "metric": e.design.metric, "alpha": num(e.alpha)} for e in settings.experiments if e.model == m.name]
    return {
        "key": "identity", "title": "Identity and lineage", "status": "ok" if versions else "empty",
        "note": "" if versions else "No lifecycle recorded in model_versions for this model (the worker records "
                                    "each version it sees; run `driftline migrate` on an older store).",
        "model": m.name, "version": ev.version or "all", "task": m.task,
        "period": {"from": iso(ev.period.since_s), "to": iso(ev.period.until_s)},
        "driftline_version": _driftline_version(),
        "config_sha256": config_hash(settings),
        "reference_source": source,
        "reference_profile_sha256": profile_hash(profile.to_dict()) if profile is not None else None,
        "versions": [versions[v] for v in sorted(versions)],
        "lifecycle": [{"at": iso(c.changed_at_s), "version": c.version, "state": c.state, "by": c.changed_by,
                       "reason": c.reason} for c in ev.lifecycle],
        "experiments": experiments,
    }


def _feature(name: str, kind: str, profile: ReferenceProfile | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "kind": kind}
    p = profile.features.get(name) if profile is not None else None
    if p is None:
        out["reference"] = None
    elif p.kind == "numeric":
        counts = p.counts.tolist()
        edges = p.edges.tolist()
        out["reference"] = {"n": p.n, "missing": p.missing, "min": num(p.min), "max": num(p.max), "mean": num(p.mean),
                            "std": num(p.std), "edges": [num(e) for e in edges], "counts": counts}
        out["expected_range"] = [num(p.min), num(p.max)]
    else:
        out["reference"] = {"n": p.n, "missing": p.missing, "categories": list(p.categories),
                            "counts": p.counts.tolist(), "other": p.other}
        out["expected_range"] = list(p.categories)
    return out


def reference_section(ev: Evidence, settings: Settings, profile: ReferenceProfile | None) -> dict[str, Any]:
    m = ev.model
    rules, rules_source = rules_of(settings)
    note = "" if profile is not None else (
        "The reference distributions are not available to the report: the worker builds them from its first "
        f"{m.warmup_events} events. Build a profile with `driftline baseline --data FILE --model {m.name} --out "
        "profile.json` and set reference.profile to include them.")
    return {
        "key": "reference", "title": "Reference and assumptions", "status": "ok" if profile is not None else "partial",
        "note": note,
        "reference_rows": profile.n if profile is not None else None,
        "features": [_feature(name, kind, profile) for name, kind in m.features.items()],
        "monitoring": {
            "window": f"{m.window_ms // 1000}s", "allowed_lateness": f"{m.allowed_lateness_ms // 1000}s",
            "drift": plain(m.drift), "quality": plain(m.quality), "concept": plain(m.concept),
            "multivariate": plain(m.multivariate), "streaming": plain(m.streaming),
            "segments": plain(m.segments), "fairness": plain(m.fairness),
        },
        "alert_rules_source": rules_source,
        "alert_rules": [{"name": r.name, "kind": r.kind, "severity": r.severity, "action": r.action,
                         "when": plain(r.when), "for_windows": r.for_windows} for r in rules],
    }

"""The v1 alert payload contract: :class:`Alert` and its JSON form.

Every channel (Kafka, Slack, PagerDuty, Alertmanager, webhooks) and the ``alerts``
table carry this object; :meth:`Alert.to_dict` is the wire format documented in
docs/alerts.md and :meth:`Alert.from_dict` its inverse.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

__all__ = ["SCHEMA", "Alert", "FeatureEvidence", "alert_id", "freeze", "rfc3339", "thaw"]


@dataclass(frozen=True, slots=True)
class FeatureEvidence:
    """One feature's test result inside an alert, as shipped in the JSON."""

    name: str
    test: str
    statistic: float
    threshold: float
    p_value: float | None = None


SCHEMA = "driftline.alert.v1"


def rfc3339(ms: int) -> str:
    """Epoch milliseconds -> ``2024-05-01T12:00:00.000Z``.

    >>> rfc3339(0)
    '1970-01-01T00:00:00.000Z'
    """
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert_id(dedup_key: str, status: str, window_start_ms: int, severity: str, decision: str | None = None) -> str:
    """Deterministic id: a recomputation after a crash yields the same one. With ``decision`` (what
    fired, e.g. an experiment's verdict and start), the id does not depend on the window.

    >>> len(alert_id("fraud/v3/data_drift", "firing", 0, "warning"))
    32
    >>> alert_id("m/v2/experiment/x", "firing", 0, "critical", "rollback@0") == alert_id(
    ...     "m/v2/experiment/x", "firing", 60_000, "critical", "rollback@0")
    True
    """
    where = window_start_ms if decision is None else f"decision:{decision}"
    raw = f"{dedup_key}|{status}|{where}|{severity}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Frozen evidence -> strict JSON values (NaN and infinities become ``None``)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


@dataclass(frozen=True, slots=True)
class Alert:
    """One notification: the v1 alert JSON contract (see :meth:`to_dict`).

    ``reason`` says why it was emitted: ``new``, ``repeat`` (cooldown elapsed),
    ``escalation`` (severity rose) or ``resolved``; channels that trigger
    actions use it to fire once per incident.
    """

    alert_id: str
    dedup_key: str
    status: str
    kind: str
    severity: str
    action: str
    model: str
    version: str
    features: tuple[FeatureEvidence, ...]
    window_start_ms: int
    window_end_ms: int
    summary: str
    ts_ms: int
    evidence: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    rule: str = ""
    reason: str = "new"

    def to_dict(self) -> dict[str, Any]:
        """The v1 JSON object (plain dicts/lists, ready for ``json.dumps``)."""
        return {
            "schema": SCHEMA,
            "alert_id": self.alert_id,
            "dedup_key": self.dedup_key,
            "status": self.status,
            "reason": self.reason,
            "kind": self.kind,
            "severity": self.severity,
            "action": self.action,
            "rule": self.rule,
            "model": self.model,
            "version": self.version,
            "features": [
                {"name": f.name, "test": f.test, "statistic": thaw(f.statistic),
                 "threshold": thaw(f.threshold), "p_value": thaw(f.p_value)}
                for f in self.features
            ],
            "window_start": rfc3339(self.window_start_ms),
            "window_end": rfc3339(self.window_end_ms),
            "window_start_ms": self.window_start_ms,
            "window_end_ms": self.window_end_ms,
            "summary": self.summary,
            "ts": rfc3339(self.ts_ms),
            "ts_ms": self.ts_ms,
            "evidence": thaw(self.evidence),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Alert:
        """Inverse of :meth:`to_dict` (used by snapshots and by consumers)."""
        return cls(
            alert_id=d["alert_id"], dedup_key=d["dedup_key"], status=d["status"], kind=d["kind"],
            severity=d["severity"], action=d["action"], model=d["model"], version=d["version"],
            features=tuple(FeatureEvidence(f["name"], f["test"], _num(f["statistic"]), _num(f["threshold"]),
                                           f.get("p_value")) for f in d.get("features", ())),
            window_start_ms=int(d["window_start_ms"]), window_end_ms=int(d["window_end_ms"]),
            summary=d["summary"], ts_ms=int(d["ts_ms"]), evidence=freeze(d.get("evidence", {})),
            rule=d.get("rule", ""), reason=d.get("reason", "new"),
        )

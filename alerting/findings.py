"""What a condition says about one dedup key: a :class:`Finding` inside an :class:`Observation`.

Shared by every condition (:mod:`~driftline.alerting.rules`, :mod:`~driftline.alerting.experiment_rules`)
and read by the :class:`~driftline.alerting.engine.AlertEngine`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .payload import FeatureEvidence

__all__ = ["Finding", "Observation", "dedup_key"]


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule matched: what the alert for this dedup key should say. ``action``, when set, is the
    alert's action instead of the rule's (an experiment's verdict names its own: rollback, promote).
    ``decision``, when set, names what fired instead of the window that saw it: the alert id is a
    function of it, so a replay that reaches the same decision in another window (an experiment
    whose late labels landed elsewhere) yields the same id and the delivery log sends it once."""

    severity: str
    features: tuple[FeatureEvidence, ...]
    summary: str
    evidence: Mapping[str, Any]
    action: str | None = None
    decision: str | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """What one rule saw for one dedup key: a :class:`Finding`, or ``None`` when clean."""

    dedup_key: str
    kind: str
    feature: str | None
    finding: Finding | None


def dedup_key(model: str, version: str, kind: str, feature: str | None = None) -> str:
    """``model/version/kind`` or ``model/version/kind/feature``.

    >>> dedup_key("fraud", "v3", "data_quality", "age")
    'fraud/v3/data_quality/age'
    """
    base = f"{model}/{version}/{kind}"
    return base if feature is None else f"{base}/{feature}"

"""Explanation: which drifted features matter most.

It ranks anything shaped like a :class:`~driftline.detectors.results.DriftResult`
(see :class:`DriftOutcome`) and does not import it: ``WindowReport`` orders its
drifted features with :func:`rank_drifted`, so the dependency runs one way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = ["RankedFeature", "DriftOutcome", "exceedance", "rank_drifted"]


class DriftOutcome(Protocol):
    """What ranking reads of a drift test's result (a ``DriftResult`` has it all)."""

    @property
    def feature(self) -> str: ...
    @property
    def statistic(self) -> float: ...
    @property
    def threshold(self) -> float: ...
    @property
    def drifted(self) -> bool: ...
    @property
    def p_value(self) -> float | None: ...
    @property
    def importance(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class RankedFeature:
    """A drifted feature, its score (exceedance x importance) and its worst result."""

    feature: str
    score: float
    exceedance: float
    importance: float
    worst: DriftOutcome


def exceedance(result: DriftOutcome) -> float:
    """How far past its threshold a result is: ``statistic / threshold``, or ``threshold / p`` for p-value tests.

    Both are 1.0 exactly at the threshold, so tests on different scales compare.
    """
    if result.p_value is not None:
        return result.threshold / max(result.p_value, 1e-300)
    return result.statistic / result.threshold if result.threshold else result.statistic


def rank_drifted(results: Iterable[DriftOutcome], importances: Mapping[str, float] | None = None) -> list[RankedFeature]:
    """Drifted features, worst first; one entry per feature (its most severe drifted result).

    With ``importances`` (e.g. model feature importances) the score is exceedance x
    importance (a feature missing from the mapping weighs 0); without, the result's own
    ``importance`` if set, else 1.

    >>> from driftline.detectors import DriftResult
    >>> rs = [DriftResult("a", "psi", 0.3, 0.2, True), DriftResult("b", "psi", 0.9, 0.2, True),
    ...       DriftResult("c", "psi", 0.1, 0.2, False)]
    >>> [r.feature for r in rank_drifted(rs)]
    ['b', 'a']
    >>> [(r.feature, round(r.score, 2)) for r in rank_drifted(rs, {"a": 1.0, "b": 0.1})]
    [('a', 1.5), ('b', 0.45)]
    """
    worst: dict[str, tuple[float, DriftOutcome]] = {}
    for r in results:
        if not r.drifted:
            continue
        s = exceedance(r)
        if r.feature not in worst or s > worst[r.feature][0]:
            worst[r.feature] = (s, r)
    ranked = []
    for feature, (s, r) in worst.items():
        if importances is not None:
            weight = float(importances.get(feature, 0.0))
        else:
            weight = 1.0 if r.importance is None else float(r.importance)
        ranked.append(RankedFeature(feature, s * weight, s, weight, r))
    ranked.sort(key=lambda x: (-x.score, x.feature))
    return ranked

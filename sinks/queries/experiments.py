"""What the status page reads about experiments: each evaluation of each challenger, newest first.

Bounded like every status read: a time range on ``window_start`` (the partition column) and a
LIMIT. ``FINAL``, since a replayed evaluation replaces its row.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..store import Store

__all__ = ["VerdictRecord", "experiment_verdicts"]


@dataclass(frozen=True)
class VerdictRecord:
    """One stored evaluation (``experiment_verdicts``); ``guardrails``/``checks`` are JSON lists."""

    experiment: str
    champion: str
    challenger: str
    window_start_s: int
    window_end_s: int
    verdict: str
    reason: str
    metric: str
    paired: bool
    estimate: float | None
    lower: float | None
    upper: float | None
    champion_value: float | None
    challenger_value: float | None
    n_champion: int
    n_challenger: int
    alpha: float
    action: str
    guardrails: str
    checks: str


def experiment_verdicts(store: Store, model: str, since_s: int, limit: int) -> list[VerdictRecord]:
    """Evaluations of ``model``'s experiments in windows since ``since_s``: the latest ``limit``, oldest first."""
    rows = store.execute(
        "SELECT experiment, champion, challenger, toUnixTimestamp(window_start) AS w, toUnixTimestamp(window_end),"
        " verdict, reason, metric, paired, estimate, lower, upper, champion_value, challenger_value, n_champion,"
        " n_challenger, alpha, action, guardrails, checks FROM experiment_verdicts FINAL"
        " WHERE model = %(m)s AND window_start >= toDateTime(%(since)s)"
        " ORDER BY w DESC, experiment, challenger LIMIT %(n)s", {"m": model, "since": since_s, "n": limit})
    return [VerdictRecord(e, champion, challenger, int(w), int(we), verdict, reason, metric, bool(paired), est, lo, hi,
                          cv, xv, int(na), int(nb), float(alpha), action, guardrails, checks)
            for e, champion, challenger, w, we, verdict, reason, metric, paired, est, lo, hi, cv, xv, na, nb, alpha,
            action, guardrails, checks in reversed(rows)]

"""The alert engine: window reports in, firing/resolved :class:`Alert` objects out.

Pure and deterministic: time is the ``now_ms`` argument, state is a dict per
dedup key that :meth:`AlertEngine.snapshot` / :meth:`AlertEngine.restore` carry
across restarts. Delivery lives in ``driftline.sinks.alerts``.

Per dedup key::

    (no state) --match--> pending --match for for_windows windows--> firing  => emit "firing"
    firing --still matching, cooldown elapsed or severity rose-->      firing  => emit "firing" again
    firing --resolve_after_windows clean windows-->               (no state)   => emit "resolved"

A window that has no data for a key (no labels yet, no drift tests) neither
advances nor resolves it.

>>> from driftline.detectors import DriftResult, WindowReport
>>> from driftline.alerting import DEFAULT_RULES
>>> engine = AlertEngine(DEFAULT_RULES)
>>> drifted = DriftResult("amount", "psi", 0.41, 0.2, True)
>>> report = WindowReport("fraud", "v3", 0, 60_000, 1000, 0, drift=(drifted,))
>>> [(a.status, a.dedup_key, a.severity) for a in engine.evaluate(report, now_ms=60_000)]
[('firing', 'fraud/v3/data_drift', 'warning')]
>>> engine.evaluate(WindowReport("fraud", "v3", 60_000, 120_000, 1000, 0, drift=(drifted,)), now_ms=120_000)
[]
>>> clean = DriftResult("amount", "psi", 0.01, 0.2, False)
>>> [a.status for a in engine.evaluate(WindowReport("fraud", "v3", 120_000, 180_000, 1000, 0,
...     drift=(clean,)), now_ms=180_000)]
['resolved']
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from driftline.detectors.results import WindowReport

from .payload import Alert, alert_id, freeze, thaw
from .rules import DEFAULT_RULES, AlertRule, Finding, Observation, severity_rank

__all__ = ["AlertEngine"]


@dataclass(slots=True)
class _KeyState:
    """Mutable per-dedup-key state (internal; serialised by ``snapshot``)."""

    streaks: dict[str, int] = field(default_factory=dict)  # rule name -> consecutive matching windows
    clean: int = 0  # consecutive windows observed without any match
    sent: Alert | None = None  # last emitted firing alert; None while pending
    last_sent_ms: int = 0
    resolve_after: int = 1
    cooldown_ms: int = 0


class AlertEngine:
    """Turns :class:`WindowReport` objects into alerts, with dedup, cooldown and resolve.

    ``max_keys`` bounds memory: beyond it the least recently observed pending
    keys are dropped first, then the least recently observed firing ones (a
    retired model version that never reports again).
    """

    def __init__(self, rules: Iterable[AlertRule] = DEFAULT_RULES, *,
                 default_cooldown_ms: int = 30 * 60 * 1000, max_keys: int = 10_000) -> None:
        self.rules = tuple(rules)
        if default_cooldown_ms < 0:
            raise ValueError(f"default_cooldown_ms: got {default_cooldown_ms!r}, expected >= 0")
        if max_keys < 1:
            raise ValueError(f"max_keys: got {max_keys!r}, expected >= 1")
        self.default_cooldown_ms = default_cooldown_ms
        self.max_keys = max_keys
        self._order = {rule.name: i for i, rule in enumerate(self.rules)}
        self._states: OrderedDict[str, _KeyState] = OrderedDict()

    def evaluate(self, report: WindowReport, now_ms: int) -> list[Alert]:
        """Observe one closed window; return the alerts to deliver now (possibly none).

        ``report`` may also be an experiment's evaluation or a version's traffic (see
        :mod:`~driftline.alerting.experiment_rules`): anything with the model, version, window,
        counts and metrics of a window report, given to an engine whose rules observe it."""
        seen: dict[str, list[tuple[AlertRule, Observation]]] = {}
        for rule in self.rules:
            for obs in rule.observe(report):
                seen.setdefault(obs.dedup_key, []).append((rule, obs))
        out = []
        for key, observations in seen.items():
            alert = self._step(key, observations, report, now_ms)
            if alert is not None:
                out.append(alert)
        self._enforce_cap()
        return out

    def _step(self, key: str, observations: list[tuple[AlertRule, Observation]],
              report: WindowReport, now_ms: int) -> Alert | None:
        matched = any(obs.finding is not None for _, obs in observations)
        state = self._states.get(key)
        if state is None:
            if not matched:
                return None
            state = self._states[key] = _KeyState()
        self._states.move_to_end(key)
        for rule, obs in observations:
            state.streaks[rule.name] = state.streaks.get(rule.name, 0) + 1 if obs.finding else 0
        state.clean = 0 if matched else state.clean + 1
        ready = [(r, o) for r, o in observations
                 if o.finding is not None and state.streaks[r.name] >= r.for_windows]
        best = max(ready, key=lambda ro: (severity_rank(ro[1].finding.severity), -self._order[ro[0].name]),
                   default=None)
        if state.sent is None:  # pending
            if best is not None:
                return self._fire(key, state, best, report, now_ms, "new")
            if not any(state.streaks.values()):
                del self._states[key]
            return None
        if best is not None:
            risen = severity_rank(best[1].finding.severity) > severity_rank(state.sent.severity)
            if risen or now_ms - state.last_sent_ms >= state.cooldown_ms:
                return self._fire(key, state, best, report, now_ms, "escalation" if risen else "repeat")
            return None
        if not matched and state.clean >= state.resolve_after:
            del self._states[key]
            return self._resolved(state.sent, report, now_ms, state.clean)
        return None

    def _fire(self, key: str, state: _KeyState, best: tuple[AlertRule, Observation],
              report: WindowReport, now_ms: int, reason: str) -> Alert:
        rule, obs = best
        finding: Finding = obs.finding  # type: ignore[assignment]
        evidence = {
            "rule": rule.name,
            "windows_matched": state.streaks[rule.name],
            "for_windows": rule.for_windows,
            "n_predictions": report.n_predictions,
            "n_labels": report.n_labels,
            "metrics": {m.name: m.value for m in report.metrics},
            **finding.evidence,
        }
        alert = Alert(
            alert_id=alert_id(key, "firing", report.window_start_ms, finding.severity, finding.decision),
            dedup_key=key, status="firing", kind=obs.kind, severity=finding.severity,
            action=finding.action or rule.action,
            model=report.model, version=report.version, features=finding.features,
            window_start_ms=report.window_start_ms, window_end_ms=report.window_end_ms,
            summary=finding.summary, ts_ms=now_ms, evidence=freeze(evidence), rule=rule.name, reason=reason,
        )
        state.sent, state.last_sent_ms = alert, now_ms
        state.resolve_after = rule.resolve_after_windows
        state.cooldown_ms = self.default_cooldown_ms if rule.cooldown_ms is None else rule.cooldown_ms
        return alert

    @staticmethod
    def _resolved(sent: Alert, report: WindowReport, now_ms: int, clean: int) -> Alert:
        evidence = dict(thaw(sent.evidence))
        evidence.update(clean_windows=clean, firing_since=sent.window_start_ms,
                        metrics={m.name: m.value for m in report.metrics})
        return Alert(
            alert_id=alert_id(sent.dedup_key, "resolved", report.window_start_ms, sent.severity),
            dedup_key=sent.dedup_key, status="resolved", kind=sent.kind, severity=sent.severity,
            action=sent.action, model=sent.model, version=sent.version, features=sent.features,
            window_start_ms=report.window_start_ms, window_end_ms=report.window_end_ms,
            summary=f"Resolved after {clean} clean window{'s' if clean != 1 else ''}: {sent.summary}",
            ts_ms=now_ms, evidence=freeze(evidence), rule=sent.rule, reason="resolved",
        )

    def _enforce_cap(self) -> None:
        excess = len(self._states) - self.max_keys
        if excess <= 0:
            return
        pending = [k for k, s in self._states.items() if s.sent is None][:excess]
        for key in pending:
            del self._states[key]
        while len(self._states) > self.max_keys:
            self._states.popitem(last=False)

    def active(self) -> list[Alert]:
        """The last firing alert of every key currently firing."""
        return [s.sent for s in self._states.values() if s.sent is not None]

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state; :meth:`restore` on a fresh engine continues identically."""
        return {
            "version": 1,
            "states": [
                {"key": key, "streaks": dict(s.streaks), "clean": s.clean,
                 "sent": None if s.sent is None else s.sent.to_dict(), "last_sent_ms": s.last_sent_ms,
                 "resolve_after": s.resolve_after, "cooldown_ms": s.cooldown_ms}
                for key, s in self._states.items()
            ],
        }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Replace all state with a :meth:`snapshot` (oldest-observed first)."""
        if snapshot.get("version") != 1:
            raise ValueError(f"snapshot.version: got {snapshot.get('version')!r}, expected 1")
        self._states = OrderedDict(
            (d["key"], _KeyState(
                streaks=dict(d["streaks"]), clean=int(d["clean"]),
                sent=None if d["sent"] is None else Alert.from_dict(d["sent"]),
                last_sent_ms=int(d["last_sent_ms"]), resolve_after=int(d["resolve_after"]),
                cooldown_ms=int(d["cooldown_ms"]),
            ))
            for d in snapshot["states"]
        )
        self._enforce_cap()

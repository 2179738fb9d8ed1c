"""Seeded prediction and feedback events for a demo :class:`~driftline.demo.scenario.Scenario`.

No clock and no Kafka: the caller says which slice of event time to fill and how many events.

>>> from driftline.demo.scenario import parse_scenario
>>> s = parse_scenario({"changes": [{"kind": "covariate_shift", "model": "eta", "at": "10m",
...                                  "feature": "distance_km", "scale": 1.8}]})
>>> g = TrafficGenerator(s, start_ms=0)
>>> len(g.predictions(0, 60_000, 100))
100
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from .scenario import CHANNELS, CITIES, COUNTRIES, Change, Scenario

__all__ = ["Feedback", "TrafficGenerator"]


@dataclass(frozen=True, slots=True)
class Feedback:
    due_ms: int
    model: str
    event: dict


class TrafficGenerator:
    """Seeded events for a :class:`Scenario`. Event time is ``start_ms`` + offset.

    :meth:`predictions` returns ``(model, event)`` pairs and queues their labels;
    :meth:`feedback_due` hands back the labels whose delay has elapsed.
    Pending labels are bounded by rate x maximum label delay.
    """

    def __init__(self, scenario: Scenario, *, start_ms: int, run_id: str | None = None) -> None:
        self.scenario = scenario
        self.start_ms = start_ms
        self.run_id = run_id or format(start_ms, "x")
        self.rng = np.random.default_rng(scenario.seed)
        self.counter = 0
        self._pending: list[tuple[int, int, str, dict]] = []
        total = sum(m.share for m in scenario.models.values())
        self.shares = {name: m.share / total for name, m in scenario.models.items()}
        self.ended: dict[str, int] = {}  # change name -> event-time offset it was ended at (a rolled-back canary)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def predictions(self, t0_ms: int, t1_ms: int, n: int) -> list[tuple[str, dict]]:
        """``n`` prediction events (all models) with event times spread over ``[t0_ms, t1_ms)``."""
        names = list(self.shares)
        counts = self.rng.multinomial(n, [self.shares[m] for m in names]) if n else [0] * len(names)
        out: list[tuple[str, dict]] = []
        for model, k in zip(names, counts, strict=True):
            if k:
                ts = np.sort(self.rng.integers(t0_ms, max(t1_ms, t0_ms + 1), size=int(k)))
                out.extend(self._model_events(model, ts))
        out.sort(key=lambda pair: pair[1]["ts"])
        return out

    def feedback_due(self, until_ms: int) -> list[tuple[str, dict]]:
        """Labels whose delay has elapsed by event time ``until_ms``, oldest first."""
        out = []
        while self._pending and self._pending[0][0] <= until_ms:
            due, _, model, event = heapq.heappop(self._pending)
            out.append((model, event))
        return out

    def end_change(self, change: Change, event_time_ms: int) -> None:
        """End ``change`` from ``event_time_ms`` on (the first call counts): the demo's router removing a
        canary that was rolled back."""
        self.ended.setdefault(change.name, event_time_ms - self.start_ms)

    def changes_for(self, model: str, kind: str) -> list[Change]:
        return [c for c in self.scenario.changes if c.model == model and c.kind == kind]

    # -- per-model generation ------------------------------------------------------------------
    def _model_events(self, model: str, ts: np.ndarray) -> list[tuple[str, dict]]:
        offset = ts - self.start_ms
        n = ts.size
        rng = self.rng
        version = np.full(n, "v1", dtype=object)
        noise = np.zeros(n)
        for c in self.changes_for(model, "canary"):
            on = c.active(offset) & (rng.random(n) < c.params["share"])
            if c.name in self.ended:
                on &= offset < self.ended[c.name]
            version[on] = c.params["version"]
            noise[on] = c.params["noise"]
        features, prediction, score, label = (self._credit if model == "credit" else self._eta)(offset, noise)
        for c in self.changes_for(model, "new_category"):
            on = c.active(offset) & (rng.random(n) < c.params["share"])
            features[c.feature][on] = c.params["category"]
        latency = rng.lognormal(math.log(35.0 if model == "eta" else 20.0), 0.45, n)
        for c in self.changes_for(model, "latency_regression"):
            latency = np.where(c.active(offset), latency * c.params["factor"], latency)
        spec = self.scenario.models[model]
        labelled = rng.random(n) < spec.label_share
        delay = rng.integers(spec.label_delay_ms[0], spec.label_delay_ms[1] + 1, size=n)
        out = []
        columns = {name: col.tolist() for name, col in features.items()}
        names = list(columns)
        for i in range(n):
            self.counter += 1
            event_id = f"{model}-{self.run_id}-{self.counter}"
            t = int(ts[i])
            event = {"event_id": event_id, "model": model, "version": version[i], "ts": t,
                     "features": {name: columns[name][i] for name in names},
                     "prediction": prediction[i], "latency_ms": round(float(latency[i]), 2)}
            if score is not None:
                event["score"] = round(float(score[i]), 4)
            out.append((model, event))
            if labelled[i]:
                fb = {"event_id": event_id, "model": model, "ts": t + int(delay[i]), "label": label[i]}
                heapq.heappush(self._pending, (t + int(delay[i]), self.counter, model, fb))
        return out

    def _credit(self, offset: np.ndarray, noise: np.ndarray):
        rng, n = self.rng, offset.size
        income = rng.lognormal(math.log(52_000), 0.35, n)
        age = np.clip(rng.normal(41, 12, n), 18, 85).round()
        debt = rng.beta(2.0, 5.0, n)
        country = rng.choice(np.array(COUNTRIES, dtype=object), n, p=[0.3, 0.2, 0.15, 0.15, 0.1, 0.1])
        channel = rng.choice(np.array(CHANNELS, dtype=object), n, p=[0.45, 0.35, 0.1, 0.1])
        for c in self.changes_for("credit", "covariate_shift"):
            col = {"income": income, "age": age, "debt_ratio": debt}[c.feature]
            on = c.active(offset)
            col[on] = col[on] * c.params["scale"] + c.params["shift"]
        zi = (np.log(income) - math.log(52_000)) / 0.35
        zd = (debt - 2 / 7) / 0.16
        za = (age - 41) / 12
        partner = (channel == "partner").astype(float)
        # What the model learned (and, before any concept drift, how defaults really happen).
        learned = 2.2 * zd - 1.6 * zi - 0.5 * za + 0.8 * partner - 1.0
        truth = learned.copy()
        for c in self.changes_for("credit", "concept_drift"):
            # After the change, income stops protecting and young applicants default more.
            changed = 2.2 * zd + 0.6 * zi - 1.6 * za + 0.8 * partner - 0.6
            s = c.params["strength"]
            truth = np.where(c.active(offset), (1 - s) * truth + s * changed, truth)
        label = (rng.random(n) < 1 / (1 + np.exp(-2.0 * truth))).astype(int)
        logit = 2.0 * learned + rng.normal(0, 0.3, n) + rng.normal(0, 1, n) * 3.0 * noise
        score = 1 / (1 + np.exp(-logit))
        prediction = (score >= 0.5).astype(int)
        features = {"income": income.round(0), "age": age, "debt_ratio": debt.round(4),
                    "country": country, "channel": channel}
        return features, prediction.tolist(), score, label.tolist()

    def _eta(self, offset: np.ndarray, noise: np.ndarray):
        rng, n = self.rng, offset.size
        distance = rng.gamma(2.2, 1.6, n)
        items = (1 + rng.poisson(2.0, n)).astype(float)
        city = rng.choice(np.array(CITIES, dtype=object), n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
        for c in self.changes_for("eta", "covariate_shift"):
            col = {"distance_km": distance, "items": items}[c.feature]
            on = c.active(offset)
            col[on] = col[on] * c.params["scale"] + c.params["shift"]
        city_minutes = np.select([city == "Paris", city == "Milan"], [3.0, 1.5], 0.0)
        expected = 12.0 + 3.1 * distance + 1.2 * items + city_minutes
        actual = np.maximum(3.0, expected + rng.normal(0, 4.0, n))
        for c in self.changes_for("eta", "concept_drift"):
            actual = np.where(c.active(offset), actual + c.params["strength"] * 0.5 * expected, actual)
        predicted = expected + rng.normal(0, 1.0, n) + rng.normal(0, 4.0, n) * noise
        features = {"distance_km": distance.round(2), "items": items, "city": city}
        return features, predicted.round(1).tolist(), None, actual.round(1).tolist()

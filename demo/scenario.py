"""Demo scenario: realistic traffic for two models, with scheduled things going wrong.

A :class:`Scenario` is read once from YAML (``demo/demo-scenario.yaml``) through the
settings layer's loader and :class:`~driftline.settings.Reader`, so every problem is
reported the way a worker config's are: ``key.path: <value> is invalid, expected <what>``. :class:`TrafficGenerator` turns
it into prediction and feedback events with seeded numpy, with no clock and no
Kafka: the caller says which slice of event time to fill and how many events.

The two models:

* ``credit`` (binary classification, will the applicant default?): income,
  age, debt_ratio numeric; country, channel categorical; a score, the label
  arrives with a delay.
* ``eta`` (regression, delivery time in minutes): distance_km, items numeric;
  city categorical; the actual delivery time arrives with a delay.

Scheduled changes (``changes:``), at event-time offsets from the start:
``covariate_shift`` (scale/shift one numeric feature), ``new_category`` (a
categorical feature gets a new value), ``concept_drift`` (the label relation
changes, accuracy drops), ``latency_regression`` (latency multiplied, optionally
``until`` an offset) and ``canary`` (a second version with worse accuracy takes
a share of the traffic).

>>> s = parse_scenario({"changes": [{"kind": "covariate_shift", "model": "eta", "at": "10m",
...                                  "feature": "distance_km", "scale": 1.8}]})
>>> g = TrafficGenerator(s, start_ms=0)
>>> len(g.predictions(0, 60_000, 100))
100
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from driftline.settings import Reader, read_yaml

__all__ = ["CHANGE_KINDS", "MODELS", "Change", "ModelTraffic", "Scenario", "TrafficGenerator",
           "load_scenario", "parse_scenario"]

# The demo models: task and features (the worker's ``features:`` block).
MODELS: dict[str, tuple[str, dict[str, str]]] = {
    "credit": ("binary_classification", {"income": "numeric", "age": "numeric", "debt_ratio": "numeric",
                                         "country": "categorical", "channel": "categorical"}),
    "eta": ("regression", {"distance_km": "numeric", "items": "numeric", "city": "categorical"}),
}
COUNTRIES = ("DE", "FR", "ES", "IT", "NL", "PL")
CHANNELS = ("web", "app", "branch", "partner")
CITIES = ("Berlin", "Paris", "Madrid", "Milan", "Warsaw")

# kind -> (required params, optional params with defaults, needs a feature of this feature kind)
CHANGE_KINDS: dict[str, tuple[tuple[str, ...], dict[str, Any], str | None]] = {
    "covariate_shift": ((), {"scale": 1.0, "shift": 0.0}, "numeric"),
    "new_category": (("category",), {"share": 0.15}, "categorical"),
    "concept_drift": ((), {"strength": 1.0}, None),
    "latency_regression": ((), {"factor": 3.0}, None),
    "canary": (("version",), {"share": 0.2, "noise": 1.6}, None),
}
_COMMON_KEYS = ("name", "kind", "model", "at", "until", "feature")


@dataclass(frozen=True)
class Change:
    """One scheduled change, active on event-time offsets ``[at_ms, until_ms)``."""

    name: str
    kind: str
    model: str
    at_ms: int
    until_ms: int | None = None
    feature: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def active(self, offset_ms: np.ndarray) -> np.ndarray:
        on = offset_ms >= self.at_ms
        return on if self.until_ms is None else on & (offset_ms < self.until_ms)


@dataclass(frozen=True)
class ModelTraffic:
    share: float = 0.5  # of all prediction events
    label_share: float = 0.8  # of predictions that get feedback
    label_delay_ms: tuple[int, int] = (20_000, 90_000)  # uniform, event time


@dataclass(frozen=True)
class Scenario:
    seed: int = 7
    rate: float = 2000.0  # prediction events per wall-clock second, all models
    speed: float = 60.0  # event-time seconds per wall-clock second
    window_ms: int = 60_000
    warmup_events: int = 2000
    models: Mapping[str, ModelTraffic] = field(default_factory=lambda: {m: ModelTraffic() for m in MODELS})
    changes: tuple[Change, ...] = ()


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file. Raises :class:`~driftline.settings.ConfigError` listing every problem."""
    raw = read_yaml(path)
    return parse_scenario(raw if raw is not None else {})


def parse_scenario(raw: Any) -> Scenario:
    r = Reader()
    root = r.mapping(raw, "", keys=("seed", "rate", "speed", "window", "warmup_events", "models", "changes"))
    seed = r.integer(root, "seed", "", 7, low=0)
    rate = r.number(root, "rate", "", 2000.0, low=1.0, high=1_000_000.0)
    speed = r.number(root, "speed", "", 60.0, low=0.01, high=100_000.0)
    window_ms = r.duration_ms(root, "window", "", 60_000, low=1000)
    warmup = r.integer(root, "warmup_events", "", 2000, low=10, high=1_000_000)
    models_raw = r.mapping(root.get("models", {m: {} for m in MODELS}), "models")
    models: dict[str, ModelTraffic] = {}
    for name, m in models_raw.items():
        path = f"models.{name}"
        if name not in MODELS:
            r.problem(path, name, "a demo model: " + ", ".join(MODELS))
            continue
        m = r.mapping(m, path, keys=("share", "label_share", "label_delay"))
        delay = m.get("label_delay", ["20s", "90s"])
        low_high = (20_000, 90_000)
        if not isinstance(delay, list) or len(delay) != 2:
            r.problem(f"{path}.label_delay", delay, "[min, max] durations such as [20s, 90s]")
        else:
            low_high = (r.duration_ms({"v": delay[0]}, "v", f"{path}.label_delay[0]", 0),
                        r.duration_ms({"v": delay[1]}, "v", f"{path}.label_delay[1]", 0))
            if low_high[0] > low_high[1]:
                r.problem(f"{path}.label_delay", delay, "min <= max")
        models[name] = ModelTraffic(r.number(m, "share", path, 0.5, low=0.0, high=1.0),
                                    r.number(m, "label_share", path, 0.8, low=0.0, high=1.0), low_high)
    if not models:
        r.problem("models", dict(models_raw), "at least one of: " + ", ".join(MODELS))
    elif sum(m.share for m in models.values()) <= 0:
        r.problem("models", {k: v.share for k, v in models.items()}, "shares that add up to more than 0")
    parsed = [_change(r, c, where, models) for where, c in r.items(root, "changes", "")]
    changes = tuple(c for c in parsed if c is not None)
    r.raise_if_problems()
    return Scenario(seed, rate, speed, window_ms, warmup, models, changes)


def _change(r: Reader, raw: Any, path: str, models: Mapping[str, ModelTraffic]) -> Change | None:
    if not isinstance(raw, Mapping) or not raw:
        r.problem(path, raw, "a mapping with kind, model and at")
        return None
    kind = raw.get("kind")
    if kind not in CHANGE_KINDS:
        r.problem(f"{path}.kind", kind, "one of: " + ", ".join(CHANGE_KINDS))
        return None
    required, optional, feature_kind = CHANGE_KINDS[kind]
    c = r.mapping(raw, path, keys=_COMMON_KEYS + required + tuple(optional))
    model = c.get("model")
    if model not in models:
        r.problem(f"{path}.model", model, "a model of this scenario: " + ", ".join(models))
        return None
    at_ms = r.duration_ms(c, "at", path, 0)
    if "at" not in c:
        r.problem(f"{path}.at", None, "an event-time offset such as 10m")
    until_ms = r.duration_ms(c, "until", path, None)
    if until_ms is not None and until_ms <= at_ms:
        r.problem(f"{path}.until", c.get("until"), f"an offset after at ({c.get('at')})")
    feature = c.get("feature")
    features = MODELS[model][1]
    if feature_kind is not None:
        valid = [f for f, k in features.items() if k == feature_kind]
        if feature not in valid:
            r.problem(f"{path}.feature", feature, f"a {feature_kind} feature of {model}: " + ", ".join(valid))
    elif feature is not None:
        r.problem(f"{path}.feature", feature, f"no feature for kind {kind}")
    params: dict[str, Any] = {}
    for key in required:
        if c.get(key) in (None, ""):
            r.problem(f"{path}.{key}", c.get(key), f"a value (required for kind {kind})")
        params[key] = str(c.get(key, ""))
    for key, default in optional.items():
        low, high = {"share": (0.0, 1.0)}.get(key, (-1e12, 1e12))
        if key in ("factor", "scale", "noise"):
            low = 0.0
        params[key] = r.number(c, key, path, default, low=low, high=high)
    if kind == "canary" and params["version"] == "v1":
        r.problem(f"{path}.version", "v1", "a version other than v1 (v1 is the stable one)")
    name = r.string(c, "name", path, None) or f"{kind.replace('_', ' ')} on {model}"
    return Change(name, kind, model, at_ms, until_ms, feature, params)


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

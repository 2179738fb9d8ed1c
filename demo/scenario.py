"""Demo scenario: realistic traffic for two models, with scheduled things going wrong.

A :class:`Scenario` is read once from YAML (``demo/demo-scenario.yaml``) through the
settings layer's loader and :class:`~driftline.settings.Reader`, so every problem is
reported the way a worker config's are: ``key.path: <value> is invalid, expected <what>``. :class:`~driftline.demo.traffic.TrafficGenerator` turns
it into events.

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
>>> [(c.kind, c.model, c.at_ms) for c in s.changes]
[('covariate_shift', 'eta', 600000)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from driftline.settings import Reader, read_yaml

__all__ = ["CHANGE_KINDS", "MODELS", "Change", "ModelTraffic", "Scenario",
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

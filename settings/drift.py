"""A model's ``drift:`` block, read into the detectors' own :class:`~driftline.detectors.DriftSettings`.

Test names, thresholds and test parameters are checked by the detectors themselves
(their ``DetectorConfigError`` names the parameter); a problem is reported under its key path.

>>> from driftline.settings.reader import Reader
>>> r = Reader()
>>> s = parse_drift(r, {"numeric": [{"type": "psi", "threshold": 0.1}, "ks"], "persistence": {"k": 2, "n": 3}},
...                 "models[0].drift")
>>> [t.type for t in s.numeric], s.persistence
(['psi', 'ks'], (2, 3))
>>> s = parse_drift(r, {"numeric": [{"type": "wasserstein", "threshold": "auto"}],
...                     "target": {"false_alarms": 1, "per_windows": 500}}, "models[0].drift")
>>> s.numeric[0].auto, s.target_rate
(True, 0.002)
>>> parse_drift(r, {"accumulate": 3, "correction": "bh"}, "models[0].drift").accumulate
3
>>> _ = parse_drift(r, {"numeric": [{"type": "ks", "threshold": 1.5}]}, "models[0].drift")
>>> print(r.problems[0])
models[0].drift.numeric[0].threshold: 1.5 is invalid, expected a number in (0.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from driftline.detectors.settings import (
    AUTO,
    CATEGORICAL_TESTS,
    COMBINATIONS,
    CORRECTIONS,
    MAX_ACCUMULATE,
    MAX_PERIOD,
    MAX_PERSISTENCE,
    NUMERIC_TESTS,
    DriftSettings,
    TestSpec,
)

from .env import plain
from .reader import Reader, join

__all__ = ["parse_drift"]

_KEYS = ("numeric", "categorical", "correction", "persistence", "importances", "target", "baselines", "accumulate",
         "combine")
_TEST_KEYS = ("type", "threshold", "params")


def parse_drift(r: Reader, raw: Any, path: str) -> DriftSettings:
    d = r.mapping(raw, path, keys=_KEYS)
    defaults = DriftSettings()
    numeric = _specs(r, d, "numeric", path, NUMERIC_TESTS, defaults.numeric)
    categorical = _specs(r, d, "categorical", path, CATEGORICAL_TESTS, defaults.categorical)
    correction = r.string(d, "correction", path, defaults.correction, choices=CORRECTIONS)
    persistence = _persistence(r, d.get("persistence"), join(path, "persistence"), defaults.persistence)
    importances = {}
    for name, weight in r.section(d, "importances", path).items():
        importances[str(name)] = r.number({name: weight}, name, join(path, "importances"), 1.0, low=0.0)
    target = _target(r, d.get("target"), join(path, "target"), defaults.target)
    b = r.mapping(d.get("baselines") or {}, join(path, "baselines"), keys=("previous", "period"))
    baselines = (r.integer(b, "previous", join(path, "baselines"), 0, low=0, high=MAX_PERIOD),
                 r.integer(b, "period", join(path, "baselines"), 0, low=0, high=MAX_PERIOD))
    accumulate = r.integer(d, "accumulate", path, None, low=1, high=MAX_ACCUMULATE)  # None: by persistence
    combine = r.string(d, "combine", path, defaults.combine, choices=COMBINATIONS)
    built = r.detector(path, lambda: DriftSettings(numeric, categorical, correction, persistence, importances,
                                                   target, baselines, accumulate, combine))
    return built or defaults


def _target(r: Reader, raw: Any, path: str, default: tuple[float, int]) -> tuple[float, int]:
    """``{false_alarms: 1, per_windows: 1000}``: what ``threshold: auto`` aims at, per model."""
    if raw is None:
        return default
    t = r.mapping(raw, path, keys=("false_alarms", "per_windows"))
    per_windows = r.integer(t, "per_windows", path, default[1], low=2, high=10**9)
    false_alarms = r.number(t, "false_alarms", path, default[0], low=0.0)
    if not 0 < false_alarms <= per_windows / 2:
        r.problem(join(path, "false_alarms"), false_alarms, f"a number in (0, per_windows / 2 = {per_windows / 2:g}]")
        return default
    return (false_alarms, per_windows)


def _specs(r: Reader, d: Mapping[str, Any], key: str, path: str, allowed: Sequence[str],
           default: tuple[TestSpec, ...]) -> tuple[TestSpec, ...]:
    if key not in d:
        return default
    specs = []
    for where, item in r.items(d, key, path):
        if isinstance(item, str):
            item = {"type": item}
        if not isinstance(item, Mapping) or "type" not in item:
            r.problem(where, item, "a test name or a mapping with type, threshold, params")
            continue
        item = r.mapping(item, where, keys=_TEST_KEYS)
        kind = r.string(item, "type", where, None, choices=allowed)
        auto = item.get("threshold") == AUTO
        threshold = AUTO if auto else r.number(item, "threshold", where, None)
        params = plain(dict(r.section(item, "params", where)))
        if kind is None or (threshold is None and item.get("threshold") is not None):
            continue
        spec = r.detector(where, lambda k=kind, t=threshold, p=params: TestSpec(k, t, p), params)
        if spec is not None:
            specs.append(spec)
    return tuple(specs)


def _persistence(r: Reader, raw: Any, path: str, default: tuple[int, int]) -> tuple[int, int]:
    """``[k, n]`` or ``{k: 2, n: 3}``: drift must hold in k of the last n windows."""
    if raw is None:
        return default
    kn = raw
    if isinstance(raw, Mapping):
        kn = [raw.get("k"), raw.get("n")] if set(raw) <= {"k", "n"} else None
    ok = isinstance(kn, list) and len(kn) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in kn)
    if not ok or not 1 <= kn[0] <= kn[1] <= MAX_PERSISTENCE:
        r.problem(path, raw, f"[k, n] with 1 <= k <= n <= {MAX_PERSISTENCE}")
        return default
    return (kn[0], kn[1])

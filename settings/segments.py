"""A model's ``segments:`` and ``fairness:`` blocks.

``segments.keys`` names the keys to monitor: from the event's ``segment`` object (the
default) or from a categorical or boolean feature (``source: feature``). Each key tracks
at most ``max_values`` values (default 50; the rest fold into ``__other__``).
``combinations`` lists keys monitored together (``[country, device]`` is the key
``country+device``, its values ``DE+mobile``). ``drift`` runs the model's drift tests on
chosen features per group, against the global reference or each group's own warm-up.

``fairness.keys`` names the sensitive keys (segment keys or combinations) whose groups
are compared; thresholds, minimum group size and confidence are
:class:`~driftline.detectors.FairnessThresholds`.

>>> from driftline.settings.reader import Reader
>>> r = Reader()
>>> s = parse_segments(r, {"keys": ["country", {"name": "device", "source": "feature"}],
...                        "combinations": [["country", "device"]]}, "models[0].segments",
...                    {"device": "categorical"})
>>> [(k.name, k.source, k.max_values) for k in s.keys], s.combinations, r.problems
([('country', 'segment', 50), ('device', 'feature', 50)], (('country', 'device'),), [])
>>> f = parse_fairness(r, {"keys": ["country"], "thresholds": {"demographic_parity_ratio": 0.9}},
...                    "models[0].fairness", s)
>>> f.keys, f.thresholds.threshold("demographic_parity_ratio"), f.thresholds.min_group_size
(('country',), 0.9, 30)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from driftline.detectors import FairnessThresholds
from driftline.detectors.fairness import MEASURES

from .reader import Reader, join

__all__ = ["SOURCES", "FairnessSettings", "SegmentDriftSettings", "SegmentKey", "SegmentSettings",
           "combination_name", "parse_fairness", "parse_segments"]

SOURCES = ("segment", "feature")
REFERENCES = ("global", "segment")
MAX_KEYS = 20
MAX_VALUES = 10_000


def combination_name(keys: tuple[str, ...]) -> str:
    """``("country", "device")`` -> ``country+device``."""
    return "+".join(keys)


@dataclass(frozen=True)
class SegmentKey:
    name: str
    source: str = "segment"  # the event's segment object, or a feature of the same name
    max_values: int = 50


@dataclass(frozen=True)
class SegmentDriftSettings:
    """Drift per group of ``features``, against the ``global`` reference or each group's own
    first ``reference_events`` rows (``segment``); a group with fewer than ``min_rows`` rows in a
    window is not tested (drift statistics of a few dozen rows are noise)."""

    features: tuple[str, ...]
    reference: str = "global"
    reference_events: int = 1000
    min_rows: int = 100


@dataclass(frozen=True)
class SegmentSettings:
    keys: tuple[SegmentKey, ...]
    combinations: tuple[tuple[str, ...], ...] = ()
    drift: SegmentDriftSettings | None = None

    def names(self) -> tuple[str, ...]:
        """Every monitored key: the keys, then the combinations."""
        return tuple(k.name for k in self.keys) + tuple(combination_name(c) for c in self.combinations)

    def max_values(self, name: str) -> int:
        """A key's own cap; a combination's is the largest of its keys'."""
        caps = {k.name: k.max_values for k in self.keys}
        return caps.get(name) or max(caps[part] for part in name.split("+"))


@dataclass(frozen=True)
class FairnessSettings:
    keys: tuple[str, ...]
    thresholds: FairnessThresholds = field(default_factory=FairnessThresholds)


def parse_segments(r: Reader, raw: Any, path: str, features: Mapping[str, str]) -> SegmentSettings | None:
    if raw is None:
        return None
    m = r.mapping(raw, path, keys=("keys", "max_values", "combinations", "drift"))
    default_cap = r.integer(m, "max_values", path, 50, low=1, high=MAX_VALUES)
    keys: list[SegmentKey] = []
    for where, item in r.items(m, "keys", path):
        key = _key(r, item, where, default_cap, features)
        if key is not None:
            if any(k.name == key.name for k in keys):
                r.problem(join(where, "name"), key.name, "a key no other entry names")
            keys.append(key)
    if not keys:
        r.problem(join(path, "keys"), m.get("keys"), "a list of at least one segment key")
    if len(keys) > MAX_KEYS:
        r.problem(join(path, "keys"), [k.name for k in keys], f"at most {MAX_KEYS} keys")
    names = {k.name for k in keys}
    combinations = []
    for where, item in r.items(m, "combinations", path):
        if not (isinstance(item, list) and len(item) >= 2 and all(v in names for v in item)
                and len(set(item)) == len(item)):
            r.problem(where, item, "a list of at least two distinct names from segments.keys")
            continue
        combinations.append(tuple(str(v) for v in item))
    return SegmentSettings(tuple(keys), tuple(combinations), _drift(r, m.get("drift"), join(path, "drift"), features))


def _key(r: Reader, item: Any, where: str, default_cap: int, features: Mapping[str, str]) -> SegmentKey | None:
    if isinstance(item, str) and item:
        item = {"name": item}
    k = r.mapping(item, where, keys=("name", "source", "max_values"))
    name = r.string(k, "name", where, required=True)
    source = r.string(k, "source", where, "segment", choices=SOURCES) or "segment"
    cap = r.integer(k, "max_values", where, default_cap, low=1, high=MAX_VALUES)
    if name is None:
        return None
    if "+" in name:
        r.problem(join(where, "name"), name, "a name without '+' (it joins the keys of a combination)")
    if source == "feature" and features.get(name) not in ("categorical", "boolean"):
        r.problem(join(where, "name"), name, "the name of a categorical or boolean feature of this model")
    return SegmentKey(name, source, cap)


def _drift(r: Reader, raw: Any, path: str, features: Mapping[str, str]) -> SegmentDriftSettings | None:
    if raw is None:
        return None
    d = r.mapping(raw, path, keys=("features", "reference", "reference_events", "min_rows"))
    chosen = r.strings(d, "features", path, choices=tuple(features)) or ()
    if not chosen:
        r.problem(join(path, "features"), d.get("features"), "a list of at least one feature of this model")
    return SegmentDriftSettings(
        chosen, r.string(d, "reference", path, "global", choices=REFERENCES) or "global",
        r.integer(d, "reference_events", path, 1000, low=10, high=1_000_000),
        r.integer(d, "min_rows", path, 100, low=1))


def parse_fairness(r: Reader, raw: Any, path: str, segments: SegmentSettings | None) -> FairnessSettings | None:
    if raw is None:
        return None
    f = r.mapping(raw, path, keys=("keys", "thresholds", "min_group_size", "confidence"))
    known = segments.names() if segments is not None else ()
    keys = r.strings(f, "keys", path) or ()
    if not keys or any(k not in known for k in keys):
        r.problem(join(path, "keys"), f.get("keys"),
                  "a list of keys monitored under segments: " + (", ".join(known) or "(none configured)"))
    where = join(path, "thresholds")
    given = r.mapping(f.get("thresholds"), where, keys=tuple(MEASURES))
    thresholds: dict[str, float | None] = {m: t for m, (_, t) in MEASURES.items()}
    for measure in given:
        if measure in MEASURES:
            thresholds[measure] = None if given[measure] is None else r.number(given, measure, where, thresholds[measure],
                                                                               low=0.0)
    built = r.detector(path, lambda: FairnessThresholds(
        thresholds, r.integer(f, "min_group_size", path, 30, low=1),
        r.number(f, "confidence", path, 0.95, low=0.5, high=0.999999)))
    return FairnessSettings(tuple(keys), built or FairnessThresholds())

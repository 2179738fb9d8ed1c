"""Validated, frozen drift settings for one model (the ``drift:`` block of the YAML)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .drift_tests import DRIFT_TESTS, DriftTest
from .errors import DetectorConfigError

__all__ = ["CORRECTIONS", "DriftSettings", "TestSpec"]

CORRECTIONS = ("bh", "bonferroni", "none")
NUMERIC_TESTS = tuple(sorted(n for n, t in DRIFT_TESTS.items() if "numeric" in t.kinds))
CATEGORICAL_TESTS = tuple(sorted(n for n, t in DRIFT_TESTS.items() if "categorical" in t.kinds))
_KEYS = ("categorical", "correction", "importances", "numeric", "persistence")


@dataclass(frozen=True)
class TestSpec:
    """One drift test to run: its ``type`` (see ``DRIFT_TESTS``), threshold (``None`` = default) and extra params.

    >>> TestSpec("psi", 0.1).build()
    PopulationStabilityIndex(threshold=0.1)
    >>> TestSpec("ks").build().threshold
    0.05
    """

    __test__ = False  # not a pytest test class despite the name

    type: str
    threshold: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate("")

    def validate(self, path: str, allowed: Sequence[str] = tuple(DRIFT_TESTS)) -> None:
        """Raise :class:`DetectorConfigError` prefixed with the key ``path`` if the spec is invalid."""
        dot = f"{path}." if path else ""
        if self.type not in allowed:
            raise DetectorConfigError(
                f"{dot}type: {self.type!r} is not a known test (expected one of: {', '.join(sorted(allowed))})"
            )
        cls = DRIFT_TESTS[self.type]
        try:
            cls(self.threshold)
        except DetectorConfigError as exc:
            raise DetectorConfigError(f"{dot}{exc}") from exc
        if not isinstance(self.params, Mapping):
            raise DetectorConfigError(f"{dot}params: {self.params!r} is not a mapping")
        accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "threshold")]
        for key in self.params:
            if key not in accepted:
                raise DetectorConfigError(
                    f"{dot}params: {key!r} is not a parameter of {self.type} (expected one of: {', '.join(accepted) or 'none'})"
                )
        try:
            cls(self.threshold, **self.params)
        except DetectorConfigError as exc:
            raise DetectorConfigError(f"{dot}params.{exc}") from exc

    def build(self) -> DriftTest:
        """A fresh test instance."""
        return DRIFT_TESTS[self.type](self.threshold, **self.params)


@dataclass(frozen=True)
class DriftSettings:
    """Which tests to run per feature kind, the multiple-testing correction and k-of-n persistence.

    >>> s = DriftSettings.from_dict({"numeric": [{"type": "psi", "threshold": 0.2}, "ks"],
    ...                              "categorical": [{"type": "chi2", "threshold": 0.01}],
    ...                              "persistence": [2, 3]})
    >>> [t.type for t in s.numeric], s.correction, s.persistence
    (['psi', 'ks'], 'bh', (2, 3))
    >>> DriftSettings.from_dict({"numeric": [{"type": "foo"}]}, path="models[0].drift")
    Traceback (most recent call last):
    ...
    driftline.detectors.errors.DetectorConfigError: models[0].drift.numeric[0].type: 'foo' is not a known test (expected one of: hellinger, jensen_shannon, ks, psi, wasserstein)
    """

    numeric: tuple[TestSpec, ...] = (TestSpec("psi", 0.2),)
    categorical: tuple[TestSpec, ...] = (TestSpec("chi2", 0.01),)
    correction: str = "bh"
    persistence: tuple[int, int] = (1, 1)
    importances: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._validate("drift")

    def _validate(self, path: str) -> None:
        for key, allowed in (("numeric", NUMERIC_TESTS), ("categorical", CATEGORICAL_TESTS)):
            specs = getattr(self, key)
            if not isinstance(specs, tuple):
                raise DetectorConfigError(f"{path}.{key}: {specs!r} is not a list of tests")
            for i, spec in enumerate(specs):
                if not isinstance(spec, TestSpec):
                    raise DetectorConfigError(f"{path}.{key}[{i}]: {spec!r} is not a test spec")
                spec.validate(f"{path}.{key}[{i}]", allowed)
        if self.correction not in CORRECTIONS:
            raise DetectorConfigError(
                f"{path}.correction: {self.correction!r} is not a known correction (expected one of: {', '.join(CORRECTIONS)})"
            )
        p = self.persistence
        if (
            not isinstance(p, tuple) or len(p) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in p)
            or not 1 <= p[0] <= p[1] <= 1000
        ):
            raise DetectorConfigError(f"{path}.persistence: {p!r} is invalid (expected [k, n] with 1 <= k <= n <= 1000)")
        for name, w in self.importances.items():
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0:
                raise DetectorConfigError(f"{path}.importances.{name}: {w!r} is invalid (expected a number >= 0)")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, path: str = "drift") -> DriftSettings:
        """Build from a parsed YAML mapping; errors name the key path, the bad value and what was expected."""
        d = {} if d is None else d
        if not isinstance(d, Mapping):
            raise DetectorConfigError(f"{path}: {d!r} is not a mapping (expected keys: {', '.join(_KEYS)})")
        for key in d:
            if key not in _KEYS:
                raise DetectorConfigError(f"{path}: unknown key {key!r} (expected one of: {', '.join(_KEYS)})")
        kwargs: dict[str, Any] = {}
        for key in ("numeric", "categorical"):
            if key in d:
                allowed = NUMERIC_TESTS if key == "numeric" else CATEGORICAL_TESTS
                kwargs[key] = _specs(d[key], f"{path}.{key}", allowed)
        if "correction" in d:
            kwargs["correction"] = d["correction"]
        if "persistence" in d:
            p = d["persistence"]
            kwargs["persistence"] = (p.get("k"), p.get("n")) if isinstance(p, Mapping) else tuple(p) if isinstance(p, Sequence) and not isinstance(p, str) else p
        if "importances" in d:
            if not isinstance(d["importances"], Mapping):
                raise DetectorConfigError(f"{path}.importances: {d['importances']!r} is not a mapping of feature -> weight")
            kwargs["importances"] = dict(d["importances"])
        try:
            return cls(**kwargs)
        except DetectorConfigError as exc:
            msg = str(exc)
            raise DetectorConfigError(path + msg[len("drift"):] if msg.startswith("drift") else msg) from exc


def _specs(items: Any, path: str, allowed: Sequence[str]) -> tuple[TestSpec, ...]:
    if isinstance(items, (str, Mapping)) or not isinstance(items, Sequence):
        raise DetectorConfigError(f"{path}: {items!r} is not a list of tests")
    specs = []
    for i, item in enumerate(items):
        here = f"{path}[{i}]"
        if isinstance(item, str):
            item = {"type": item}
        if not isinstance(item, Mapping) or "type" not in item:
            raise DetectorConfigError(f"{here}: {item!r} is not a test (expected a name or a mapping with 'type')")
        extra = set(item) - {"type", "threshold", "params"}
        if extra:
            raise DetectorConfigError(f"{here}: unknown key {sorted(extra)[0]!r} (expected one of: params, threshold, type)")
        if item["type"] not in allowed:
            raise DetectorConfigError(
                f"{here}.type: {item['type']!r} is not a known test (expected one of: {', '.join(allowed)})"
            )
        try:
            specs.append(TestSpec(item["type"], item.get("threshold"), dict(item.get("params") or {})))
        except DetectorConfigError as exc:
            raise DetectorConfigError(f"{here}.{exc}") from exc
    return tuple(specs)

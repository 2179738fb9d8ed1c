"""Validated, frozen drift settings for one model: which tests, which correction, what persistence.

These are the detectors' own hyperparameters. Reading them from the YAML ``drift:`` block is
the settings layer's job (:mod:`driftline.settings`); here they are checked on construction,
and a :class:`DetectorConfigError` carries the offending ``key`` relative to the object
(``numeric[1].threshold``), its ``value`` and what was ``expected``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .correction import COMBINATIONS, CORRECTIONS
from .drift_registry import DRIFT_TESTS, DriftTest
from .errors import DetectorConfigError

__all__ = ["AUTO", "CATEGORICAL_TESTS", "COMBINATIONS", "CORRECTIONS", "NUMERIC_TESTS", "DriftSettings", "TestSpec"]

NUMERIC_TESTS = tuple(sorted(n for n, t in DRIFT_TESTS.items() if "numeric" in t.kinds))
CATEGORICAL_TESTS = tuple(sorted(n for n, t in DRIFT_TESTS.items() if "categorical" in t.kinds))
MAX_PERSISTENCE = 1000
MAX_PERIOD = 2016  # rolling baselines: a week of 5-minute windows
MAX_ACCUMULATE = 12  # windows merged: each is a sketch kept in the suite


def _fail(key: str, value: object, phrase: str, expected: str) -> DetectorConfigError:
    return DetectorConfigError(f"{key}: {value!r} {phrase} (expected {expected})",
                               key=key, value=value, expected=expected)


def _under(prefix: str, exc: DetectorConfigError) -> DetectorConfigError:
    """The same error one level down: ``threshold`` -> ``numeric[0].threshold``."""
    key = f"{prefix}.{exc.key}" if exc.key else prefix
    return DetectorConfigError(f"{prefix}.{exc}", key=key, value=exc.value, expected=exc.expected)


AUTO = "auto"


@dataclass(frozen=True)
class TestSpec:
    """One drift test to run: its ``type`` (see ``DRIFT_TESTS``), threshold (``None`` = default) and extra params.

    ``threshold="auto"`` calibrates the test on the reference (:mod:`~driftline.detectors.calibration`):
    its statistic becomes a p-value, held to the alpha the model's ``target`` false-alarm rate gives.

    >>> TestSpec("psi", 0.1).build()
    PopulationStabilityIndex(threshold=0.1)
    >>> TestSpec("ks").build().threshold
    0.05
    >>> TestSpec("wasserstein", "auto").auto
    True
    >>> TestSpec("psi", params={"bin": 3})
    Traceback (most recent call last):
    ...
    driftline.detectors.errors.DetectorConfigError: params.bin: 3 is not a parameter of psi (expected one of: eps, bins, pseudo_count)
    """

    __test__ = False  # not a pytest test class despite the name

    type: str
    threshold: float | str | None = None
    params: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self, allowed: Sequence[str] = tuple(DRIFT_TESTS)) -> None:
        """Raise :class:`DetectorConfigError` (``key`` relative to this spec) if the spec is invalid."""
        if self.type not in allowed:
            raise _fail("type", self.type, "is not a known test", "one of: " + ", ".join(sorted(allowed)))
        cls = DRIFT_TESTS[self.type]
        if isinstance(self.threshold, str) and self.threshold != AUTO:
            raise _fail("threshold", self.threshold, "is not a threshold", f"a number or {AUTO!r}")
        cls(self.built_threshold)  # raises naming ``threshold``
        if not isinstance(self.params, Mapping):
            raise _fail("params", self.params, "is not a mapping", "a mapping of parameter -> value")
        accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "threshold")]
        for key, value in self.params.items():
            if key not in accepted:
                raise _fail(f"params.{key}", value, f"is not a parameter of {self.type}",
                            "one of: " + (", ".join(accepted) or "none"))
        try:
            cls(self.built_threshold, **self.params)
        except DetectorConfigError as exc:
            raise _under("params", exc) from exc

    @property
    def auto(self) -> bool:
        """True for ``threshold: auto`` (calibrated on the reference)."""
        return self.threshold == AUTO

    @property
    def built_threshold(self) -> float | None:
        return None if self.auto else self.threshold

    def build(self) -> DriftTest:
        """A fresh test instance (an ``auto`` test carries its default threshold, which the suite replaces)."""
        return DRIFT_TESTS[self.type](self.built_threshold, **self.params)


@dataclass(frozen=True)
class DriftSettings:
    """Which tests to run per feature kind, the multiple-testing correction and k-of-n persistence.

    >>> s = DriftSettings(numeric=(TestSpec("psi", 0.2), TestSpec("ks")), persistence=(2, 3))
    >>> [t.type for t in s.numeric], s.correction, s.persistence, s.accumulate, DriftSettings().accumulate
    (['psi', 'ks'], 'holm', (2, 3), 1, 2)
    >>> DriftSettings(categorical=(TestSpec("ks"),))
    Traceback (most recent call last):
    ...
    driftline.detectors.errors.DetectorConfigError: categorical[0].type: 'ks' is not a known test (expected one of: chi2, hellinger, jensen_shannon, l_infinity, psi, unseen_share)
    """

    # Calibrated (``threshold: auto``) by default: see docs/detection-quality.md for the measured rates.
    numeric: tuple[TestSpec, ...] = (TestSpec("wasserstein", AUTO), TestSpec("ranks", AUTO), TestSpec("moments", AUTO))
    categorical: tuple[TestSpec, ...] = (TestSpec("chi2", AUTO),)
    correction: str = "holm"
    persistence: tuple[int, int] = (1, 1)
    importances: Mapping[str, float] = field(default_factory=dict)
    # ``threshold: auto`` tests: at most ``target[0]`` false alarms per ``target[1]`` windows of the model.
    target: tuple[float, int] = (1.0, 200)
    # Rolling baselines beside the reference, in windows: (previous k, period); 0 = off.
    baselines: tuple[int, int] = (0, 0)
    # p-valued tests also judge the merge of the last ``accumulate`` windows (1 = off). None: 2,
    # or 1 with a persistence of k > 1 (persistence is already a rule across windows, and
    # ``alpha_for`` counts its windows as independent, which merged windows are not).
    accumulate: int | None = None
    # How the calibrated (``auto``) tests of one feature become one p-value before the correction:
    # ``cauchy`` (their Cauchy combination: one hypothesis per feature) or ``none`` (each test its own).
    combine: str = "cauchy"

    @property
    def target_rate(self) -> float:
        """False alarms per window per model that ``auto`` thresholds aim at."""
        return self.target[0] / self.target[1]

    def __post_init__(self) -> None:
        for key, allowed in (("numeric", NUMERIC_TESTS), ("categorical", CATEGORICAL_TESTS)):
            specs = getattr(self, key)
            if not isinstance(specs, tuple):
                raise _fail(key, specs, "is not a tuple of tests", "a tuple of TestSpec")
            for i, spec in enumerate(specs):
                if not isinstance(spec, TestSpec):
                    raise _fail(f"{key}[{i}]", spec, "is not a test spec", "a TestSpec")
                try:
                    spec.validate(allowed)
                except DetectorConfigError as exc:
                    raise _under(f"{key}[{i}]", exc) from exc
        if self.combine not in COMBINATIONS:
            raise _fail("combine", self.combine, "is not a known combination", "one of: " + ", ".join(COMBINATIONS))
        if self.correction not in CORRECTIONS:
            raise _fail("correction", self.correction, "is not a known correction", "one of: " + ", ".join(CORRECTIONS))
        p = self.persistence
        if (
            not isinstance(p, tuple) or len(p) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in p)
            or not 1 <= p[0] <= p[1] <= MAX_PERSISTENCE
        ):
            raise _fail("persistence", p, "is invalid", f"[k, n] with 1 <= k <= n <= {MAX_PERSISTENCE}")
        t = self.target
        if (
            not isinstance(t, tuple) or len(t) != 2 or isinstance(t[0], bool) or not isinstance(t[0], int | float)
            or isinstance(t[1], bool) or not isinstance(t[1], int) or not 0 < t[0] <= t[1] / 2 or t[1] > 10**9
        ):
            raise _fail("target", t, "is invalid",
                        "{false_alarms: f, per_windows: w} with 0 < f <= w / 2 and w <= 1e9")
        b = self.baselines
        if (not isinstance(b, tuple) or len(b) != 2
                or any(isinstance(x, bool) or not isinstance(x, int) or not 0 <= x <= MAX_PERIOD for x in b)):
            raise _fail("baselines", b, "is invalid",
                        f"{{previous: k, period: p}} with 0 <= k, p <= {MAX_PERIOD} windows")
        if self.accumulate is None:
            object.__setattr__(self, "accumulate", 2 if p[0] == 1 else 1)
        a = self.accumulate
        if isinstance(a, bool) or not isinstance(a, int) or not 1 <= a <= MAX_ACCUMULATE:
            raise _fail("accumulate", a, "is invalid", f"an integer in [1, {MAX_ACCUMULATE}] (windows; 1 = off)")
        for name, w in self.importances.items():
            if isinstance(w, bool) or not isinstance(w, int | float) or not w >= 0:
                raise _fail(f"importances.{name}", w, "is invalid", "a number >= 0")

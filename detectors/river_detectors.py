"""river change detectors fed from numpy arrays: concept drift on the error stream, streaming drift on a feature.

river updates one value at a time, so the update loops in Python; everything else
is vectorised. A snapshot holds the river detector's attributes as data
(:mod:`~driftline.detectors.river_state`), never a pickle.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from river import drift
from river.drift import binary

from ._checks import check_choice, check_float, check_int
from .errors import DetectorConfigError, DetectorStateError
from .results import ConceptDriftEvent
from .river_state import encode_river, restore_river

__all__ = ["ConceptDriftMonitor", "StreamingFeatureDetector"]

# name -> (river class, accepted input: "real" | "binary" (0/1) | "unit" ([0, 1]))
RIVER_ALGORITHMS: dict[str, tuple[type, str]] = {
    "adwin": (drift.ADWIN, "real"),
    "ddm": (binary.DDM, "binary"),
    "eddm": (binary.EDDM, "binary"),
    "hddm_a": (binary.HDDMA, "binary"),
    "hddm_w": (binary.HDDMW, "unit"),
    "kswin": (drift.KSWIN, "real"),
    "page_hinkley": (drift.PageHinkley, "real"),
}

_PROB = {"low": 0.0, "high": 1.0, "low_open": True, "high_open": True}
_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "delta": lambda n, v: check_float(n, v, low=0.0, high=1.0, high_open=True),
    "clock": lambda n, v: check_int(n, v, low=1),
    "max_buckets": lambda n, v: check_int(n, v, low=1),
    "min_window_length": lambda n, v: check_int(n, v, low=1),
    "grace_period": lambda n, v: check_int(n, v, low=1),
    "warm_start": lambda n, v: check_int(n, v, low=1),
    "warning_threshold": lambda n, v: check_float(n, v, low=0.0, low_open=True),
    "drift_threshold": lambda n, v: check_float(n, v, low=0.0, low_open=True),
    "alpha": lambda n, v: check_float(n, v, low=0.0, high=1.0, low_open=True),
    "beta": lambda n, v: check_float(n, v, low=0.0, high=1.0, low_open=True),
    "drift_confidence": lambda n, v: check_float(n, v, **_PROB),
    "warning_confidence": lambda n, v: check_float(n, v, **_PROB),
    "lambda_val": lambda n, v: check_float(n, v, **_PROB),
    "window_size": lambda n, v: check_int(n, v, low=2),
    "stat_size": lambda n, v: check_int(n, v, low=1),
    "seed": lambda n, v: check_int(n, v, low=0),
    "min_instances": lambda n, v: check_int(n, v, low=1),
    "threshold": lambda n, v: check_float(n, v, low=0.0, low_open=True),
    "mode": lambda n, v: check_choice(n, v, ("both", "down", "up"), "mode"),
}


class _RiverStream:
    """Shared code: parameter checks, the per-element loop, state and snapshots."""

    allowed: tuple[str, ...] = ()
    skip_missing = True

    def __init__(self, name: str, params: Mapping[str, Any]) -> None:
        self.name = check_choice(self._arg, name, self.allowed, "detector")
        cls, self.accepts = RIVER_ALGORITHMS[self.name]
        accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "window")]
        params = dict(params)
        if self.name == "kswin":
            params.setdefault("seed", 0)  # river's default is unseeded
        for key, value in params.items():
            if key not in accepted:
                raise DetectorConfigError(f"{key}: not a parameter of {self.name} (expected one of: {', '.join(accepted)})",
                                          key=key, value=value,
                                          expected=f"a known parameter of {self.name}: {', '.join(accepted)}")
            if key in _CHECKS:
                _CHECKS[key](key, value)
        try:
            self._detector = cls(**params)
        except (ValueError, TypeError) as exc:
            raise DetectorConfigError(f"{self.name}: {exc}") from exc
        self.params = params
        self.n = 0
        self.state = "stable"

    _arg = "detector"

    def _events(self, values: np.ndarray, ts_ms: np.ndarray | int) -> list[ConceptDriftEvent]:
        x = np.asarray(values, dtype=np.float64).ravel()
        ts = np.broadcast_to(np.asarray(ts_ms, dtype=np.int64), x.shape)
        keep = np.isfinite(x)
        x, ts = x[keep], ts[keep]
        if self.accepts == "binary" and not np.all((x == 0) | (x == 1)):
            raise ValueError(f"errors: {self.name} needs 0/1 errors (got values such as {x[(x != 0) & (x != 1)][0]!r})")
        if self.accepts == "unit" and not np.all((x >= 0) & (x <= 1)):
            raise ValueError(f"errors: {self.name} needs errors in [0, 1]")
        det, name, events = self._detector, self.name, []
        has_warning = hasattr(det, "warning_detected")
        inputs = x.astype(bool).tolist() if self.accepts == "binary" else x.tolist()
        for i, (v, t) in enumerate(zip(inputs, ts.tolist(), strict=True)):
            det.update(v)
            if det.drift_detected:
                self.state = "drift"
                events.append(ConceptDriftEvent(name, "drift", t, self.n + i))
            elif has_warning and det.warning_detected:
                if self.state != "warning":
                    events.append(ConceptDriftEvent(name, "warning", t, self.n + i))
                self.state = "warning"
            else:
                self.state = "stable"
        self.n += len(inputs)
        return events

    def reset(self) -> None:
        """Fresh detector, same parameters."""
        self._detector = RIVER_ALGORITHMS[self.name][0](**self.params)
        self.n, self.state = 0, "stable"

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state: parameters, counters and the river detector's attributes as data."""
        return {"detector": self.name, "params": dict(self.params), "n": self.n, "state": self.state,
                "river": encode_river(self._detector, self.name)}

    @classmethod
    def restore(cls, snapshot: Mapping[str, Any]) -> Any:
        """A detector built from the snapshot's parameters, carrying its state.

        Raises :class:`DetectorStateError` when the state holds an attribute or a type
        this build's river does not have.
        """
        obj = cls(snapshot["detector"], **snapshot["params"])
        restore_river(obj._detector, snapshot["river"], obj.name)
        if snapshot["state"] not in ("stable", "warning", "drift"):
            raise DetectorStateError(f"state: {snapshot['state']!r} is not stable, warning or drift")
        obj.n, obj.state = int(snapshot["n"]), snapshot["state"]
        return obj


class ConceptDriftMonitor(_RiverStream):
    """A river drift detector on the model's error stream.

    Feed 0/1 errors for classification and absolute errors for regression. ``ddm``,
    ``eddm`` and ``hddm_a`` need 0/1 errors and ``hddm_w`` errors in [0, 1]
    (a ``ValueError`` otherwise); ``adwin`` and ``page_hinkley`` take any real value.
    NaN errors are skipped. ``index`` of an event is the 0-based position in the error stream.

    >>> import random
    >>> import numpy as np
    >>> rng = random.Random(12345)
    >>> stream = np.array(rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000), dtype=float)
    >>> m = ConceptDriftMonitor("adwin")
    >>> m.update(stream, ts_ms=np.arange(2000) * 1000)
    [ConceptDriftEvent(detector='adwin', state='drift', ts_ms=1023000, index=1023)]
    >>> m.n, m.state
    (2000, 'stable')
    """

    allowed = ("adwin", "ddm", "eddm", "hddm_a", "hddm_w", "page_hinkley")

    def __init__(self, detector: str = "adwin", **params: Any) -> None:
        super().__init__(detector, params)

    def update(self, errors: np.ndarray, ts_ms: np.ndarray | int) -> list[ConceptDriftEvent]:
        """Feed errors in stream order; return warning (on entering) and drift events."""
        return self._events(errors, ts_ms)


class StreamingFeatureDetector(_RiverStream):
    """A river change detector (``adwin``, ``kswin``, ``page_hinkley``) on one feature's values.

    Missing (NaN) values are skipped; ``index`` counts non-missing values. KSWIN is
    seeded (``seed=0`` unless given) so results are reproducible.

    >>> import random
    >>> import numpy as np
    >>> rng = random.Random(12345)
    >>> values = np.array(rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000), dtype=float)
    >>> d = StreamingFeatureDetector("page_hinkley")
    >>> [e.index for e in d.update(values, ts_ms=0)]
    [1006]
    """

    allowed = ("adwin", "kswin", "page_hinkley")
    _arg = "type"

    def __init__(self, type: str = "adwin", **params: Any) -> None:  # noqa: A002 - YAML key name
        super().__init__(type, params)

    def update(self, values: np.ndarray, ts_ms: np.ndarray | int) -> list[ConceptDriftEvent]:
        """Feed feature values in stream order; return detected change points."""
        return self._events(values, ts_ms)

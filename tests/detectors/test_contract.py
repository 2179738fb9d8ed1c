"""One contract over every registered detector: defaults, snapshot/restore, bounded memory."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from driftline.detectors import (
    DETECTORS,
    DetectorConfigError,
    PerformanceWindow,
    QuantileSketch,
    ReferenceProfile,
    WindowSketch,
    make_detector,
)
from driftline.detectors.drift_tests import DRIFT_TESTS

REF = ReferenceProfile.from_columns(
    {"x": "numeric", "y": "numeric", "c": "categorical"},
    {"x": np.random.default_rng(0).normal(size=20_000), "y": np.random.default_rng(1).normal(size=20_000),
     "c": np.random.default_rng(2).choice(np.array(["a", "b", "c"], dtype=object), 20_000)},
)
BATCH = 10_000


def batch(rng: np.random.Generator) -> dict[str, np.ndarray]:
    x = rng.normal(0.3, 1, BATCH)
    return {"x": x, "y": x + rng.normal(size=BATCH), "c": rng.choice(np.array(["a", "b", "zz"], dtype=object), BATCH),
            "errors": (rng.random(BATCH) < 0.2).astype(float), "ts": np.arange(BATCH)}


class Driver:
    """How to feed one kind of detector: ``state(det)`` -> something with snapshot(); ``step`` -> comparable output."""

    def __init__(self, det: Any) -> None:
        self.det = det
        self.window = WindowSketch(REF)

    def step(self, b: dict[str, np.ndarray]) -> Any:
        name = next(k for k, v in DETECTORS.items() if isinstance(self.det, v))
        if name in DRIFT_TESTS:
            self.window.update(b)
            feature = "x" if "numeric" in self.det.kinds else "c"
            return self.det.compare(REF.features[feature], self.window.features[feature])
        if name == "concept_drift":
            return self.det.update(b["errors"], b["ts"])
        if name == "streaming_feature":
            return self.det.update(b["x"], b["ts"])
        if name == "data_quality":
            self.window.update(b)
            return self.det.evaluate(self.window, {"x": 3})
        if name == "pca_reconstruction":
            self.det.update(b)
            return self.det.result()
        raise AssertionError(f"no driver for registered detector {name!r}: add one to this test")

    def snapshot(self) -> dict[str, Any]:
        return {"det": self.det.snapshot(), "window": self.window.snapshot()}

    def restored(self) -> Driver:
        snap = json.loads(json.dumps(self.snapshot()))
        other = Driver(type(self.det).restore(snap["det"]))
        other.window = type(self.window).restore(REF, snap["window"])
        return other


def leaves(obj: Any) -> int:
    """Number of scalars in a JSON-like structure: grows with buffered items, not with bigger counts."""
    if isinstance(obj, dict):
        return sum(leaves(v) for v in obj.values()) + len(obj)
    if isinstance(obj, (list, tuple)):
        return sum(leaves(v) for v in obj)
    if isinstance(obj, str):
        return 1 + len(obj) // 64  # base64 pickles: count in 48-byte chunks
    return 1


def build(name: str) -> Any:
    det = make_detector(name)
    if name == "pca_reconstruction":
        det.fit({"x": REF.features["x"].sample, "y": REF.features["x"].sample * 0.5 + REF.features["y"].sample})
    return det


NAMES = sorted(DETECTORS)


@pytest.mark.parametrize("name", NAMES)
def test_defaults_and_snapshot_restore_give_same_next_result(name):
    rng = np.random.default_rng(7)
    a = Driver(build(name))
    for _ in range(3):
        a.step(batch(rng))
    b = a.restored()
    nxt = batch(rng)
    assert a.step(nxt) == b.step(nxt)
    assert a.snapshot() == b.snapshot()


@pytest.mark.parametrize("name", NAMES)
def test_reset_forgets_the_stream(name):
    rng = np.random.default_rng(8)
    fresh, used = Driver(build(name)), Driver(build(name))
    first = batch(rng)
    used.step(batch(rng))
    used.det.reset()
    used.window = WindowSketch(REF)
    assert used.step(first) == fresh.step(first)


@pytest.mark.parametrize("name", NAMES)
def test_memory_bounded_after_a_million_updates(name):
    rng = np.random.default_rng(9)
    d = Driver(build(name))
    batches = [batch(rng) for _ in range(4)]
    for i in range(10):
        d.step(batches[i % 4])
    size_early = leaves(d.snapshot())
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(90):  # 100 batches x 10k = 10^6 updates in all
        d.step(batches[i % 4])
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert leaves(d.snapshot()) <= size_early * 1.2 + 100
    assert grown < 2_000_000, f"{name} grew by {grown} bytes"


def counted(update: Callable[[], None], snapshot: Callable[[], Any]) -> tuple[int, int]:
    update()
    early = leaves(snapshot())
    for _ in range(99):
        update()
    return early, leaves(snapshot())


def test_performance_window_and_quantile_sketch_are_bounded():
    rng = np.random.default_rng(10)
    y = rng.integers(0, 5, BATCH)
    s = rng.random(BATCH)
    for task in ("binary_classification", "multiclass_classification", "regression"):
        pw = PerformanceWindow(task)
        early, late = counted(lambda pw=pw: pw.update(y, y[::-1], s), pw.snapshot)
        assert late <= early * 1.2, task
        assert pw.n == 1_000_000
    qs = QuantileSketch()
    early, late = counted(lambda: qs.update(rng.lognormal(3, 1, BATCH)), qs.snapshot)
    assert late <= early * 1.5 and qs.n == 1_000_000


def test_unknown_type_lists_valid_names():
    with pytest.raises(DetectorConfigError, match=r"^type: 'cusum' is not a known detector \(expected one of: chi2, concept_drift"):
        make_detector("cusum")


def test_registry_values_are_classes_with_doctests():
    for name, cls in DETECTORS.items():
        assert isinstance(cls, type), name
        assert ">>>" in (cls.__doc__ or ""), f"{cls.__name__} needs a runnable example"

"""One contract over every registered detector and every stateful component: defaults,
snapshot/restore through strict JSON without pickle, bounded memory.

(The stream's stateful components, the monitor, the label join, the alert engines and the
partition envelope, follow the same contract in tests/stream/test_checkpoints.py.)"""

from __future__ import annotations

import json
import pickle
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from driftline.detectors import (
    DETECTORS,
    ConceptDriftMonitor,
    DetectorConfigError,
    DetectorStateError,
    DriftSettings,
    DriftSuite,
    PerformanceWindow,
    QuantileSketch,
    ReferenceBuilder,
    ReferenceProfile,
    Reservoir,
    StreamingFeatureDetector,
    WindowSketch,
    make_detector,
)
from driftline.detectors.drift_registry import DRIFT_TESTS
from driftline.detectors.river_detectors import RIVER_ALGORITHMS

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
        snap = strict_json(self.snapshot())
        other = Driver(type(self.det).restore(snap["det"]))
        other.window = type(self.window).restore(REF, snap["window"])
        return other


def strict_json(snapshot: Any) -> Any:
    """Through standard JSON (no NaN/Infinity tokens: a checkpoint encoder would turn them into null)."""
    return json.loads(json.dumps(snapshot, allow_nan=False))


@pytest.fixture
def no_pickle(monkeypatch):
    """Restoring state never goes through pickle."""
    def refuse(*args, **kwargs):
        raise AssertionError("pickle used while restoring a snapshot")

    for name in ("loads", "load", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)


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
def test_defaults_and_snapshot_restore_give_same_next_result(name, no_pickle):
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


RIVER = [(cls, algorithm) for algorithm in sorted(RIVER_ALGORITHMS)
         for cls in (ConceptDriftMonitor, StreamingFeatureDetector) if algorithm in cls.allowed]


@pytest.mark.parametrize(("cls", "algorithm"), RIVER, ids=[f"{c.__name__}-{a}" for c, a in RIVER])
def test_every_river_algorithm_continues_identically_without_pickle(cls, algorithm, no_pickle):
    rng = np.random.default_rng(12)
    before = (rng.random(3000) < 0.1).astype(float)
    after = (rng.random(3000) < 0.5).astype(float)  # a change to detect after the restart
    a = cls(algorithm)
    a.update(before, np.arange(3000))
    b = cls.restore(strict_json(a.snapshot()))
    assert b.snapshot() == a.snapshot()
    events = a.update(after, np.arange(3000, 6000))
    assert b.update(after, np.arange(3000, 6000)) == events
    assert b.snapshot() == a.snapshot()


def river_snapshot(algorithm: str = "page_hinkley") -> dict[str, Any]:
    d = StreamingFeatureDetector(algorithm)
    d.update(np.random.default_rng(0).normal(size=500), 0)
    return strict_json(d.snapshot())


@pytest.mark.parametrize(("algorithm", "change", "message"), [
    ("page_hinkley", lambda r: r.update(_evil=["int", 1]), "page_hinkley._evil: PageHinkley has no such attribute"),
    ("page_hinkley", lambda r: r.update(_sum_increase=["pickle", "gASV"]), "page_hinkley._sum_increase: unknown tag 'pickle'"),
    ("page_hinkley", lambda r: r.update(_x_mean=["object", {"type": "Popen", "attrs": {}}]),
     "page_hinkley._x_mean: a 'Popen' where the detector holds a Mean"),
    ("page_hinkley", lambda r: r.update(_x_mean=["int", 3]), "page_hinkley._x_mean: a int where the detector holds a Mean"),
    ("page_hinkley", lambda r: r.update(_test_drift=["method", "__init__"]), "page_hinkley._test_drift: method '__init__'"),
    ("adwin", lambda r: r["_helper"][1].update(bytes="AAAA"), "adwin._helper: the AdaptiveWindowing state is not valid"),
    ("kswin", lambda r: r["window"].__setitem__(1, ["x"]), "kswin.window: 'x' is not a float"),
])
def test_river_state_outside_the_allowlist_is_refused(algorithm, change, message):
    snap = river_snapshot(algorithm)
    change(snap["river"])
    with pytest.raises(DetectorStateError) as info:
        StreamingFeatureDetector.restore(snap)
    assert str(info.value).startswith(message)


def test_the_previous_base64_pickle_snapshot_is_refused():
    snap = river_snapshot()
    snap["river"] = "gASVAAAAAAAAAAB9lC4="  # what the previous release stored: never unpickled
    with pytest.raises(DetectorStateError):
        StreamingFeatureDetector.restore(snap)


class Component:
    """A stateful component that is not a registered detector: build, feed, output, restore."""

    def __init__(self, build: Callable[[], Any], feed: Callable[[Any, np.random.Generator], Any],
                 restore: Callable[[Any], Any]) -> None:
        self.build, self.feed, self.restore = build, feed, restore


def _builder_output(b: ReferenceBuilder) -> Any:
    return b.build().to_dict() if b.n else None


COMPONENTS = {
    **{f"performance-{task}": Component(
        lambda task=task: PerformanceWindow(task),
        lambda pw, rng: (pw.update(rng.integers(0, 3, 500), rng.integers(0, 3, 500), rng.random(500)), pw.compute())[1],
        PerformanceWindow.restore) for task in ("binary_classification", "multiclass_classification", "regression")},
    "quantile_sketch": Component(QuantileSketch, lambda q, rng: (q.update(rng.lognormal(3, 1, 500)), q.quantile(0.99))[1],
                                 QuantileSketch.restore),
    "reservoir": Component(lambda: Reservoir(100, seed=3), lambda r, rng: (r.update(rng.normal(size=500)), r.values.tolist())[1],
                           Reservoir.restore),
    "window_sketch": Component(lambda: WindowSketch(REF), lambda w, rng: (w.update(batch(rng)), w.snapshot())[1],
                               lambda s: WindowSketch.restore(REF, s)),
    "reference_builder": Component(
        lambda: ReferenceBuilder(REF.kinds, warmup_events=25_000),
        lambda b, rng: (b.update(batch(rng)), _builder_output(b))[1],
        lambda s: ReferenceBuilder.restore(REF.kinds, s, warmup_events=25_000)),
    "drift_suite": Component(
        lambda: [DriftSuite(REF, DriftSettings(persistence=(2, 3))), WindowSketch(REF)],
        lambda sw, rng: (sw[1].update(batch(rng)), sw[0].evaluate(sw[1]))[1],
        lambda s: [DriftSuite.restore(REF, DriftSettings(persistence=(2, 3)), s[0]), WindowSketch.restore(REF, s[1])]),
}


def _snapshot(obj: Any) -> Any:
    return [o.snapshot() for o in obj] if isinstance(obj, list) else obj.snapshot()


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_stateful_components_restore_to_the_same_next_result(name, no_pickle):
    c = COMPONENTS[name]
    rng = np.random.default_rng(13)
    a = c.build()
    for _ in range(2):
        c.feed(a, rng)
    b = c.restore(strict_json(_snapshot(a)))
    assert strict_json(_snapshot(b)) == strict_json(_snapshot(a))
    nxt = np.random.default_rng(14)
    assert repr(c.feed(a, nxt)) == repr(c.feed(b, np.random.default_rng(14)))

"""Every piece of window state merges: in any grouping and any order, into the state of the concatenated stream.

merge(a, merge(b, c)) == merge(merge(a, b), c), every permutation of three parts, and equal to one
object fed all the rows (floats to 1e-9; the reservoir, the one non-exact piece, only order-independent).
"""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
from driftline.detectors import (
    ArmStats,
    PerformanceWindow,
    QuantileSketch,
    ReferenceProfile,
    Reservoir,
    WindowSketch,
)
from driftline.detectors.arms import label_values

RNG = np.random.default_rng(7)
N = 3_000


def parts(n: int = N, k: int = 3) -> list[np.ndarray]:
    """Random, uneven index sets splitting range(n) in k parts (as random keying would)."""
    owner = RNG.integers(0, k, n)
    return [np.flatnonzero(owner == i) for i in range(k)]


def merged(states, merge):
    """Every grouping and order of merging three states, each on copies."""
    out = []
    for a, b, c in itertools.permutations(states):
        left = copy.deepcopy(a)
        merge(left, copy.deepcopy(b))
        merge(left, copy.deepcopy(c))
        inner = copy.deepcopy(b)
        merge(inner, copy.deepcopy(c))
        right = copy.deepcopy(a)
        merge(right, inner)
        out += [left, right]
    return out


def close(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            close(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            close(x, y)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9)
    else:
        assert a == b


def sketch_state(w: WindowSketch) -> dict:
    s = w.snapshot()
    for f in s["features"].values():
        f.pop("reservoir", None)
    return s


def test_window_sketches_merge_into_the_concatenated_stream():
    ref_cols = {"x": RNG.normal(0, 1, 2000), "c": RNG.choice(np.array(["a", "b", "c"], dtype=object), 2000)}
    ref = ReferenceProfile.from_columns({"x": "numeric", "c": "categorical"}, ref_cols, bins=10)
    x = RNG.normal(0.3, 1.2, N)
    x[RNG.random(N) < 0.05] = np.nan
    c = RNG.choice(np.array(["a", "b", "c", "d", "e", None], dtype=object), N)
    whole = WindowSketch(ref)
    whole.update({"x": x, "c": c})
    states = []
    for idx in parts():
        w = WindowSketch(ref)
        for lo in range(0, len(idx), 400):  # in batches, as the hot path feeds it
            w.update({"x": x[idx[lo:lo + 400]], "c": c[idx[lo:lo + 400]]})
        states.append(w)
    results = merged(states, WindowSketch.merge)
    for m in results:  # the fine grid's counts merge exactly: no sample, nothing approximate
        close(sketch_state(m), sketch_state(whole))


def test_reservoir_merge_is_commutative_and_associative():
    states = []
    for i, idx in enumerate(parts()):
        r = Reservoir(size=50, seed=i)
        r.update(np.arange(float(N))[idx])
        states.append(r)
    results = merged(states, Reservoir.merge)
    assert {tuple(r.values.tolist()) for r in results} == {tuple(results[0].values.tolist())}
    assert results[0].seen == N and len(results[0].values) == 50


@pytest.mark.parametrize("task", ["binary_classification", "multiclass_classification", "regression"])
def test_performance_windows_merge_into_the_concatenated_stream(task):
    if task == "regression":
        y_true = RNG.normal(300, 50, N)
        y_pred = y_true + RNG.normal(0, 10, N)
    else:
        labels = np.array(["0", "1"] if task == "binary_classification" else ["a", "b", "c", "d"], dtype=object)
        y_true = RNG.choice(labels, N)
        y_pred = np.where(RNG.random(N) < 0.8, y_true, RNG.choice(labels, N))
    score = RNG.random(N) if task == "binary_classification" else None
    kw = {"positive_label": "1"} if task == "binary_classification" else {}
    whole = PerformanceWindow(task, **kw)
    whole.update(y_true, y_pred, score)
    states = []
    for idx in parts():
        pw = PerformanceWindow(task, **kw)
        for lo in range(0, len(idx), 300):
            sub = idx[lo:lo + 300]
            pw.update(y_true[sub], y_pred[sub], None if score is None else score[sub])
        states.append(pw)
    expected = [(m.name, m.value, m.n) for m in whole.compute()]
    for m in merged(states, PerformanceWindow.merge):
        close([(x.name, x.value, x.n) for x in m.compute()], expected)
        assert m.n == whole.n
        if task == "multiclass_classification":  # the same matrix, whatever order the labels came in
            assert canonical(m) == canonical(whole)


def canonical(pw: PerformanceWindow) -> dict:
    conf = pw._s["confusion"]
    names = [*pw._labels, *["__overflow__"] * (len(conf) - len(pw._labels))]
    return {(names[i], names[j]): int(conf[i, j]) for i in range(len(conf)) for j in range(len(conf))
            if conf[i, j]}


def test_multiclass_overflow_class_merges_as_the_overflow_class():
    a, b = (PerformanceWindow("multiclass_classification", max_classes=3) for _ in range(2))
    a.update(np.array(["x", "y", "z"], dtype=object), np.array(["x", "y", "z"], dtype=object))
    b.update(np.array(["y", "w"], dtype=object), np.array(["y", "x"], dtype=object))
    a.merge(b)
    assert a.n == 5 and int(a._s["confusion"].sum()) == 5
    # b's ("w", "x") was ("w", b's overflow): beyond max_classes - 1 labels, which fall in the overflow
    # class depends on what came first (as in one stream); the merge keeps it in the overflow class.
    assert canonical(a) == {("x", "x"): 1, ("y", "y"): 2, ("__overflow__", "__overflow__"): 2}


def test_latency_sketches_merge_into_the_concatenated_stream():
    values = RNG.lognormal(3, 1, N)
    whole = QuantileSketch()
    whole.update(values)
    states = []
    for idx in parts():
        q = QuantileSketch()
        q.update(values[idx])
        states.append(q)
    for m in merged(states, QuantileSketch.merge):
        assert m.snapshot() == whole.snapshot()


def test_experiment_arm_statistics_merge_into_the_concatenated_stream():
    truth = RNG.choice(np.array(["0", "1"], dtype=object), N)
    predicted = np.where(RNG.random(N) < 0.7, truth, RNG.choice(np.array(["0", "1"], dtype=object), N))
    scores = RNG.random(N)
    metrics = ("accuracy", "log_loss")
    whole = ArmStats.new(metrics, latency=False)
    whole.add_labels(label_values("binary_classification", "1", truth, predicted, scores, metrics))
    states = []
    for idx in parts():
        arm = ArmStats.new(metrics, latency=False)
        arm.add_labels(label_values("binary_classification", "1", truth[idx], predicted[idx], scores[idx], metrics))
        states.append(arm)
    for m in merged(states, ArmStats.merge):
        close(m.snapshot(), whole.snapshot())

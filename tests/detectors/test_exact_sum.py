"""ExactSum: the sum of float64 values with no rounding, checked against ``fractions.Fraction``; merges
of any split in any order are the same integer, and its snapshot round-trips through JSON."""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction

import numpy as np
import pytest
from driftline.detectors import DetectorStateError
from driftline.detectors import exact_sum as module
from driftline.detectors.exact_sum import ExactSum


def exact(values: np.ndarray) -> Fraction:
    return sum((Fraction(float(v)) for v in values if math.isfinite(v)), Fraction(0))


def streams():
    rng = np.random.default_rng(5)
    tiny = np.array([5e-324, -5e-324, 2.2250738585072014e-308, 1e-310, -3e-320])
    return {
        "normal": rng.normal(10.0, 3.0, 5000),
        "cancelling": np.concatenate([[1e16, 1.0, -1e16, 1.0], rng.normal(0, 1e-3, 100)]),
        "subnormal": np.concatenate([tiny, rng.normal(0, 1e-308, 200)]),
        "huge": np.concatenate([[1.7976931348623157e308, -1.7976931348623157e308, 1e308], rng.normal(0, 1e300, 50)]),
        "mixed": np.concatenate([rng.normal(0, 1, 300) * 10.0 ** rng.integers(-300, 300, 300), tiny]),
        "missing": np.array([np.nan, 1.5, np.inf, -np.inf, 2.5, np.nan]),
    }


@pytest.mark.parametrize("name", list(streams()))
def test_the_sum_and_the_mean_are_those_of_exact_rational_arithmetic(name):
    values = streams()[name]
    s = ExactSum()
    s.update(values)
    total = exact(values)
    finite = int(np.isfinite(values).sum())
    assert s.n == finite
    assert Fraction(s.units, 2**1074) == total
    assert s.mean == float(total / finite)  # rounded once, correctly


def test_no_value_has_no_mean_and_an_empty_batch_changes_nothing():
    s = ExactSum()
    assert s.mean is None
    s.update(np.array([np.nan, np.inf]))
    s.update(np.array([]))
    assert (s.n, s.units, s.mean) == (0, 0, None)


def test_any_split_merged_in_any_order_is_the_whole_stream_to_the_bit():
    values = streams()["mixed"]
    whole = ExactSum()
    whole.update(values)
    rng = np.random.default_rng(8)
    cuts = sorted(rng.choice(np.arange(1, len(values)), 3, replace=False).tolist())
    parts = []
    for piece in np.split(rng.permutation(values), cuts):
        p = ExactSum()
        p.update(piece)
        parts.append(p)
    for order in itertools.permutations(parts):
        left, right = ExactSum(), ExactSum()
        for p in order:
            left.merge(p)
        inner = ExactSum()
        for p in order[1:]:
            inner.merge(p)
        right.merge(order[0])
        right.merge(inner)
        assert left == right == whole
        assert left.mean == whole.mean


def test_a_float_sum_of_the_same_split_is_not_exact():
    """Why the exact sum: numpy's float sums of two splits of one stream disagree in the last bits."""
    values = streams()["normal"]
    parts = [values[i::7] for i in range(7)]  # seven partitions' float sums, added in partition order
    floats = 0.0
    for part in parts:
        floats += float(part.sum())
    assert floats != float(values.sum())
    whole, merged = ExactSum(), ExactSum()
    whole.update(values)
    for part in reversed(parts):
        p = ExactSum()
        p.update(part)
        merged.merge(p)
    assert merged == whole and merged.mean == whole.mean


def test_batches_longer_than_a_chunk_are_summed_by_chunks(monkeypatch):
    monkeypatch.setattr(module, "_CHUNK", 7)
    values = streams()["cancelling"]
    s = ExactSum()
    s.update(values)
    assert Fraction(s.units, 2**1074) == exact(values) and s.n == len(values)


def test_the_snapshot_is_small_json_and_restores_the_same_sum():
    for values in streams().values():
        s = ExactSum()
        s.update(values)
        saved = json.loads(json.dumps(s.snapshot(), allow_nan=False))
        assert ExactSum.restore(saved) == s
    normal = ExactSum()
    normal.update(streams()["normal"])
    assert len(json.dumps(normal.snapshot())) < 80  # the odd part only, not 2,100 bits of units
    assert ExactSum.restore(ExactSum().snapshot()) == ExactSum()


@pytest.mark.parametrize("bad", [{"n": 1}, {"n": 1, "odd": "zz", "shift": 0}, {"n": -1, "odd": "0x1", "shift": 0},
                                 {"n": 1, "odd": "0x1", "shift": -3}])
def test_a_bad_snapshot_is_a_state_error(bad):
    with pytest.raises(DetectorStateError, match="exact sum"):
        ExactSum.restore(bad)

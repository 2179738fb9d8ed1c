"""The segment vocabulary: bounded whatever is sent, following the most frequent values; Misra-Gries."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from driftline.detectors import MisraGries, SegmentVocabulary
from driftline.detectors.errors import DetectorConfigError


def test_misra_gries_keeps_every_heavy_hitter_whatever_the_order():
    rng = np.random.default_rng(0)
    stream = [f"h{i}" for i in range(5) for _ in range(400)] + [f"r{i}" for i in range(8_000)]
    for seed in range(3):
        order = list(rng.permutation(stream)) if seed else stream
        mg = MisraGries(20)
        for lo in range(0, len(order), 700):
            mg.update(Counter(order[lo:lo + 700]))
        # A value making more than n / (k + 1) of the stream is kept, undercounted by at most that.
        assert {f"h{i}" for i in range(5)} <= set(mg.counts)
        assert all(400 - len(stream) / 21 <= mg.counts[f"h{i}"] <= 400 for i in range(5))
        assert len(mg.counts) <= 20


def test_merged_summaries_keep_the_guarantee():
    a, b = MisraGries(3), MisraGries(3)
    a.update({"x": 10, "y": 1, "z": 1})
    b.update({"x": 5, "w": 9})
    merged = MisraGries.restore(a.snapshot()).merge(b)
    assert merged.counts["x"] >= 15 - 26 / 4 and merged.counts["w"] >= 9 - 26 / 4 and len(merged.counts) <= 3


def test_the_vocabulary_is_bounded_and_follows_frequent_values():
    v = SegmentVocabulary(max_values=10)
    rng = np.random.default_rng(1)
    for window in range(6):
        rare = [f"rare-{window}-{i}" for i in range(2_000)]  # 2,000 new values each window, seen once
        hot = [f"hot-{i}" for i in range(10) for _ in range(100)]
        values = list(rng.permutation(rare + hot))
        groups = v.assign(values)
        counts = Counter(g for g in groups if g != "__other__")
        v.rebalance(counts)
        assert len(v.values) == 10
    assert set(v.values) == {f"hot-{i}" for i in range(10)}
    assert v.folded >= 6 * 2_000 - 10
    assert len(v.nominations.counts) <= 10


def test_missing_values_are_in_no_group_and_snapshots_restore_under_a_smaller_cap():
    v = SegmentVocabulary(max_values=3)
    assert v.assign(["a", None, "b", "c", "d"]) == ["a", None, "b", "c", "__other__"]
    again = SegmentVocabulary.restore(v.snapshot())
    assert again.snapshot() == v.snapshot()
    assert again.assign(["d", "a"]) == v.assign(["d", "a"])
    smaller = SegmentVocabulary.restore(v.snapshot(), max_values=2)
    assert smaller.values == ("a", "b")


@pytest.mark.parametrize("bad", [0, 10_001, 1.5])
def test_max_values_is_checked(bad):
    with pytest.raises(DetectorConfigError, match="max_values"):
        SegmentVocabulary(max_values=bad)

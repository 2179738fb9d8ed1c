"""The benchmark's per-stage timer still names functions that exist (bench/ is not otherwise tested)."""

from __future__ import annotations

import bench.stages


def test_every_timed_stage_names_a_function_of_the_worker():
    # A target that moved or was renamed is skipped silently at run time, and its stage then
    # vanishes from the breakdown: catch that here instead.
    missing = [f"{module}.{path}" for module, path, _ in bench.stages._TARGETS
               if bench.stages._resolve(module, path)[0] is None]
    assert not missing, "bench/stages.py times functions that no longer exist: " + ", ".join(missing)


def test_the_processes_data_set_gives_each_half_of_the_partitions_five_streams():
    from collections import Counter

    from bench.processes import BALANCED

    per_partition = Counter(BALANCED.values())
    assert per_partition[0] + per_partition[1] == per_partition[2] + per_partition[3] == 5


def test_growth_settings_parse_at_every_size():
    from driftline.settings import parse_settings

    from bench.growth import feature_names, raw_settings, streams_of

    for features, streams in ((13, 10), (500, 10), (13, 1000)):
        settings = parse_settings(raw_settings("127.0.0.1:9092", "chdb://:memory:", "r", features, streams, 200))
        numeric, categorical = feature_names(features)
        assert len(numeric) + len(categorical) == features
        assert len(settings.models) * 2 == len(streams_of(streams)) == streams
        assert all(len(m.features) == features for m in settings.models)

"""The benchmark's per-stage timer still names functions that exist (bench/ is not otherwise tested)."""

from __future__ import annotations

import bench.stages


def test_every_timed_stage_names_a_function_of_the_worker():
    # A target that moved or was renamed is skipped silently at run time, and its stage then
    # vanishes from the breakdown: catch that here instead.
    missing = [f"{module}.{path}" for module, path, _ in bench.stages._TARGETS
               if bench.stages._resolve(module, path)[0] is None]
    assert not missing, "bench/stages.py times functions that no longer exist: " + ", ".join(missing)

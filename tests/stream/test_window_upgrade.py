"""An open window checkpointed by an earlier build (a reservoir sample, no grid counts) restores
without its drift sketch: its counts stay, its drift covers the events after the restart."""

from __future__ import annotations

import numpy as np
from driftline.detectors import ReferenceProfile, WindowSketch
from driftline.stream.windows import OpenWindow


def test_a_window_of_an_earlier_build_restores_without_its_drift_sketch(caplog):
    reference = ReferenceProfile.from_columns({"x": "numeric"}, {"x": np.arange(1000.0)})
    window = OpenWindow(0, 60_000, n=5, sketch=WindowSketch(reference))
    window.sketch.update({"x": np.arange(5.0)})
    saved = window.snapshot()
    old = saved["sketch"]["features"]["x"]
    del old["grid"]
    old.update({"counts": [0] * 10, "reservoir": {"size": 2000, "seed": 0, "seen": 5}})
    again = OpenWindow.restore(saved, reference)
    assert again.sketch is None and again.n == 5
    assert "drift restarts" in caplog.text
    current = OpenWindow.restore(window.snapshot(), reference)
    assert current.sketch.snapshot() == window.sketch.snapshot()

"""ConceptDriftMonitor / StreamingFeatureDetector give the same indices as river itself."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from driftline.detectors import ConceptDriftMonitor, DetectorConfigError, StreamingFeatureDetector
from river import drift
from river.drift import binary


def river_stream():
    rng = random.Random(12345)
    return rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)


def binary_stream():
    rng = random.Random(42)
    return [int(rng.random() < 0.1) for _ in range(1500)] + [int(rng.random() < 0.5) for _ in range(1500)]


def river_indices(detector, stream):
    drifts, warnings, in_warning = [], [], False
    for i, x in enumerate(stream):
        detector.update(x)
        if detector.drift_detected:
            drifts.append(i)
            in_warning = False
        elif getattr(detector, "warning_detected", False):
            if not in_warning:
                warnings.append(i)
            in_warning = True
        else:
            in_warning = False
    return drifts, warnings


def ours(monitor, stream, chunk=250):
    events = []
    x = np.asarray(stream, dtype=float)
    for i in range(0, len(x), chunk):
        events += monitor.update(x[i : i + chunk], ts_ms=np.arange(i, min(i + chunk, len(x))))
    return [e.index for e in events if e.state == "drift"], [e.index for e in events if e.state == "warning"]


def test_adwin_matches_river_doctest():
    assert ours(ConceptDriftMonitor("adwin"), river_stream()) == ([1023], [])
    assert river_indices(drift.ADWIN(), river_stream()) == ([1023], [])


def test_page_hinkley_matches_river_doctest():
    assert ours(ConceptDriftMonitor("page_hinkley"), river_stream())[0] == [1006]


@pytest.mark.parametrize(("name", "cls"), [("ddm", binary.DDM), ("eddm", binary.EDDM),
                                           ("hddm_a", binary.HDDMA), ("hddm_w", binary.HDDMW)])
def test_binary_detectors_match_river(name, cls):
    expected = river_indices(cls(), [bool(v) for v in binary_stream()])
    assert expected[0], "the seeded stream must contain a detection"
    assert ours(ConceptDriftMonitor(name), binary_stream()) == expected


def test_kswin_feature_detector_matches_river():
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.normal(0, 1, 600), rng.normal(3, 1, 600)])
    expected, _ = river_indices(drift.KSWIN(seed=0), values.tolist())
    det = StreamingFeatureDetector("kswin")
    assert [e.index for e in det.update(values, ts_ms=0)] == expected and expected


def test_event_fields_and_nan_skipping():
    det = StreamingFeatureDetector("adwin")
    x = np.array(river_stream(), dtype=float)
    x = np.insert(x, 10, np.nan)
    events = det.update(x, ts_ms=np.arange(len(x)) + 1_000)
    assert [(e.detector, e.state, e.index, e.ts_ms) for e in events] == [("adwin", "drift", 1023, 1_000 + 1024)]
    assert det.n == 2000


def test_state_and_snapshot_restore_mid_stream():
    stream = np.asarray(binary_stream(), dtype=float)
    a = ConceptDriftMonitor("ddm")
    a.update(stream[:1400], 0)
    b = ConceptDriftMonitor.restore(json.loads(json.dumps(a.snapshot())))
    assert (b.n, b.state) == (a.n, a.state)
    assert a.update(stream[1400:], 0) == b.update(stream[1400:], 0)


def test_binary_detector_rejects_non_binary_errors():
    with pytest.raises(ValueError, match="^errors: ddm needs 0/1 errors"):
        ConceptDriftMonitor("ddm").update(np.array([0.0, 0.5]), 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"detector": "cusum"}, "detector: 'cusum' is not a known detector (expected one of: adwin, ddm, eddm, hddm_a, hddm_w, page_hinkley)"),
     ({"detector": "adwin", "delta": 2.0}, "delta: 2.0 is out of range"),
     ({"detector": "adwin", "foo": 1}, "foo: not a parameter of adwin")],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(DetectorConfigError) as info:
        ConceptDriftMonitor(**kwargs)
    assert str(info.value).startswith(message)

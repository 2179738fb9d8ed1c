"""Live versions per model are capped: past the cap, the idle version goes or the new one is ``_other``."""

from __future__ import annotations

import json
from types import SimpleNamespace

from driftline.settings import VersionLimits, parse_settings
from driftline.stream.processor import BatchOutput, Processor
from driftline.stream.versions import OTHER_VERSION, admit_version

T0 = 1_795_600_800_000
DAY_MS = 86_400_000


def settings(max_per_model: int, **model):
    return parse_settings({
        "worker": {"versions": {"max_per_model": max_per_model, "retire_after": "7d"}},
        "models": [{"name": "credit", "features": {"income": "numeric", "country": "categorical"},
                    "reference": {"warmup_events": 50}, "window": {"size": "10s", "idle_close": "3s"}, **model}]})


def prediction(i: int, version: str, ts: int) -> tuple:
    value = {"event_id": f"e{i}", "model": "credit", "version": version, "ts": ts,
             "features": {"income": float(i % 13), "country": "DE"}, "prediction": 1}
    return (0, i, json.dumps(value).encode(), 0)


def label(i: int, ts: int) -> tuple:
    return (0, i, json.dumps({"event_id": f"e{i}", "model": "credit", "ts": ts, "label": 1}).encode(), 0)


def test_versions_past_the_cap_are_monitored_as_other_and_stored_as_sent():
    processor = Processor(settings(3))
    state = processor.new_partition(0)
    out = BatchOutput()
    n = 3_000  # one distinct version per event
    processor.process(state, [prediction(i, f"build-{i}", T0 + i) for i in range(n)],
                      [label(i, T0 + i + 1) for i in range(n)], T0, out)
    assert sorted(v for _, v in state.monitors) == ["_other", "build-0", "build-1", "build-2"]
    assert dict(out.folded) == {"credit": n - 3}
    assert out.predictions.version == [f"build-{i}" for i in range(n)]  # stored with their own version
    other = state.monitors[("credit", OTHER_VERSION)]
    assert other.builder is None and other.reference is not None  # its warm-up took the folded events
    processor.close_windows(state, T0 + 60_000, out)  # idle: everything closes
    labelled = {r.version: r.n_labels for r in out.reports if r.n_labels}
    assert labelled == {"_other": n - 3, "build-0": 1, "build-1": 1, "build-2": 1}  # labels join the _other monitor
    assert len(state.engines) <= 4


def test_the_checkpoint_stays_the_size_of_the_cap_whatever_the_number_of_versions():
    def snapshot_bytes(versions: int) -> int:
        processor = Processor(settings(20))
        state = processor.new_partition(0)
        events = [prediction(i, f"v{i % versions}", T0 + i) for i in range(6_000)]
        processor.process(state, events, [], T0, BatchOutput())
        return len(state.snapshot())

    at_cap = snapshot_bytes(21)
    assert snapshot_bytes(3_000) < 1.2 * at_cap
    assert at_cap < 2_000_000


def test_an_idle_version_is_retired_to_make_room():
    processor = Processor(settings(2))
    state = processor.new_partition(0)
    out = BatchOutput()
    processor.process(state, [prediction(i, f"v{i % 2 + 1}", T0 + i) for i in range(100)], [], T0, out)
    processor.close_windows(state, T0 + 60_000, out)  # idle close: no open window is left
    later = T0 + 8 * DAY_MS  # more than retire_after (7d) since their last event
    processor.process(state, [prediction(1_000, "v3", later)], [], later, out)
    assert sorted(v for _, v in state.monitors) == ["v2", "v3"]  # v1 and v2 tie: the first by name goes
    assert dict(out.folded) == {}


def idle_monitor(last_ms: int, **state) -> SimpleNamespace:
    return SimpleNamespace(windows={}, label_windows={}, last_event_at_ms=last_ms, last_label_at_ms=0, **state)


def test_a_version_with_an_open_window_a_firing_alert_or_recent_events_is_not_retired():
    limits = VersionLimits(max_per_model=3, retire_after_ms=DAY_MS)
    now = 10 * DAY_MS
    firing = SimpleNamespace(active=lambda: ["an alert"])
    state = SimpleNamespace(
        monitors={("m", "open"): idle_monitor(0, ), ("m", "alerting"): idle_monitor(0),
                  ("m", "recent"): idle_monitor(now - 1000), ("other-model", "x"): idle_monitor(0)},
        engines={("m", "alerting"): firing})
    state.monitors[("m", "open")].windows = {0: "a window"}
    assert admit_version(state, "m", "new", now, limits) == OTHER_VERSION
    assert admit_version(state, "m", "alerting", now, limits) == "alerting"  # a live version stays itself
    state.monitors[("m", "open")].windows = {}
    assert admit_version(state, "m", "new", now, limits) == "new"
    assert ("m", "open") not in state.monitors and ("other-model", "x") in state.monitors

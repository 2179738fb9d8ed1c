"""A changed reference for an already checkpointed version (issue 18): the config wins, and it shows.

Before, a version whose warm-up reference was checkpointed kept it after the model was switched to a
profile, silently. Now the configured reference replaces it at the restore, the version's drift state
restarts on it, a WARNING names both, ``driftline_reference_info`` carries the reference's digest and
``driftline_reference_changes_total`` counts the replacement, and the status page shows it.
"""

from __future__ import annotations

import json
import logging

import numpy as np
from driftline.detectors import ReferenceProfile
from driftline.settings import parse_settings
from driftline.sinks.metrics import WorkerMetrics
from driftline.stream.monitor_state import reference_digest
from driftline.stream.processor import BatchOutput, Processor
from driftline.stream.reference_watch import ReferenceWatch
from prometheus_client import CollectorRegistry

T0 = 1_795_600_800_000
FEATURES = {"amount": "numeric"}


def settings(reference: dict):
    return parse_settings({"models": [{"name": "loan", "features": FEATURES, "reference": reference,
                                       "window": {"size": "10s", "idle_close": "3s"}}]})


def events(n: int, *, start: int, mean: float, seed: int):
    rng = np.random.default_rng(seed)
    return [(0, start + i, json.dumps({"event_id": f"e{start + i}", "model": "loan", "version": "v1",
                                       "ts": T0 + (start + i) * 10, "features": {"amount": float(rng.normal(mean, 1))},
                                       "prediction": 0, "score": 0.2}).encode(), 0) for i in range(n)]


def feed(processor, state, batch, now_ms):
    out = BatchOutput()
    processor.process(state, batch, [], now_ms, out)
    processor.close_windows(state, now_ms, out)
    return out


def profile(mean: float, seed: int) -> ReferenceProfile:
    rng = np.random.default_rng(seed)
    return ReferenceProfile.from_columns(FEATURES, {"amount": rng.normal(mean, 1, 5000)})


def warmed_up_checkpoint() -> bytes:
    """A partition whose v1 built its warm-up reference from amounts around 0, then was checkpointed."""
    processor = Processor(settings({"warmup_events": 500}))
    state = processor.new_partition(0)
    feed(processor, state, events(800, start=0, mean=0.0, seed=1), T0 + 8_000)
    assert state.monitors[("loan", "v1")].reference is not None
    return state.snapshot()


def metric(registry: CollectorRegistry, name: str) -> dict:
    return {tuple(sorted(s.labels.items())): s.value for f in registry.collect() for s in f.samples if s.name == name}


def test_a_profile_configured_after_the_warm_up_replaces_it_at_the_restore(caplog):
    blob = warmed_up_checkpoint()
    shifted = profile(mean=5.0, seed=2)  # amounts around 5: the same traffic drifts against it
    processor = Processor(settings({"profile": "loan.profile.json"}), {"loan": shifted})
    with caplog.at_level(logging.WARNING, logger="driftline.monitor"):
        state = processor.restore_partition(blob)
    monitor = state.monitors[("loan", "v1")]
    assert monitor.reference is shifted
    assert monitor.reference_replaced.startswith("warm-up reference (sha256 ")
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("loan/v1: a reference was configured since the checkpoint; the configured profile "
                           f"(sha256 {reference_digest(shifted)[:12]}) replaces the checkpointed warm-up reference")
    out = feed(processor, state, events(600, start=800, mean=0.0, seed=3), T0 + 20_000)
    drift = [[d.drifted for d in r.drift if d.feature == "amount"] for r in out.reports]
    assert drift and all(any(d) for d in drift)  # tested against the profile, not the old warm-up


def test_the_same_reference_is_kept_silently_and_a_changed_or_removed_one_is_said(caplog):
    first = profile(mean=0.0, seed=2)
    processor = Processor(settings({"profile": "p.json"}), {"loan": first})
    state = processor.new_partition(0)
    feed(processor, state, events(100, start=0, mean=0.0, seed=1), T0 + 1000)
    blob = state.snapshot()
    with caplog.at_level(logging.WARNING, logger="driftline.monitor"):
        kept = Processor(settings({"profile": "p.json"}), {"loan": profile(mean=0.0, seed=2)}).restore_partition(blob)
        assert kept.monitors[("loan", "v1")].reference_replaced is None and not caplog.records
        changed = Processor(settings({"profile": "p.json"}), {"loan": profile(mean=0.0, seed=9)}).restore_partition(blob)
        assert changed.monitors[("loan", "v1")].reference_replaced.startswith("configured reference (sha256 ")
        removed = Processor(settings({"warmup_events": 50})).restore_partition(blob)
    monitor = removed.monitors[("loan", "v1")]
    assert monitor.reference is None and monitor.builder is not None  # a new warm-up starts
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "loan/v1: the configured reference changed since the checkpoint",
        "loan/v1: the reference was removed from the config"]
    assert "the warm-up of 50 events that starts now replaces" in caplog.records[1].getMessage()


def test_the_watch_puts_each_versions_reference_in_the_metrics_and_drops_gone_ones(caplog):
    blob = warmed_up_checkpoint()
    configured = profile(mean=0.0, seed=2)
    registry = CollectorRegistry()
    watch = ReferenceWatch(WorkerMetrics(registry))
    restored = Processor(settings({"profile": "loan.profile.json"}), {"loan": configured}).restore_partition(blob)
    warming = Processor(settings({"warmup_events": 500}))
    fresh = warming.new_partition(1)
    feed(warming, fresh, events(10, start=0, mean=0.0, seed=4), T0 + 1000)
    watch.observe({0: restored, 1: fresh})
    digest = reference_digest(configured)[:12]
    assert metric(registry, "driftline_reference_info") == {
        (("digest", digest), ("model", "loan"), ("source", "profile"), ("version", "v1")): 1.0,
        (("digest", ""), ("model", "loan"), ("source", "warmup"), ("version", "v1")): 1.0}
    assert metric(registry, "driftline_reference_changes_total") == {(("model", "loan"),): 1.0}
    assert [(r.partition, r.source, r.digest, r.replaced is not None) for r in watch.current()] == [
        (0, "profile", digest, True), (1, "warmup", "", False)]
    # The warm-up completes: said once in the log; partition 0 is revoked: its series goes.
    with caplog.at_level(logging.INFO, logger="driftline.references"):
        feed(warming, fresh, events(600, start=10, mean=0.0, seed=5), T0 + 9000)
        watch.observe({1: fresh})
        watch.observe({1: fresh})
    ready = reference_digest(fresh.monitors[("loan", "v1")].reference)[:12]
    assert [r.getMessage() for r in caplog.records if r.name == "driftline.references"] == [
        f"loan/v1 (partition 1): the warm-up reference is ready (sha256 {ready})"]
    assert metric(registry, "driftline_reference_info") == {
        (("digest", ready), ("model", "loan"), ("source", "warmup"), ("version", "v1")): 1.0}
    assert metric(registry, "driftline_reference_changes_total") == {(("model", "loan"),): 1.0}

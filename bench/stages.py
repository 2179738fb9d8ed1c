"""Exclusive (self) time per hot-path stage, by wrapping a few per-batch functions in this process.

Only functions called a handful of times per consumed batch are wrapped (never
per event), so the overhead is a few microseconds per 10,000-message batch.
Time spent in a nested wrapped stage is charged to that stage, not its caller.
"""

from __future__ import annotations

import functools
import gc
import importlib
import threading
import time
from collections import defaultdict
from collections.abc import Callable

import driftline.stream.wiring

# (module, attribute path, stage); tests/test_bench.py checks that every target exists.
_TARGETS = (
    ("driftline.stream.events", "EventDecoder.decode", "decode + validate"),
    ("driftline.stream.processor", "build_columns", "columns (events -> numpy)"),
    ("driftline.sinks.rows", "PredictionRows.add", "row buffers"),
    ("driftline.stream.join", "LabelJoin.add_predictions", "label join"),
    ("driftline.stream.processor", "Processor._predictions", "predictions: other"),
    ("driftline.stream.processor", "Processor._feedback", "feedback: join + rows"),
    ("driftline.stream.monitor", "ModelMonitor.add_predictions", "window sketches"),
    ("driftline.stream.monitor", "ModelMonitor.add_labels", "labels + concept detector"),
    ("driftline.stream.processor", "Processor.close_windows", "window close + alert rules"),
    ("driftline.detectors.suite", "DriftSuite.evaluate", "drift tests"),
    ("driftline.stream.ingest", "IngestLoop._emit", "emit (metrics, buffers)"),
    ("driftline.stream.checkpoints", "CheckpointCoordinator.flush", "store insert"),
    ("driftline.stream.checkpoints", "CheckpointCoordinator.checkpoint", "checkpoint + commit"),
    ("driftline.stream.broker_offsets", "BrokerOffsets.report_lag", "lag report"),
    ("driftline.stream.ingest", "IngestLoop.step", "step (group by partition)"),
)


def _resolve(module: str, path: str):
    owner = importlib.import_module(module)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent, None)
        if owner is None:
            return None, name
    return (owner, name) if hasattr(owner, name) else (None, name)


class StageTimer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._local = threading.local()
        self._saved: list[tuple[object, str, object]] = []

    def install(self) -> StageTimer:
        for module, path, stage in _TARGETS:
            owner, name = _resolve(module, path)
            if owner is None:
                continue
            original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
            self._saved.append((owner, name, original))
            setattr(owner, name, self._wrap(original, stage))
        gc.callbacks.append(self._on_gc)
        return self

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._local.gc_started = time.perf_counter()
        elif getattr(self._local, "gc_started", None) is not None:
            self.charge(f"python gc (gen {info.get('generation')})", time.perf_counter() - self._local.gc_started)
            self._local.gc_started = None

    def uninstall(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def charge(self, stage: str, seconds: float) -> None:
        """Charge time measured elsewhere (the consumer proxy) and exclude it from the caller."""
        self.seconds[stage] += seconds
        self.calls[stage] += 1
        stack = getattr(self._local, "stack", None)
        if stack:
            stack[-1] += seconds

    def _wrap(self, fn: Callable, stage: str) -> Callable:
        timer = self

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            stack = timer._local.__dict__.setdefault("stack", [])
            stack.append(0.0)
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                nested = stack.pop()
                timer.seconds[stage] += elapsed - nested
                timer.calls[stage] += 1
                if stack:
                    stack[-1] += elapsed

        return wrapper


class TimedConsumer:
    """Delegates to a confluent-kafka Consumer; ``consume`` time is charged to the 'kafka consume' stage."""

    def __init__(self, consumer, timer: StageTimer, on_batch: Callable[[list], None]) -> None:
        self._consumer = consumer
        self._timer = timer
        self._on_batch = on_batch

    def consume(self, *args, **kwargs):
        started = time.perf_counter()
        batch = self._consumer.consume(*args, **kwargs)
        self._timer.charge("kafka consume", time.perf_counter() - started)
        if batch:
            self._on_batch(batch)
        return batch

    def __getattr__(self, name):
        return getattr(self._consumer, name)


def patch_wiring(timer: StageTimer, on_batch: Callable[[list], None], on_insert: Callable[[str, int], None]):
    """Make ``driftline.stream.wiring`` build a timed consumer and stores that report each insert."""
    wiring = driftline.stream.wiring
    original_consumer, original_store = wiring.build_consumer, wiring.build_store

    def build_consumer(settings):
        return TimedConsumer(original_consumer(settings), timer, on_batch)

    def build_store(url, **options):
        store = original_store(url, **options)
        insert = store.insert

        def reporting_insert(table, columns):
            insert(table, columns)
            on_insert(table, len(next(iter(columns.values()))) if columns else 0)

        store.insert = reporting_insert
        return store

    wiring.build_consumer, wiring.build_store = build_consumer, build_store

    def restore() -> None:
        wiring.build_consumer, wiring.build_store = original_consumer, original_store

    return restore

"""driftline end to end, in process: the real Runtime (IngestLoop thread) from first message to last row stored.

The clock starts when the worker's consumer returns its first non-empty
batch. It stops when the store has acknowledged every prediction and
feedback row and the reports of every data window (the run ends with one
watermark event per stream, so windows close by watermark, as with live
traffic, not by the idle timeout).
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass, field

from driftline.settings import Settings
from driftline.stream.app import Runtime
from prometheus_client import CollectorRegistry

from .stages import StageTimer, patch_wiring
from .traffic import FEATURES, Plan

METRIC_TABLES = ("window_metrics", "drift_results")


@dataclass
class WorkerRun:
    seconds: float
    predictions: int
    messages: int
    stages: dict[str, float]  # self seconds per stage
    histograms: dict[str, float]  # Prometheus histogram sums (seconds)
    windows_closed: int
    checks: dict[str, object] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.predictions / self.seconds


class _Progress:
    """Updated from the ingest thread: by the consumer proxy and after every store insert."""

    def __init__(self, expected_rows: dict[str, int], expected_windows: int) -> None:
        self.expected = expected_rows
        self.expected_windows = expected_windows
        self.rows: dict[str, int] = {}
        self.first_batch: float | None = None
        self.messages = 0
        self.windows_stored = 0
        self.done_at: float | None = None
        self.runtime: Runtime | None = None
        self.timer: StageTimer | None = None
        self.stages_at_done: dict[str, float] = {}

    def on_batch(self, batch: list) -> None:
        if self.first_batch is None:
            self.first_batch = time.perf_counter()
            if self.timer is not None:  # group join and assignment happen before the clock starts
                self.timer.reset()
        self.messages += len(batch)

    def on_insert(self, table: str, rows: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + rows
        if table == "window_metrics" and self.runtime is not None:
            # Reports are counted in _emit before they are buffered, so every counted window is in this insert.
            self.windows_stored = windows_closed(self.runtime)
        if self.done_at is None and self.windows_stored >= self.expected_windows and all(
                self.rows.get(t, 0) >= n for t, n in self.expected.items()):
            self.done_at = time.perf_counter()
            self.stages_at_done = dict(self.timer.seconds) if self.timer else {}


def windows_closed(runtime: Runtime) -> int:
    total = 0
    for metric in runtime.metrics.windows_closed.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                total += int(sample.value)
    return total


async def _drive(settings: Settings, progress: _Progress, timeout: float) -> Runtime:
    runtime = Runtime(settings, registry=CollectorRegistry())
    progress.runtime = runtime
    await runtime.start()
    deadline = time.monotonic() + timeout
    try:
        while progress.done_at is None:
            if runtime.loop_thread is not None and not runtime.loop_thread.is_alive():
                raise RuntimeError("the ingest loop died (see the log)")
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker not done after {timeout:g}s: {progress.rows}, "
                                   f"{progress.windows_stored}/{progress.expected_windows} windows")
            await asyncio.sleep(0.01)
    finally:
        await runtime.stop()
    return runtime


def run_worker(settings: Settings, plan: Plan, expected_feedback: int, *,
               timeout: float = 900.0) -> tuple[WorkerRun, Runtime]:
    windows = plan.windows()["per_stream"] * len(plan.streams)
    tests_per_window = len(FEATURES)  # default drift settings: one test per feature (psi / chi2)
    expected = {"predictions": plan.predictions + len(plan.streams), "feedback": expected_feedback,
                "drift_results": windows * tests_per_window}
    progress = _Progress(expected, windows)
    timer = progress.timer = StageTimer().install()
    restore = patch_wiring(timer, progress.on_batch, progress.on_insert)
    try:
        runtime = asyncio.run(_drive(settings, progress, timeout))
    finally:
        restore()
        timer.uninstall()
        release_runtime(progress.runtime)
    run = WorkerRun(
        seconds=progress.done_at - progress.first_batch,
        predictions=plan.predictions,
        messages=progress.messages,
        stages=progress.stages_at_done,
        histograms=histogram_sums(runtime.registry),
        windows_closed=progress.windows_stored,
    )
    return run, runtime


def release_runtime(runtime: Runtime | None) -> None:
    """Drop the stopped worker's producer while the broker is still up.

    ``Runtime.stop`` neither flushes nor closes its producer, and ``Runtime.start``
    freezes the heap (``gc.freeze()``), so the producer would only be destroyed at
    interpreter exit, after the broker is gone: librdkafka then retries for
    ``message.timeout.ms`` (5 min) and the interpreter crashed in teardown.
    """
    if runtime is None:
        return
    producer = runtime.ingest.producer if runtime.ingest is not None else None
    if producer is not None:
        producer.flush(5)
        producer.purge()
    runtime.ingest = runtime.dispatcher = None
    if runtime.read_store is not None:
        try:
            runtime.read_store.close()
        except Exception:  # noqa: BLE001 - best effort, the run is over
            pass
    gc.unfreeze()
    gc.collect()


def histogram_sums(registry: CollectorRegistry) -> dict[str, float]:
    wanted = ("driftline_batch_duration_seconds", "driftline_clickhouse_insert_duration_seconds",
              "driftline_checkpoint_duration_seconds")
    out: dict[str, float] = {}
    for metric in registry.collect():
        if metric.name not in wanted:
            continue
        for sample in metric.samples:
            if sample.name.endswith("_sum"):
                label = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                out[f"{metric.name}{{{label}}}" if label else metric.name] = sample.value
    return out

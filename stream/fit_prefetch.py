"""Null fits of ``threshold: auto`` made ahead of a window's close, on a background thread.

A calibrated test needs the null fits of its (feature, test, window size) the first time a window
of that size closes, about 0.2-0.3 s each (detectors/calibration.py): made inside the close, a
13-feature model's first close paused the ingest thread some 15 s, a model with hundreds of
features for minutes, past ``max.poll.interval.ms``. A monitor asks for the fits of its open
window's expected size while the window fills (:meth:`~driftline.stream.monitor.ModelMonitor.add_predictions`),
and this thread makes them.

Results do not depend on it: a fit is a deterministic function of its reference, feature, test
and size (its resampling is seeded from their names), so a close finds it made here or makes it
itself, with the same value; a fit made twice (here and by a close that did not wait) is the
same tuple stored twice. Asking never blocks: when the queue is full the request is dropped and
counted (a close then makes its fits itself, as without this). The fitting is numpy's multinomial
sampling, which releases the GIL, so on a second core it costs the ingest thread little; on a
busy machine it still takes a core's time, so the thread rests after each fit for as long as the
fit took (``duty``: at most half a core). The thread starts on the first request and ends after
``idle_s`` without one.

>>> import numpy as np
>>> from driftline.detectors import DriftSuite, ReferenceProfile
>>> from driftline.detectors.settings import DriftSettings
>>> ref = ReferenceProfile.from_columns({"x": "numeric"}, {"x": np.random.default_rng(0).normal(size=2000)})
>>> fetch = FitPrefetch()
>>> fetch.ask(DriftSuite(ref, DriftSettings()), 500)
True
>>> fetch.wait(timeout_s=60)
True
>>> sorted({size for (_, _, size) in ref.calibration.fits})
[400, 566, 800, 1131]
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

__all__ = ["FitPrefetch"]

log = logging.getLogger(__name__)


class FitPrefetch:
    """One daemon thread making the null fits monitors ask for (see the module docstring)."""

    def __init__(self, max_queued: int = 64, idle_s: float = 30.0, duty: float = 0.5) -> None:
        if max_queued < 1:
            raise ValueError(f"max_queued: {max_queued} is invalid, expected at least 1")
        if idle_s <= 0:
            raise ValueError(f"idle_s: {idle_s} is invalid, expected a positive number of seconds")
        if not 0 < duty <= 1:
            raise ValueError(f"duty: {duty} is invalid, expected a share of a core in (0, 1]")
        self.idle_s = idle_s
        self.duty = duty
        self._queue: queue.Queue = queue.Queue(maxsize=max_queued)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.asked = self.dropped = self.failed = 0
        self.made = 0  # fits made here (a close that found them saved their time)

    def ask(self, suite: Any, n: int) -> bool:
        """Queue the fits of ``suite`` for windows of about ``n`` values (and their accumulated
        merges); False when the queue was full and the request dropped."""
        with self._lock:
            try:
                self._queue.put_nowait((suite, int(n)))
            except queue.Full:
                self.dropped += 1
                log.debug("null-fit prefetch queue full: request for %d values dropped (%d so far); "
                          "the window's close makes its fits itself", n, self.dropped)
                return False
            self.asked += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="driftline-fit-prefetch", daemon=True)
                self._thread.start()
        return True

    def wait(self, timeout_s: float = 60.0) -> bool:
        """Until every queued request is done (for tests and benchmarks); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return self._queue.unfinished_tasks == 0

    def _pacer(self):
        """After each fit, rest so that fitting takes at most ``duty`` of this thread's time."""
        last = [time.monotonic()]

        def rest() -> None:
            worked = time.monotonic() - last[0]
            if self.duty < 1:
                time.sleep(worked * (1 - self.duty) / self.duty)
            last[0] = time.monotonic()
        return rest

    def _run(self) -> None:
        while True:
            try:
                suite, n = self._queue.get(timeout=self.idle_s)
            except queue.Empty:
                with self._lock:  # no request can be queued between this check and the exit
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            try:
                calibration = suite.reference.calibration
                before = len(calibration)
                suite.calibrate([n], after_fit=self._pacer())
                self.made += len(calibration) - before
            except Exception:  # noqa: BLE001 -- a failed prefetch is only time not saved
                self.failed += 1
                log.warning("null-fit prefetch for %d values failed (the close makes the fits itself)",
                            n, exc_info=True)
            finally:
                self._queue.task_done()

"""The calibration gate: a window closes once the null fits its drift tests need are made.

``threshold: auto`` fits a test's null the first time a (feature, test, window size) is needed
(:mod:`~driftline.detectors.calibration`): 0.2-0.5 s a fit, and a model's first window close
needs features x auto tests x 2 sizes of them (more with rolling baselines, accumulation and
segment references): minutes for hundreds of features, past ``max.poll.interval.ms``. Made
inside one close, they would get the consumer evicted, and the restored worker would start them
again. So before a prediction window closes, :func:`calibrated` asks which fits its close needs
(a probe of the reference suite, each rolling baseline and the segment suites; no state
changes) and makes them within the pass's :class:`FitBudget`; while some are missing the window
stays open (and keeps taking its events) and later passes continue. Its label window waits for it
as it always does. The results are those fitting on demand gives; only their timing changes.

A pass (:meth:`~driftline.stream.processor.Processor.close_windows`) spends at most about
:data:`FIT_SECONDS_PER_PASS` fitting, however many models (a fit starts only before the deadline:
at most one fit more), and at least one fit, so the calibration always progresses.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from driftline.detectors import DriftSuite, WindowSketch

__all__ = ["FIT_SECONDS_PER_PASS", "FitBudget", "calibrated"]

log = logging.getLogger(__name__)

# Fitting time per close pass: well under max.poll.interval.ms (300 s), short enough that a pass
# still polls promptly, long enough for 1-2 fits (0.2-0.5 s each) per pass.
FIT_SECONDS_PER_PASS = 0.5


class FitBudget:
    """The fitting time one close pass may spend, shared by every model it closes."""

    def __init__(self, seconds: float = FIT_SECONDS_PER_PASS, clock: Callable[[], float] = time.perf_counter) -> None:
        if seconds < 0:
            raise ValueError(f"seconds: {seconds} is negative")
        self.clock = clock
        self.deadline = clock() + seconds
        self.fits = 0  # made in this pass

    def fit(self, calibrations: list[Any]) -> bool:
        """Make the calibrations' wanted fits within the budget (the pass's first fit always);
        True when none is left."""
        done = True
        for cal in calibrations:
            before = len(cal)
            done = cal.fit_wanted(self.deadline, self.clock, at_least=0 if self.fits else 1) and done
            self.fits += len(cal) - before
        return done


def calibrated(monitor: Any, sketch: WindowSketch | None, start_ms: int, groups: Any, budget: FitBudget | None) -> bool:
    """Whether the prediction window at ``start_ms`` (its ``sketch`` and segment ``groups``) may
    close now: every fit its close needs is made, after making what ``budget`` allows.
    No budget: always (fits are made on demand, inside the close)."""
    if budget is None:
        return True
    probes = _probes(monitor, sketch, start_ms, groups)
    missing = sum(suite.wanted_fits(*args) for suite, args in probes)
    if not missing:
        return True
    if not monitor.calibration_logged:
        monitor.calibration_logged = True
        log.info("%s/%s: calibrating %d null fits for threshold: auto; windows wait",
                 monitor.model, monitor.version, missing)
    calibrations = list({id(s.reference.calibration): s.reference.calibration for s, _ in probes}.values())
    return budget.fit(calibrations)


def _probes(monitor: Any, sketch: WindowSketch | None, start_ms: int, groups: Any) -> list[tuple[DriftSuite, tuple]]:
    """The (suite, evaluate arguments) pairs the window's close evaluates, as ``ModelMonitor._close`` does."""
    probes: list[tuple[DriftSuite, tuple]] = []
    suite = monitor.suite
    if suite is not None and sketch is not None and sketch.n:
        probes.append((suite, (sketch,)))
        if monitor.history is not None:
            index = start_ms // monitor.settings.window_ms
            probes += [(suite, (sketch, base, name)) for name, base in monitor.history.baselines(index).items()]
    drift = monitor.segments.drift if monitor.segments is not None else None
    window = groups if groups is not None else (monitor.segments.windows.get(start_ms) if drift else None)
    if drift is not None and window is not None:
        for by_group in window.sketches.values():
            for group_sketch in by_group.values():
                if group_sketch.n >= drift.min_rows:
                    probes.append((DriftSuite(group_sketch.profile, drift.suite_settings), (group_sketch,)))
    return probes

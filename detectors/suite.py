"""Run a model's drift tests over a window, with correction and persistence."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from .batch_tests import batched, compare_all, stacks
from .calibration import alpha_for, ladder_around
from .correction import Persistence, adjust_p_values, cauchy_combination
from .drift_registry import DriftTest
from .profile import ReferenceProfile
from .results import DriftResult
from .settings import DriftSettings
from .window import WindowSketch

__all__ = ["DriftSuite", "simes"]


def simes(p_window: float, p_recent: float) -> float:
    """Simes' combination of the window's and the accumulated windows' p-values: ``min(2 p_(1), p_(2))``.

    A valid p-value for "neither changed" when the two are positively dependent, as these are
    (the window is part of the merge); never above Bonferroni's ``2 min``, and equal to the larger
    when both are small (a lasting change).

    >>> simes(0.001, 0.5), simes(0.004, 0.003)
    (0.002, 0.004)
    """
    lo, hi = sorted((p_window, p_recent))
    return min(2.0 * lo, hi, 1.0)


class DriftSuite:
    """Evaluate every configured test on every feature of a window.

    Results come in profile feature order, then test order. A feature's calibrated (``auto``) tests
    are one hypothesis: their p-values are combined into one by
    :func:`~driftline.detectors.correction.cauchy_combination` (``settings.combine``), and a drifted
    feature flags the test(s) that decided it, those at or below the combination. The features'
    p-values, and those of fixed-threshold p-value tests (``ks``, ``chi2``), are corrected together
    within the window (``settings.correction``: Holm by default); then k-of-n persistence is applied
    per (feature, test) across successive :meth:`evaluate` calls. A feature with no
    non-missing value in the window gives no result (and no persistence step).

    With ``settings.accumulate = k > 1`` a p-valued test also judges the merge of the last ``k``
    windows compared with the reference (their counts add up: a lasting small change gathers
    evidence as a CUSUM would), and its p-value is :func:`simes` of the window's and the
    merge's, as long as the merge holds at most half as many values as the reference (beyond,
    the reference's own sampling error dominates and merging adds little but its bias). The
    suite keeps the last ``k - 1`` windows' sketches (bounded; in :meth:`snapshot`);
    rolling-baseline evaluations neither use nor join them.

    A ``threshold: auto`` test's statistic gets the calibrated p-value of the reference's
    :class:`~driftline.detectors.calibration.Calibration`; it is then a p-value test, corrected
    with the others, at the alpha that gives the model ``settings.target`` false alarms per
    window after correction and persistence (:func:`~driftline.detectors.calibration.alpha_for`).

    >>> import numpy as np
    >>> from driftline.detectors import ReferenceProfile, WindowSketch
    >>> rng = np.random.default_rng(0)
    >>> ref = ReferenceProfile.from_columns(
    ...     {"x": "numeric", "c": "categorical"},
    ...     {"x": rng.normal(0, 1, 5000), "c": rng.choice(np.array(["a", "b"], dtype=object), 5000)})
    >>> suite = DriftSuite(ref, DriftSettings())
    >>> w = WindowSketch(ref)
    >>> w.update({"x": rng.normal(2, 1, 1000), "c": rng.choice(np.array(["a", "b"], dtype=object), 1000)})
    >>> [(r.feature, r.test, r.drifted) for r in suite.evaluate(w)]
    [('x', 'wasserstein', True), ('x', 'ranks', True), ('x', 'moments', True), ('c', 'chi2', False)]
    """

    def __init__(self, reference: ReferenceProfile, settings: DriftSettings | None = None, *,
                 batch: bool = True) -> None:
        self.reference = reference
        self.settings = settings if settings is not None else DriftSettings()
        self._tests: dict[str, tuple[DriftTest, ...]] = {
            "numeric": tuple(spec.build() for spec in self.settings.numeric),
            "categorical": tuple(spec.build() for spec in self.settings.categorical),
        }
        self._auto = {"numeric": tuple(spec.auto for spec in self.settings.numeric),
                      "categorical": tuple(spec.auto for spec in self.settings.categorical)}
        self._persistence = Persistence(*self.settings.persistence)
        self._recent: deque[WindowSketch] = deque(maxlen=max(self.settings.accumulate - 1, 0))
        # The numeric tests run for every feature at once (detectors/batch_tests.py); ``batch=False``
        # runs them one feature at a time, the reference the batched path is tested against.
        self._batched = {kind: tuple((i, t, a) for i, (t, a) in enumerate(zip(self._tests[kind], self._auto[kind], strict=True))
                                     if batch and batched(t)) for kind in ("numeric", "categorical")}
        self._scales: dict[int, Any] | None = None

    def evaluate(self, window: WindowSketch, baseline: WindowSketch | None = None,
                 baseline_name: str = "reference") -> list[DriftResult]:
        """One :class:`DriftResult` per (feature, test) of this window.

        ``baseline`` compares the window with another window's counts (e.g. the previous k
        windows merged, or the same window last period: :mod:`~driftline.detectors.baselines`)
        instead of the reference; the reference still fixes the bins. ``baseline_name`` goes
        into the results and keys the persistence history apart from the reference's.
        """
        rows: list[tuple[str, int, DriftTest, float, float | None, bool]] = []
        calibration = self.reference.calibration
        recent = self._accumulated(window) if baseline is None else None
        done = self._compare_batched(window, baseline, recent)
        for name, ref in self.reference.features.items():
            win = window.features.get(name)
            base = None if baseline is None else baseline.features.get(name)
            if win is None or win.n == 0 or ref.n == 0 or (baseline is not None and (base is None or base.n == 0)):
                continue
            for i, test in enumerate(self._tests[ref.kind]):
                auto = self._auto[ref.kind][i]
                p_merged = None
                if (name, i) in done:  # computed with every feature's at once
                    statistic, p_value, p_merged = done[(name, i)]
                else:
                    statistic, p_value = test.compare(ref, win, base)
                    if auto:
                        p_value = calibration.p_value(ref, name, test, statistic, win.n,
                                                      None if base is None else base.n)
                merged = None if recent is None else recent.features.get(name)
                # Merging pays while the window's noise (1/n) dominates the reference's (1/N); past
                # half the reference it mostly tests that reference's own draw (a small segment
                # reference, a warm-up reference the size of a window).
                if merged is not None and p_value is not None and 0 < 2 * merged.n <= ref.n:
                    if p_merged is None:
                        p_merged = self._p_recent(ref, name, test, merged, auto)
                    p_value = simes(p_value, p_merged)
                rows.append((name, i, test, statistic, p_value, auto))
        method = self.settings.correction
        p_rows = [j for j, row in enumerate(rows) if row[2].uses_p_value or row[5]]
        # One hypothesis per feature: its calibrated tests combined (Cauchy), then corrected together.
        family_of: dict[str, int] = {}
        groups = [family_of.setdefault(rows[j][0], len(family_of)) if rows[j][5] and self.settings.combine == "cauchy"
                  else family_of.setdefault(f"\0{j}", len(family_of)) for j in p_rows]
        combined = cauchy_combination([rows[j][4] for j in p_rows], groups)
        family_adjusted = adjust_p_values(combined, method)
        adjusted = {j: (float(family_adjusted[g]), float(combined[g])) for j, g in zip(p_rows, groups, strict=True)}
        alpha = alpha_for(self.settings.target_rate, len(family_of), self.settings.persistence)
        importances = self.settings.importances
        results = []
        for j, (name, i, test, statistic, p_value, auto) in enumerate(rows):
            threshold = alpha if auto else test.threshold
            raw = p_value < threshold if auto else test.is_drift(statistic, p_value)
            adj, family_p = adjusted.get(j, (None, None))
            # A drifted feature names the test(s) that decided it: those at or below the combination
            # (never below the smallest of them, but for the last bits of the float arithmetic).
            verdict = adj < threshold and p_value <= family_p * (1 + 1e-9) if adj is not None else raw
            results.append(
                DriftResult(
                    feature=name,
                    test=test.name,
                    statistic=float(statistic),
                    threshold=threshold,
                    drifted=self._persistence.update(
                        (name, i) if baseline_name == "reference" else (f"{name}@{baseline_name}", i), verdict),
                    p_value=p_value,
                    raw_drifted=raw,
                    corrected=method if adj is not None else "none",
                    importance=importances.get(name),
                    adjusted_p_value=adj,
                    baseline=baseline_name,
                )
            )
        return results

    def _compare_batched(self, window: WindowSketch, baseline: WindowSketch | None,
                         recent: WindowSketch | None) -> dict[tuple[str, int], tuple]:
        """The batched tests' ``(statistic, p_value, p_merged)`` per (feature, test index)."""
        if not any(self._batched.values()):
            return {}
        s = stacks(self.reference)
        if self._scales is None:  # what each wasserstein test divides by, per feature
            self._scales = {i: np.array([t.scale(p) for p in s.profiles], dtype=np.float64)
                            for i, t, _ in self._batched["numeric"] if t.name == "wasserstein"}
        done = compare_all(s, self._batched["numeric"], self._scales, window, baseline, recent)
        done.update(compare_all(s, self._batched["categorical"], {}, window, baseline, recent))
        return done

    def _accumulated(self, window: WindowSketch) -> WindowSketch | None:
        """The merge of the last ``accumulate`` windows (this one included), or None while there
        is no earlier one; this window joins the history."""
        if not self._recent.maxlen:
            return None
        merged = None
        if self._recent:
            merged = WindowSketch(self.reference)
            for w in (*self._recent, window):
                merged.merge(w)
        kept = WindowSketch(self.reference)  # a copy: the caller's sketch may live on
        kept.merge(window)
        self._recent.append(kept)
        return merged

    def _p_recent(self, ref, name: str, test: DriftTest, win, auto: bool) -> float:
        statistic, p_value = test.compare(ref, win)
        if auto:
            return self.reference.calibration.p_value(ref, name, test, statistic, win.n)
        return 1.0 if p_value is None else p_value

    def calibrate(self, window_sizes: Iterable[int], after_fit: Callable[[], None] | None = None) -> int:
        """Fit the ``auto`` tests' nulls now for windows of about these sizes, and for the merges of
        up to ``accumulate`` of them (e.g. in ``driftline baseline``, so the saved profile carries
        them and no window close waits for a fit); returns the number of fits held. ``after_fit`` is
        called after each (feature, test, size) (a background caller paces itself there).

        A size on the ladder also gets its neighbours: a window one event longer or shorter (a
        watermark tick, a late event) interpolates between the size and the next one up or down.
        """
        cal = self.reference.calibration
        sizes = sorted({k * n for n in window_sizes for k in range(1, self.settings.accumulate + 1)})
        for n in sizes:  # the window's own size first: a merge's is needed from the next window on
            around = tuple(sorted({s for m in (n - 1, n, n + 1) for s in ladder_around(max(m, 1))}))
            for name, ref in self.reference.features.items():
                for test, auto in zip(self._tests[ref.kind], self._auto[ref.kind], strict=True):
                    if auto and ref.n:
                        cal.ensure(ref, name, test, around)
                        if after_fit is not None:
                            after_fit()
        return len(cal)

    def reset(self) -> None:
        """Forget the persistence history and the accumulated windows."""
        self._persistence.reset()
        self._recent.clear()

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state: persistence and accumulated windows (reference and settings are not included)."""
        return {"persistence": self._persistence.snapshot(), "recent": [w.snapshot() for w in self._recent]}

    @classmethod
    def restore(cls, reference: ReferenceProfile, settings: DriftSettings, snapshot: Mapping[str, Any]) -> DriftSuite:
        """A suite built from ``reference`` and ``settings`` carrying the snapshotted state."""
        suite = cls(reference, settings)
        saved = Persistence.restore(snapshot["persistence"])
        for key, history in saved._history.items():  # settings may have changed k/n since the snapshot
            for verdict in list(history)[-suite._persistence.n :]:
                suite._persistence.update(key, verdict)
        for w in snapshot.get("recent", ()):  # absent before accumulation existed
            suite._recent.append(WindowSketch.restore(reference, w))
        return suite

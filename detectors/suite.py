"""Run a model's drift tests over a window, with correction and persistence."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .calibration import alpha_for, ladder_around
from .correction import Persistence, adjust_p_values
from .drift_registry import DriftTest
from .profile import ReferenceProfile
from .results import DriftResult
from .settings import DriftSettings
from .window import WindowSketch

__all__ = ["DriftSuite"]


class DriftSuite:
    """Evaluate every configured test on every feature of a window.

    Results come in profile feature order, then test order. p-value tests (``ks``,
    ``chi2``) are corrected together across the model's features within the window
    (``settings.correction``); then k-of-n persistence is applied per
    (feature, test) across successive :meth:`evaluate` calls. A feature with no
    non-missing value in the window gives no result (and no persistence step).

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
    [('x', 'wasserstein', True), ('x', 'moments', True), ('c', 'chi2', False)]
    """

    def __init__(self, reference: ReferenceProfile, settings: DriftSettings | None = None) -> None:
        self.reference = reference
        self.settings = settings if settings is not None else DriftSettings()
        self._tests: dict[str, tuple[DriftTest, ...]] = {
            "numeric": tuple(spec.build() for spec in self.settings.numeric),
            "categorical": tuple(spec.build() for spec in self.settings.categorical),
        }
        self._auto = {"numeric": tuple(spec.auto for spec in self.settings.numeric),
                      "categorical": tuple(spec.auto for spec in self.settings.categorical)}
        self._persistence = Persistence(*self.settings.persistence)

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
        for name, ref in self.reference.features.items():
            win = window.features.get(name)
            base = None if baseline is None else baseline.features.get(name)
            if win is None or win.n == 0 or ref.n == 0 or (baseline is not None and (base is None or base.n == 0)):
                continue
            for i, test in enumerate(self._tests[ref.kind]):
                statistic, p_value = test.compare(ref, win, base)
                auto = self._auto[ref.kind][i]
                if auto:
                    p_value = calibration.p_value(ref, name, test, statistic, win.n,
                                                  None if base is None else base.n)
                rows.append((name, i, test, statistic, p_value, auto))
        method = self.settings.correction
        p_rows = [j for j, row in enumerate(rows) if row[2].uses_p_value or row[5]]
        adjusted = dict(zip(p_rows, adjust_p_values([rows[j][4] for j in p_rows], method).tolist(), strict=True))
        alpha = alpha_for(self.settings.target_rate, len(p_rows), self.settings.persistence)
        importances = self.settings.importances
        results = []
        for j, (name, i, test, statistic, p_value, auto) in enumerate(rows):
            threshold = alpha if auto else test.threshold
            raw = p_value < threshold if auto else test.is_drift(statistic, p_value)
            adj = adjusted.get(j)
            verdict = adj < threshold if adj is not None else raw
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

    def calibrate(self, window_sizes: Iterable[int]) -> int:
        """Fit the ``auto`` tests' nulls now for windows of about these sizes (e.g. in ``driftline
        baseline``, so the saved profile carries them); returns the number of fits held."""
        cal = self.reference.calibration
        for name, ref in self.reference.features.items():
            for test, auto in zip(self._tests[ref.kind], self._auto[ref.kind], strict=True):
                if auto and ref.n:
                    for n in window_sizes:
                        cal.ensure(ref, name, test, ladder_around(n))
        return len(cal)

    def reset(self) -> None:
        """Forget the persistence history."""
        self._persistence.reset()

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe persistence state (reference and settings are not included)."""
        return {"persistence": self._persistence.snapshot()}

    @classmethod
    def restore(cls, reference: ReferenceProfile, settings: DriftSettings, snapshot: Mapping[str, Any]) -> DriftSuite:
        """A suite built from ``reference`` and ``settings`` carrying the snapshotted state."""
        suite = cls(reference, settings)
        saved = Persistence.restore(snapshot["persistence"])
        for key, history in saved._history.items():  # settings may have changed k/n since the snapshot
            for verdict in list(history)[-suite._persistence.n :]:
                suite._persistence.update(key, verdict)
        return suite

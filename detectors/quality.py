"""Data quality of one window, per feature: missing, type errors, out-of-range and unseen values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._checks import check_float
from .window import NumericWindow, WindowSketch

__all__ = ["DataQualityCheck", "QualityResult"]


@dataclass(frozen=True, slots=True)
class QualityResult:
    """One quality check of one feature in one window; ``failed`` when ``value > threshold``."""

    feature: str
    check: str  # "missing_rate" | "type_error_rate" | "out_of_range_rate" | "unseen_rate"
    value: float
    threshold: float
    failed: bool
    n: int  # denominator of the rate


class DataQualityCheck:
    """Rates per feature and window, each compared with its threshold (``None`` disables a check).

    * ``missing_rate``: missing values / rows (numeric NaN/inf, categorical None).
    * ``type_error_rate``: rows the caller could not parse / rows (counts passed to :meth:`evaluate`).
    * ``out_of_range_rate`` (numeric): values outside the reference [min, max] / non-missing values.
    * ``unseen_rate`` (categorical): values outside the reference's kept categories / non-missing values.

    Stateless apart from its thresholds: the counts live in the :class:`WindowSketch`.

    >>> import numpy as np
    >>> from driftline.detectors import ReferenceProfile, WindowSketch
    >>> ref = ReferenceProfile.from_columns({"x": "numeric"}, {"x": np.arange(100.0)})
    >>> w = WindowSketch(ref); w.update({"x": np.array([1.0, np.nan, 500.0, 2.0])})
    >>> [(r.check, r.value, r.failed) for r in DataQualityCheck().evaluate(w, type_errors={"x": 1})]
    [('missing_rate', 0.25, True), ('type_error_rate', 0.25, True), ('out_of_range_rate', 0.3333333333333333, True)]
    """

    def __init__(
        self,
        *,
        max_missing_rate: float | None = 0.1,
        max_type_error_rate: float | None = 0.01,
        max_out_of_range_rate: float | None = 0.05,
        max_unseen_rate: float | None = 0.05,
    ) -> None:
        self.thresholds: dict[str, float | None] = {}
        for name, value in (("missing_rate", max_missing_rate), ("type_error_rate", max_type_error_rate),
                            ("out_of_range_rate", max_out_of_range_rate), ("unseen_rate", max_unseen_rate)):
            self.thresholds[name] = None if value is None else check_float(f"max_{name}", value, low=0.0, high=1.0)

    def evaluate(self, window: WindowSketch, type_errors: Mapping[str, int] | None = None) -> list[QualityResult]:
        """Results in feature order, checks in the order listed above; skips empty denominators."""
        type_errors = type_errors or {}
        out: list[QualityResult] = []
        for name, fw in window.features.items():
            rows = fw.n + fw.missing
            self._add(out, name, "missing_rate", fw.missing, rows)
            if name in type_errors:
                self._add(out, name, "type_error_rate", int(type_errors[name]), rows)
            if isinstance(fw, NumericWindow):
                if fw.profile.min is not None:
                    self._add(out, name, "out_of_range_rate", fw.out_of_range, fw.n)
            else:
                self._add(out, name, "unseen_rate", fw.unseen, fw.n)
        return out

    def _add(self, out: list[QualityResult], feature: str, check: str, count: int, n: int) -> None:
        threshold = self.thresholds[check]
        if threshold is None or n <= 0:
            return
        value = count / n
        out.append(QualityResult(feature, check, value, threshold, value > threshold, n))

    def reset(self) -> None:
        """Nothing to forget: the counts live in the window sketch."""

    def snapshot(self) -> dict[str, Any]:
        """Thresholds only: the check keeps no stream state."""
        return {"thresholds": dict(self.thresholds)}

    @classmethod
    def restore(cls, snapshot: Mapping[str, Any]) -> DataQualityCheck:
        return cls(**{f"max_{k}": v for k, v in snapshot["thresholds"].items()})

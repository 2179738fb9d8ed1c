"""Confidence-based performance estimation (CBPE): a classifier's performance before its labels.

As NannyML's CBPE does in batch: a calibration fitted on a labelled reference turns each
window's scores into probabilities that the outcome is 1, and the metrics are estimated from
the *expected* confusion counts. Binary classification (score = probability of the positive
class): estimated accuracy, precision, recall, F1 and ROC AUC. Multiclass classification
(score = confidence in the predicted class; events carry no full probability vector, so the
probability of the other classes is unknown): estimated accuracy.

mergeable: a window's state is integer sums only (row and predicted-positive counts, expected
true positives and expected positives as calibrated probabilities in fixed point, 2**-24), plus
per-bin counts and sums on a grid of calibrated probabilities fixed by the reference (1000
equal bins and one bin starting at each level the isotonic fit takes), so merging partial
states is exact and order-independent. The ROC AUC counts pairs in the same bin as half
concordant; the estimate is a pure function of the merged state and the reference.

The sampling-error band (analytical, from the reference, as NannyML's sampling error is): how
far a window's realized metric strays from its expectation by chance. Each confusion metric is a
ratio ``sum(a) / sum(b)`` of per-row terms (accuracy: correct / 1; precision: true positive /
predicted positive; recall: true positive / positive; F1: 2 true positives / (predicted
positive + positive)); by the delta method its standard error in a window of ``n`` rows is
``sd(a - R b) / (mean(b) sqrt(n))`` with the reference's terms. ROC AUC uses Hanley & McNeil's
(1982) variance. The band is the estimate ± 3 standard errors, clipped to [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import check_choice
from .errors import DetectorConfigError, DetectorStateError
from .performance import PerformanceWindow
from .results import MetricValue
from .score_calibration import ScoreCalibration

__all__ = ["CBPE_TASKS", "CBPEReference", "CBPEWindow", "Estimate"]

CBPE_TASKS = ("binary_classification", "multiclass_classification")
_ONE = 1 << 24  # fixed point of a probability in the window sums
_METRICS = {"binary_classification": ("accuracy", "precision", "recall", "f1", "roc_auc"),
            "multiclass_classification": ("accuracy",)}
_GRID = 1000
_MIN_ROWS = 20


@dataclass(frozen=True, slots=True)
class Estimate:
    """One estimated metric of a window with its ±3 standard-error band."""

    metric: str
    value: float
    lower: float
    upper: float
    n: int

    def metrics(self) -> tuple[MetricValue, ...]:
        """As window metrics: ``estimated_<metric>`` and its ``_lower``/``_upper`` band."""
        name = f"estimated_{self.metric}"
        return (MetricValue(name, self.value, self.n), MetricValue(f"{name}_lower", self.lower, self.n),
                MetricValue(f"{name}_upper", self.upper, self.n))


@dataclass(frozen=True, eq=False)
class CBPEReference:
    """The calibration and the per-metric spread fitted on a labelled reference.

    ``outcome`` is what the calibration predicts: "positive" (binary) or "correct" (multiclass).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> score = rng.uniform(size=4000)
    >>> label = (rng.uniform(size=4000) < score).astype(int)
    >>> ref = CBPEReference.fit("binary_classification", score, (score > 0.5).astype(int), label)
    >>> w = CBPEWindow(ref)
    >>> w.update(score[:1000], (score[:1000] > 0.5).astype(int))
    >>> {e.metric: round(e.value, 2) for e in w.estimate()}
    {'accuracy': 0.74, 'precision': 0.75, 'recall': 0.76, 'f1': 0.76, 'roc_auc': 0.83}
    >>> CBPEReference.from_dict(ref.to_dict()).to_dict() == ref.to_dict()
    True
    """

    task: str
    calibration: ScoreCalibration
    spread: dict[str, float]  # per metric: sd over reference chunks * sqrt(rows per chunk)
    n: int
    positive_label: Any = 1

    @classmethod
    def fit(cls, task: str, scores: np.ndarray, predictions: np.ndarray, labels: np.ndarray, *,
            positive_label: Any = 1) -> CBPEReference:
        """Fit on reference rows: ``scores``, the model's ``predictions`` and the true ``labels``."""
        task = check_choice("task", task, CBPE_TASKS, "task")
        s, p, t = np.asarray(scores, dtype=np.float64), np.asarray(predictions), np.asarray(labels)
        if not len(s) == len(p) == len(t):
            raise DetectorConfigError("scores/predictions/labels: arrays have different lengths")
        ok = np.isfinite(s)
        s, p, t = s[ok], p[ok], t[ok]
        if len(s) < _MIN_ROWS:
            raise DetectorConfigError(f"scores: {len(s)} scored reference rows (expected at least {_MIN_ROWS})")
        if task == "binary_classification":
            positive, predicted = _is(t, positive_label), _is(p, positive_label)
            outcome, spread = positive, _binary_spread(s, positive, predicted)
        else:
            outcome = _is(t, None, p)
            spread = {"accuracy": _ratio_spread(outcome.astype(np.float64), np.ones(len(s)))}
        calibration = ScoreCalibration.fit(s, outcome.astype(np.float64))
        return cls(task, calibration, spread, int(len(s)), positive_label)

    def edges(self) -> np.ndarray:
        """Left edges of the ROC AUC bins of calibrated probabilities."""
        return np.unique(np.concatenate([np.linspace(0.0, 1.0, _GRID + 1)[:-1], self.calibration.levels]))

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "calibration": self.calibration.to_dict(), "spread": dict(self.spread),
                "n": self.n, "positive_label": self.positive_label}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CBPEReference:
        try:
            task = check_choice("task", d["task"], CBPE_TASKS, "task")
            return cls(task, ScoreCalibration.from_dict(d["calibration"]),
                       {str(k): float(v) for k, v in d["spread"].items()}, int(d["n"]), d.get("positive_label", 1))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise DetectorStateError(f"cbpe: not a CBPE reference ({exc})") from exc


def _is(values: np.ndarray, label: Any, other: np.ndarray | None = None) -> np.ndarray:
    out = np.asarray(values == (label if other is None else other))
    return out if np.ndim(out) else np.full(len(values), bool(out))


def _ratio_spread(a: np.ndarray, b: np.ndarray) -> float:
    """``sqrt(n)`` times the delta-method standard error of ``sum(a) / sum(b)``."""
    mean_b = float(b.mean())
    if mean_b == 0:
        return 0.0
    return float(np.std(a - a.sum() / b.sum() * b) / mean_b)


def _binary_spread(score: np.ndarray, positive: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    tp = (positive & predicted).astype(np.float64)
    pos, pred = positive.astype(np.float64), predicted.astype(np.float64)
    spread = {"accuracy": _ratio_spread((positive == predicted).astype(np.float64), np.ones(len(tp))),
              "precision": _ratio_spread(tp, pred), "recall": _ratio_spread(tp, pos),
              "f1": _ratio_spread(2 * tp, pred + pos)}
    pw = PerformanceWindow("binary_classification")
    pw.update(positive, predicted, score)
    auc = next((m.value for m in pw.compute() if m.name == "roc_auc"), 0.5)
    prevalence = float(pos.mean())
    if 0 < prevalence < 1:  # Hanley & McNeil (1982), n times the variance for large n
        q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
        spread["roc_auc"] = float(np.sqrt(max(0.0, (q1 - auc * auc) / (1 - prevalence)
                                              + (q2 - auc * auc) / prevalence)))
    else:
        spread["roc_auc"] = 0.0
    return spread


class CBPEWindow:
    """Running CBPE state of one window (see the module docstring for what is kept)."""

    def __init__(self, reference: CBPEReference) -> None:
        self.reference = reference
        self._edges = reference.edges()
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.predicted = 0  # rows predicted positive (binary)
        self.hit = 0  # fixed-point sum of p over rows predicted positive (binary) or all rows (multiclass)
        self.expected = 0  # fixed-point sum of p over all rows (binary)
        self.bin_n = np.zeros(len(self._edges), np.int64)
        self.bin_p = np.zeros(len(self._edges), np.int64)

    def update(self, scores: np.ndarray, predictions: np.ndarray) -> None:
        """Add rows; a row without a finite score is not counted."""
        s, pred = np.asarray(scores, dtype=np.float64), np.asarray(predictions)
        if len(s) != len(pred):
            raise ValueError("scores/predictions: arrays have different lengths")
        ok = np.isfinite(s)
        p = np.rint(self.reference.calibration(s[ok]) * _ONE).astype(np.int64)
        self.n += len(p)
        if self.reference.task != "binary_classification":
            self.hit += int(p.sum())
            return
        positive = np.asarray(pred[ok] == self.reference.positive_label)
        if not np.ndim(positive):
            positive = np.full(len(p), bool(positive))
        self.predicted += int(positive.sum())
        self.hit += int(p[positive].sum())
        self.expected += int(p.sum())
        bins = np.searchsorted(self._edges, p / _ONE, side="right") - 1
        self.bin_n += np.bincount(bins, minlength=len(self._edges))
        self.bin_p += np.bincount(bins, weights=p, minlength=len(self._edges)).astype(np.int64)

    def merge(self, other: CBPEWindow) -> None:
        """Add another window's state (same reference)."""
        if len(other.bin_n) != len(self.bin_n):
            raise ValueError("other: a window of another CBPE reference")
        self.n += other.n
        self.predicted += other.predicted
        self.hit += other.hit
        self.expected += other.expected
        self.bin_n += other.bin_n
        self.bin_p += other.bin_p

    def values(self) -> dict[str, float]:
        """Estimated metrics (empty before any row)."""
        if self.n == 0:
            return {}
        n, tp = self.n, self.hit / _ONE
        if self.reference.task != "binary_classification":
            return {"accuracy": tp / n}
        fp, fn = self.predicted - tp, self.expected / _ONE - tp
        tn = n - tp - fp - fn
        out = {"accuracy": (tp + tn) / n, "precision": tp / (tp + fp) if self.predicted else 0.0,
               "recall": tp / (tp + fn) if tp + fn > 0 else 0.0,
               "f1": 2 * tp / (2 * tp + fp + fn) if tp > 0 else 0.0}
        pos = self.bin_p / _ONE
        neg = self.bin_n - pos
        if pos.sum() > 0 and neg.sum() > 0:
            below = np.cumsum(neg) - neg
            out["roc_auc"] = float(pos @ (below + 0.5 * neg) / (pos.sum() * neg.sum()))
        return out

    def estimate(self) -> tuple[Estimate, ...]:
        """Estimated metrics with their sampling-error band."""
        out = []
        for metric, value in self.values().items():
            half = 3.0 * self.reference.spread.get(metric, 0.0) / np.sqrt(self.n)
            out.append(Estimate(metric, float(value), float(max(0.0, value - half)), float(min(1.0, value + half)),
                                self.n))
        return tuple(out)

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state (the reference is not included: it comes with the profile)."""
        return {"n": self.n, "predicted": self.predicted, "hit": self.hit, "expected": self.expected,
                "bins": len(self._edges), "bin_n": self.bin_n.tolist(), "bin_p": self.bin_p.tolist()}

    @classmethod
    def restore(cls, reference: CBPEReference, snapshot: Mapping[str, Any]) -> CBPEWindow:
        window = cls(reference)
        if snapshot.get("bins") != len(window._edges):
            raise DetectorStateError("cbpe: the snapshot was taken against another reference")
        window.n, window.predicted = int(snapshot["n"]), int(snapshot["predicted"])
        window.hit, window.expected = int(snapshot["hit"]), int(snapshot["expected"])
        window.bin_n = np.asarray(snapshot["bin_n"], dtype=np.int64)
        window.bin_p = np.asarray(snapshot["bin_p"], dtype=np.int64)
        return window

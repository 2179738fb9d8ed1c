"""What one arm of an experiment (champion or challenger) did in one window: mergeable statistics.

An :class:`ArmStats` holds, for the events of one version (or variant) in one window, only
sufficient statistics: :class:`~driftline.detectors.sequential.Moments` (count, sum, sum of
squares) of per-event metric values, confusion counts, and a DDSketch of latencies. Adding two
of them (:meth:`ArmStats.merge`) is exact and order-independent, so the windows of several
partitions or workers merge into the same totals (mergeable: counts, sums, sums of squares,
confusion counts, a fixed-accuracy quantile sketch). Per-event values:

* label side (from joined labels): ``accuracy`` (1 right, 0 wrong), ``error_rate``, ``log_loss``
  (binary, with a score), ``mae`` (absolute error), ``rmse`` (squared error: the comparison is
  on the mean squared error), ``f1`` (confusion counts);
* prediction side: ``missing_rate`` (share of the event's features that are missing),
  ``prediction_mean`` (the prediction of a regressor, 1 for a positive class of a classifier),
  latencies.

>>> arm = ArmStats.new(("accuracy",), latency=False)
>>> values = label_values("binary_classification", "1", np.array(["1", "0", "1"], dtype=object),
...                       np.array(["1", "1", "1"], dtype=object), np.array([0.9, 0.6, 0.8]), ("accuracy",))
>>> arm.add_labels(values)
>>> arm.labels["accuracy"].mean, ArmStats.restore(arm.snapshot()).labels == arm.labels
(0.6666666666666666, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .quantiles import QuantileSketch
from .sequential import Moments

__all__ = ["LABEL_METRICS", "PREDICTION_METRICS", "ArmStats", "label_values"]

# Per-event label metrics and whether higher is better.
LABEL_METRICS: Mapping[str, bool] = {"accuracy": True, "error_rate": False, "log_loss": False, "mae": False,
                                     "rmse": False, "f1": True}
# Per-event prediction-side metrics (a guardrail says which direction it guards).
PREDICTION_METRICS = ("missing_rate", "prediction_mean")
_EPS = float(np.finfo(np.float64).eps)


def label_values(task: str, positive_key: str, truth: np.ndarray, predicted: np.ndarray, scores: np.ndarray,
                 metrics: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-event values of ``metrics`` (label metrics other than ``f1``) for a batch of joined labels.

    Classification: ``truth``/``predicted`` are object arrays of label keys; regression: floats.
    A value that cannot be computed (log loss without a score) is NaN and left out of the sums.
    """
    out: dict[str, np.ndarray] = {}
    if task == "regression":
        error = np.asarray(truth, dtype=np.float64) - np.asarray(predicted, dtype=np.float64)
        for name in metrics:
            if name == "mae":
                out[name] = np.abs(error)
            elif name == "rmse":
                out[name] = error * error
        return out
    right = (truth == predicted).astype(np.float64)
    for name in metrics:
        if name == "accuracy":
            out[name] = right
        elif name == "error_rate":
            out[name] = 1.0 - right
        elif name == "log_loss":
            p = np.clip(np.asarray(scores, dtype=np.float64), _EPS, 1 - _EPS)
            out[name] = np.where(truth == positive_key, -np.log(p), -np.log1p(-p))
    return out


@dataclass
class ArmStats:
    """One arm's statistics over one window (or, merged, over the experiment so far)."""

    labels: dict[str, Moments] = field(default_factory=dict)  # label metric -> per-event values
    confusion: list[int] | None = None  # [tp, fp, fn, tn] when f1 is compared
    predictions: int = 0
    prediction_side: dict[str, Moments] = field(default_factory=dict)  # missing_rate, prediction_mean
    latency: QuantileSketch | None = None

    @classmethod
    def new(cls, label_metrics: Sequence[str], *, latency: bool) -> ArmStats:
        return cls({m: Moments() for m in label_metrics if m != "f1"},
                   [0, 0, 0, 0] if "f1" in label_metrics else None,
                   0, {m: Moments() for m in PREDICTION_METRICS}, QuantileSketch() if latency else None)

    @property
    def labelled(self) -> int:
        """Labelled events seen (the sample size of label metrics)."""
        if self.confusion is not None:
            return sum(self.confusion)
        return max((m.n for name, m in self.labels.items() if name != "log_loss"), default=0)

    def add_labels(self, values: Mapping[str, np.ndarray], confusion: Sequence[int] | None = None) -> None:
        for name, moments in self.labels.items():
            if name in values:
                self.labels[name] = moments + Moments.of(values[name])
        if self.confusion is not None and confusion is not None:
            self.confusion = [a + b for a, b in zip(self.confusion, confusion, strict=True)]

    def add_predictions(self, missing_share: np.ndarray, prediction: np.ndarray, latency: np.ndarray) -> None:
        self.predictions += len(missing_share)
        self.prediction_side["missing_rate"] = self.prediction_side["missing_rate"] + Moments.of(missing_share)
        self.prediction_side["prediction_mean"] = self.prediction_side["prediction_mean"] + Moments.of(prediction)
        if self.latency is not None:
            finite = latency[np.isfinite(latency)]
            if finite.size:
                self.latency.update(finite)

    def merge(self, other: ArmStats) -> None:
        """Add ``other``'s statistics into these (same metrics)."""
        for name in self.labels:
            self.labels[name] = self.labels[name] + other.labels.get(name, Moments())
        if self.confusion is not None and other.confusion is not None:
            self.confusion = [a + b for a, b in zip(self.confusion, other.confusion, strict=True)]
        self.predictions += other.predictions
        for name in self.prediction_side:
            self.prediction_side[name] = self.prediction_side[name] + other.prediction_side.get(name, Moments())
        if self.latency is not None and other.latency is not None:
            self.latency.merge(other.latency)

    def snapshot(self) -> dict[str, Any]:
        return {"labels": {k: v.to_list() for k, v in self.labels.items()}, "confusion": self.confusion,
                "predictions": self.predictions,
                "prediction_side": {k: v.to_list() for k, v in self.prediction_side.items()},
                "latency": None if self.latency is None else self.latency.snapshot()}

    @classmethod
    def restore(cls, s: Mapping[str, Any]) -> ArmStats:
        return cls({str(k): Moments.from_list(v) for k, v in s["labels"].items()},
                   None if s["confusion"] is None else [int(c) for c in s["confusion"]], int(s["predictions"]),
                   {str(k): Moments.from_list(v) for k, v in s["prediction_side"].items()},
                   None if s["latency"] is None else QuantileSketch.restore(s["latency"]))

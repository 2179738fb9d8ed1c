"""Model performance over a window, from bounded running state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._checks import check_choice, check_int
from .errors import DetectorStateError
from .fairness import GroupCounts
from .packing import decode_float, encode_float
from .results import MetricValue

__all__ = ["PerformanceWindow", "TASKS"]

TASKS = ("binary_classification", "multiclass_classification", "regression")
_EPS = float(np.finfo(np.float64).eps)


def _equals(values: np.ndarray, label: Any) -> np.ndarray:
    out = np.asarray(values) == label
    return out if np.ndim(out) else np.full(len(values), bool(out))


class PerformanceWindow:
    """Accuracy-type metrics for one window, with memory independent of the number of rows.

    * binary: confusion counts (any label other than ``positive_label`` is negative) and,
      when scores (probability of the positive class, clipped to [0, 1]) are given,
      exact log-loss/Brier sums plus a ``score_bins``-bin histogram per class for ROC AUC.
      The AUC counts pairs in the same bin as half-concordant; the error is at most
      ``0.5 * sum_b pos_b * neg_b / (P * N)``, under 1e-3 for typical scores with 1000 bins.
    * multiclass: a confusion matrix over at most ``max_classes`` labels (later labels share
      one overflow class).
    * regression: running sums (errors, and mean/M2 of ``y_true`` merged per batch for R²).

    >>> import numpy as np
    >>> pw = PerformanceWindow("binary_classification")
    >>> pw.update(np.array([1, 0, 1, 1]), np.array([1, 0, 0, 1]), score=np.array([0.9, 0.2, 0.4, 0.8]))
    >>> {m.name: round(m.value, 3) for m in pw.compute()}
    {'accuracy': 0.75, 'precision': 1.0, 'recall': 0.667, 'f1': 0.8, 'roc_auc': 1.0, 'log_loss': 0.367, 'brier': 0.112}
    >>> reg = PerformanceWindow("regression")
    >>> reg.update(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.0]))
    >>> [(m.name, round(m.value, 3)) for m in reg.compute()]
    [('mae', 0.5), ('rmse', 0.645), ('mape', 0.278), ('r2', 0.375)]
    """

    def __init__(self, task: str, *, positive_label: Any = 1, score_bins: int = 1000, max_classes: int = 100) -> None:
        self.task = check_choice("task", task, TASKS, "task")
        self.positive_label = positive_label
        self.score_bins = check_int("score_bins", score_bins, low=10, high=100_000)
        self.max_classes = check_int("max_classes", max_classes, low=2, high=1000)
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self._s: dict[str, Any] = {}
        if self.task == "binary_classification":
            self._s = {"tp": 0, "fp": 0, "tn": 0, "fn": 0, "n_scored": 0, "log_loss": 0.0, "brier": 0.0,
                       "pos_hist": np.zeros(self.score_bins, np.int64), "neg_hist": np.zeros(self.score_bins, np.int64)}
        elif self.task == "multiclass_classification":
            self._labels: list[Any] = []
            self._index: dict[Any, int] = {}
            self._s = {"confusion": np.zeros((0, 0), np.int64)}
        else:
            self._s = {"abs": 0.0, "sq": 0.0, "ape": 0.0, "mean_y": 0.0, "m2_y": 0.0}

    def update(self, y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray | None = None) -> None:
        """Add labelled rows (arrays of equal length; labels compared as given)."""
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if len(y_true) != len(y_pred) or (score is not None and len(score) != len(y_true)):
            raise ValueError("y_true/y_pred/score: arrays have different lengths")
        if len(y_true) == 0:
            return
        getattr(self, f"_update_{self.task.split('_')[0]}")(y_true, y_pred, score)

    def _update_binary(self, y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray | None) -> None:
        s = self._s
        t, p = _equals(y_true, self.positive_label), _equals(y_pred, self.positive_label)
        s["tp"] += int(np.count_nonzero(t & p))
        s["fp"] += int(np.count_nonzero(~t & p))
        s["fn"] += int(np.count_nonzero(t & ~p))
        s["tn"] += int(np.count_nonzero(~t & ~p))
        self.n += len(t)
        if score is None:
            return
        x = np.asarray(score, dtype=np.float64)
        ok = np.isfinite(x)
        x, t = np.clip(x[ok], 0.0, 1.0), t[ok]
        bins = np.minimum((x * self.score_bins).astype(np.int64), self.score_bins - 1)
        s["pos_hist"] += np.bincount(bins[t], minlength=self.score_bins)
        s["neg_hist"] += np.bincount(bins[~t], minlength=self.score_bins)
        c = np.clip(x, _EPS, 1 - _EPS)
        s["log_loss"] += float(-np.sum(np.where(t, np.log(c), np.log1p(-c))))
        s["brier"] += float(np.sum((x - t) ** 2))
        s["n_scored"] += len(x)

    def _encode(self, values: np.ndarray) -> np.ndarray:
        overflow = self.max_classes - 1
        out = np.empty(len(values), dtype=np.int64)
        for j, v in enumerate(values.tolist()):
            i = self._index.get(v)
            if i is None:
                i = len(self._labels) if len(self._labels) < overflow else overflow
                if i < overflow:
                    self._labels.append(v)
                    self._index[v] = i
            out[j] = i
        return out

    def _update_multiclass(self, y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray | None) -> None:
        t, p = self._encode(y_true), self._encode(y_pred)
        k = max(int(t.max()), int(p.max())) + 1
        conf = self._s["confusion"]
        if k > len(conf):
            conf = np.pad(conf, (0, k - len(conf)))
        conf += np.bincount(t * len(conf) + p, minlength=len(conf) ** 2).reshape(conf.shape)
        self._s["confusion"] = conf
        self.n += len(t)

    def _update_regression(self, y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray | None) -> None:
        y, f = y_true.astype(np.float64), y_pred.astype(np.float64)
        ok = np.isfinite(y) & np.isfinite(f)
        y, f = y[ok], f[ok]
        m = len(y)
        if m == 0:
            return
        s, e = self._s, y - f
        s["abs"] += float(np.abs(e).sum())
        s["sq"] += float(e @ e)
        s["ape"] += float(np.sum(np.abs(e) / np.maximum(np.abs(y), _EPS)))
        mean_b, m2_b = float(y.mean()), float(np.sum((y - y.mean()) ** 2))
        delta, total = mean_b - s["mean_y"], self.n + m  # Chan et al. parallel variance merge
        s["m2_y"] += m2_b + delta * delta * self.n * m / total
        s["mean_y"] += delta * m / total
        self.n = total

    @staticmethod
    def update_groups(windows: Sequence[PerformanceWindow], codes: np.ndarray, y_true: np.ndarray,
                      y_pred: np.ndarray, score: np.ndarray | None = None) -> None:
        """Add each row to the window of its group, ``windows[codes[i]]`` (``codes`` of -1 are skipped):
        what :meth:`update` per group does, in one vectorised pass for binary and regression tasks
        (sums per group are added in row order rather than pairwise: equal to rounding).
        The windows share one task, positive label and ``score_bins``."""
        codes = np.asarray(codes, dtype=np.int64)
        keep = codes >= 0
        if not keep.all():
            codes, y_true, y_pred = codes[keep], np.asarray(y_true)[keep], np.asarray(y_pred)[keep]
            score = None if score is None else np.asarray(score)[keep]
        if len(codes) == 0 or not windows:
            return
        first = windows[0]
        if first.task == "multiclass_classification":
            for code in np.unique(codes).tolist():
                mask = codes == code
                windows[code].update(np.asarray(y_true)[mask], np.asarray(y_pred)[mask],
                                     None if score is None else np.asarray(score)[mask])
            return
        g = len(windows)
        if first.task == "binary_classification":
            _binary_groups(windows, codes, np.asarray(y_true), np.asarray(y_pred), score, g)
        else:
            _regression_groups(windows, codes, np.asarray(y_true), np.asarray(y_pred), g)

    def compute(self) -> list[MetricValue]:
        """Metrics of the rows seen so far (empty before any row)."""
        if self.n == 0:
            return []
        return [MetricValue(name, float(v), n) for name, v, n in getattr(self, f"_compute_{self.task.split('_')[0]}")()]

    def _compute_binary(self) -> list[tuple[str, float, int]]:
        s, n = self._s, self.n
        tp, fp, fn = s["tp"], s["fp"], s["fn"]
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        out = [("accuracy", (tp + s["tn"]) / n, n), ("precision", precision, n), ("recall", recall, n), ("f1", f1, n)]
        ns = s["n_scored"]
        if ns:
            pos, neg = s["pos_hist"].astype(np.float64), s["neg_hist"].astype(np.float64)
            n_pos, n_neg = pos.sum(), neg.sum()
            if n_pos and n_neg:
                below = np.cumsum(neg) - neg
                out.append(("roc_auc", float(pos @ (below + 0.5 * neg)) / (n_pos * n_neg), ns))
            out += [("log_loss", s["log_loss"] / ns, ns), ("brier", s["brier"] / ns, ns)]
        return out

    def _compute_multiclass(self) -> list[tuple[str, float, int]]:
        conf, n = self._s["confusion"], self.n
        tp, support, predicted = np.diag(conf), conf.sum(axis=1), conf.sum(axis=0)
        present = (support + predicted) > 0
        denom = support + predicted
        f1 = np.divide(2 * tp, denom, out=np.zeros(len(tp)), where=denom > 0)
        return [("accuracy", tp.sum() / n, n), ("macro_f1", float(f1[present].mean()), n),
                ("weighted_f1", float(f1 @ support) / support.sum(), n)]

    def _compute_regression(self) -> list[tuple[str, float, int]]:
        s, n = self._s, self.n
        r2 = 1.0 - s["sq"] / s["m2_y"] if s["m2_y"] > 0 else (1.0 if s["sq"] == 0 else 0.0)
        return [("mae", s["abs"] / n, n), ("rmse", (s["sq"] / n) ** 0.5, n), ("mape", s["ape"] / n, n), ("r2", r2, n)]

    def merge(self, other: PerformanceWindow) -> None:
        """Add ``other``, the rows of another partition of the same window (same task and parameters).

        mergeable: confusion counts and score histograms add exactly; float sums add (exact up to
        rounding); the regression moments of ``y_true`` merge by Chan et al.'s parallel formula.
        A multiclass matrix is remapped by label, exact while the labels fit ``max_classes - 1``
        (beyond, which labels get a class of their own depends on which came first, as in one stream).
        """
        if (other.task, other.positive_label, other.score_bins, other.max_classes) != \
                (self.task, self.positive_label, self.score_bins, self.max_classes):
            raise ValueError("other: task or parameters differ; performance windows are not mergeable")
        s, o = self._s, other._s
        if self.task == "multiclass_classification":
            self._merge_confusion(other)
        elif self.task == "regression":
            total = self.n + other.n
            if other.n:
                delta = o["mean_y"] - s["mean_y"]
                s["m2_y"] += o["m2_y"] + delta * delta * self.n * other.n / total
                s["mean_y"] += delta * other.n / total
            for k in ("abs", "sq", "ape"):
                s[k] += o[k]
        else:
            for k, v in o.items():
                s[k] = s[k] + v
        self.n += other.n

    def _merge_confusion(self, other: PerformanceWindow) -> None:
        conf = other._s["confusion"]
        if not len(conf):
            return
        labels = np.empty(len(other._labels), dtype=object)
        labels[:] = other._labels
        index = self._encode(labels).tolist()
        index += [self.max_classes - 1] * (len(conf) - len(index))  # other's overflow class
        mine = self._s["confusion"]
        k = max(len(mine), max(index) + 1)
        if k > len(mine):
            mine = np.pad(mine, (0, k - len(mine)))
        where = np.asarray(index, dtype=np.int64)
        np.add.at(mine, (where[:, None], where[None, :]), conf)
        self._s["confusion"] = mine

    def group_counts(self) -> GroupCounts:
        """The counts fairness measures compare: the confusion counts of a binary classifier, the
        error sums of a regressor (none for a multiclass one)."""
        s = self._s
        if self.task == "binary_classification":
            return GroupCounts(tp=s["tp"], fp=s["fp"], tn=s["tn"], fn=s["fn"])
        if self.task == "regression":
            return GroupCounts(labelled=self.n, abs_error=s["abs"], sq_error=s["sq"])
        return GroupCounts()

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state (labels are stored as given; use JSON-compatible labels)."""
        state = {k: (v.tolist() if isinstance(v, np.ndarray) else encode_float(v) if isinstance(v, float) else v)
                 for k, v in self._s.items()}
        snap = {"task": self.task, "positive_label": self.positive_label, "score_bins": self.score_bins,
                "max_classes": self.max_classes, "n": self.n, "state": state}
        if self.task == "multiclass_classification":
            snap["labels"] = [v.item() if isinstance(v, np.generic) else v for v in self._labels]
        return snap

    @classmethod
    def restore(cls, snapshot: dict[str, Any]) -> PerformanceWindow:
        pw = cls(snapshot["task"], positive_label=snapshot["positive_label"], score_bins=snapshot["score_bins"],
                 max_classes=snapshot["max_classes"])
        pw.n = snapshot["n"]
        for k, v in snapshot["state"].items():
            if k not in pw._s:
                raise DetectorStateError(f"state.{k}: not a {pw.task} state")
            pw._s[k] = (np.asarray(v, dtype=np.int64) if isinstance(v, list)
                        else v if type(v) is int else decode_float(v, f"state.{k}"))
        if pw.task == "multiclass_classification":
            k = len(snapshot["state"]["confusion"])
            pw._s["confusion"] = pw._s["confusion"].reshape(k, k)
            pw._labels = list(snapshot["labels"])
            pw._index = {v: i for i, v in enumerate(pw._labels)}
        return pw


def _binary_groups(windows: Sequence[PerformanceWindow], codes: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                   score: np.ndarray | None, g: int) -> None:
    positive = windows[0].positive_label
    t, p = _equals(y_true, positive), _equals(y_pred, positive)
    counts = {name: np.bincount(codes[mask], minlength=g).tolist()
              for name, mask in (("tp", t & p), ("fp", ~t & p), ("fn", t & ~p), ("tn", ~t & ~p))}
    rows = np.bincount(codes, minlength=g).tolist()
    for i, w in enumerate(windows):
        if rows[i]:
            for name, per_group in counts.items():
                w._s[name] += per_group[i]
            w.n += rows[i]
    if score is None:
        return
    x = np.asarray(score, dtype=np.float64)
    ok = np.isfinite(x)
    x, t, c = np.clip(x[ok], 0.0, 1.0), t[ok], codes[ok]
    bins = windows[0].score_bins
    b = np.minimum((x * bins).astype(np.int64), bins - 1)
    pos = np.bincount(c[t] * bins + b[t], minlength=g * bins).reshape(g, bins)
    neg = np.bincount(c[~t] * bins + b[~t], minlength=g * bins).reshape(g, bins)
    clipped = np.clip(x, _EPS, 1 - _EPS)
    log_loss = np.bincount(c, weights=-np.where(t, np.log(clipped), np.log1p(-clipped)), minlength=g).tolist()
    brier = np.bincount(c, weights=(x - t) ** 2, minlength=g).tolist()
    scored = np.bincount(c, minlength=g).tolist()
    for i, w in enumerate(windows):
        if scored[i]:
            s = w._s
            s["pos_hist"] += pos[i]
            s["neg_hist"] += neg[i]
            s["log_loss"] += log_loss[i]
            s["brier"] += brier[i]
            s["n_scored"] += scored[i]


def _regression_groups(windows: Sequence[PerformanceWindow], codes: np.ndarray, y_true: np.ndarray,
                       y_pred: np.ndarray, g: int) -> None:
    y, f = y_true.astype(np.float64), y_pred.astype(np.float64)
    ok = np.isfinite(y) & np.isfinite(f)
    y, f, c = y[ok], f[ok], codes[ok]
    m = np.bincount(c, minlength=g)
    if not m.any():
        return
    e = y - f
    sums = {"abs": np.abs(e), "sq": e * e, "ape": np.abs(e) / np.maximum(np.abs(y), _EPS)}
    added = {k: np.bincount(c, weights=v, minlength=g).tolist() for k, v in sums.items()}
    mean_b = np.bincount(c, weights=y, minlength=g) / np.maximum(m, 1)
    m2_b = np.bincount(c, weights=(y - mean_b[c]) ** 2, minlength=g).tolist()
    for i, w in enumerate(windows):
        n_b = int(m[i])
        if not n_b:
            continue
        s = w._s
        for k, v in added.items():
            s[k] += v[i]
        delta, total = float(mean_b[i]) - s["mean_y"], w.n + n_b  # Chan et al. parallel variance merge
        s["m2_y"] += m2_b[i] + delta * delta * w.n * n_b / total
        s["mean_y"] += delta * n_b / total
        w.n = total

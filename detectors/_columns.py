"""Column conventions shared by the reference builder and the window sketch.

Numeric columns are float64 arrays with NaN for missing (±inf also counts as
missing: it cannot be binned meaningfully nor enter a distance). Categorical
columns are object arrays of ``str`` or ``None`` (a float NaN also counts as missing).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping

import numpy as np

from .errors import DetectorConfigError

KINDS = ("categorical", "numeric")


def check_features(features: Mapping[str, str]) -> dict[str, str]:
    """Validate a ``name -> kind`` mapping."""
    if not isinstance(features, Mapping) or not features:
        raise DetectorConfigError(f"features: {features!r} is not a non-empty mapping of name -> kind")
    for name, kind in features.items():
        if not isinstance(name, str) or not name:
            raise DetectorConfigError(f"features: {name!r} is not a feature name (expected a non-empty str)")
        if kind not in KINDS:
            raise DetectorConfigError(
                f"features[{name!r}]: {kind!r} is not a known kind (expected one of: {', '.join(KINDS)})"
            )
    return dict(features)


def batch_length(features: Mapping[str, str], columns: Mapping[str, np.ndarray]) -> int:
    """Common length of the feature columns present in ``columns`` (missing ones are skipped)."""
    lengths = {len(columns[name]) for name in features if name in columns}
    if len(lengths) > 1:
        raise ValueError(f"columns: feature columns have different lengths {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def finite_values(column: np.ndarray) -> tuple[np.ndarray, int]:
    """Return (non-missing float64 values, number missing)."""
    x = np.asarray(column, dtype=np.float64)
    ok = np.isfinite(x)
    values = x[ok]
    return values, len(x) - len(values)


def count_categories(column: np.ndarray) -> tuple[dict[str, int], int]:
    """Return (category -> count, number missing) for one categorical batch.

    Hash counting (``Counter``, implemented in C) is used rather than ``np.unique``
    on the object array: it is several times faster on strings and does not
    need ``None`` to be comparable with ``str``.
    """
    counts = Counter(column.tolist() if isinstance(column, np.ndarray) else column)
    missing = counts.pop(None, 0)
    out: dict[str, int] = {}
    for key, n in counts.items():
        if isinstance(key, float) and math.isnan(key):
            missing += n
            continue
        skey = key if isinstance(key, str) else str(key)
        out[skey] = out.get(skey, 0) + n
    return out, missing


def mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and (population) standard deviation of finite ``values``, finite however large they are:
    near the float64 limit (a value like 1e308) sums and squares would overflow, so they are then
    taken on ``values / max|values|``. ``(nan, nan)`` for no values."""
    if len(values) == 0:
        return float("nan"), float("nan")
    scale = float(np.max(np.abs(values)))
    if scale < 1e150:
        return float(values.mean()), float(values.std())
    z = values / scale
    return float(z.mean()) * scale, float(z.std()) * scale

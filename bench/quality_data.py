"""The detection-quality benchmark's data: seeded windows with known truth.

Six features (normal, skewed, discrete with ties, bimodal mixture, two categorical) and
scenario families, each a list of graded changes. A change touches one feature: that feature
is truly drifted in the changed windows, the others are not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

KINDS = {"normal": "numeric", "skewed": "numeric", "discrete": "numeric", "bimodal": "numeric",
         "colour": "categorical", "country": "categorical"}
NUMERIC = [k for k, v in KINDS.items() if v == "numeric"]
CATEGORICAL = [k for k, v in KINDS.items() if v == "categorical"]
COLOURS = np.array(["red", "green", "blue", "black", "white"], dtype=object)
COLOUR_MIX = np.array([0.35, 0.25, 0.2, 0.15, 0.05])
COUNTRIES = np.array(["de", "fr", "it", "es", "nl", "pl", "new"], dtype=object)
COUNTRY_MIX = np.array([0.3, 0.25, 0.15, 0.12, 0.1, 0.08, 0.0])


@dataclass(frozen=True)
class Change:
    """One graded change of one feature: ``params`` override the stable generator's."""

    feature: str
    grade: str
    params: dict


def columns(rng: np.random.Generator, n: int, change: Change | None = None, phase: float = 0.0) -> dict[str, np.ndarray]:
    """``n`` rows; ``change`` applied to its feature; ``phase`` in [0, 1) a seasonal position
    (the normal and colour features follow a daily cycle when ``phase`` is not None)."""
    p = change.params if change is not None else {}
    season = np.sin(2 * np.pi * phase) if phase else 0.0
    normal = rng.normal(p.get("mean", 0.0) + 0.8 * season, p.get("scale", 1.0), n)
    tail = p.get("tail", 0.0)
    if tail:
        heavy = rng.random(n) < tail
        normal[heavy] = rng.standard_t(2, heavy.sum()) * 2.0
    skewed = rng.lognormal(p.get("log_mean", 0.0), p.get("log_scale", 0.6), n)
    discrete = rng.poisson(p.get("rate", 4.0), n).astype(np.float64)
    w = p.get("weight", 0.3)
    bimodal = np.where(rng.random(n) < w, rng.normal(4.0, 1.0, n), rng.normal(0.0, 1.0, n))
    colour_mix = p.get("colour_mix", COLOUR_MIX)
    if phase:
        colour_mix = COLOUR_MIX + 0.08 * season * np.array([1, -1, 0, 0, 0])
    return {"normal": normal, "skewed": skewed, "discrete": discrete, "bimodal": bimodal,
            "colour": rng.choice(COLOURS, n, p=colour_mix),
            "country": rng.choice(COUNTRIES, n, p=p.get("country_mix", COUNTRY_MIX))}


def _mix(base: np.ndarray, moved: float) -> np.ndarray:
    """Move ``moved`` of the probability mass from the first category to the third."""
    out = base.copy()
    out[0] -= moved
    out[2] += moved
    return out


def _new(share: float) -> np.ndarray:
    out = COUNTRY_MIX * (1 - share)
    out[-1] = share
    return out


FAMILIES: dict[str, list[Change]] = {
    "mean shift": [Change("normal", "0.1 sd", {"mean": 0.1}), Change("normal", "0.2 sd", {"mean": 0.2}),
                   Change("normal", "0.5 sd", {"mean": 0.5}), Change("discrete", "+0.2 sd", {"rate": 4.4}),
                   Change("skewed", "+0.1 log", {"log_mean": 0.1})],
    "variance shift": [Change("normal", "x1.1", {"scale": 1.1}), Change("normal", "x1.25", {"scale": 1.25}),
                       Change("normal", "x1.5", {"scale": 1.5}), Change("skewed", "x1.2 log", {"log_scale": 0.72})],
    "mixture and tail": [Change("bimodal", "w 0.3->0.35", {"weight": 0.35}),
                         Change("bimodal", "w 0.3->0.45", {"weight": 0.45}),
                         Change("normal", "2% t(2) tail", {"tail": 0.02}),
                         Change("normal", "5% t(2) tail", {"tail": 0.05})],
    "categorical mix": [Change("colour", "3% moved", {"colour_mix": _mix(COLOUR_MIX, 0.03)}),
                        Change("colour", "6% moved", {"colour_mix": _mix(COLOUR_MIX, 0.06)}),
                        Change("colour", "15% moved", {"colour_mix": _mix(COLOUR_MIX, 0.15)})],
    "new category": [Change("country", "1% new", {"country_mix": _new(0.01)}),
                     Change("country", "3% new", {"country_mix": _new(0.03)}),
                     Change("country", "10% new", {"country_mix": _new(0.10)})],
}

Generator = Callable[[np.random.Generator, int], dict[str, np.ndarray]]

from __future__ import annotations

import numpy as np
import pytest
from driftline.detectors import ReferenceProfile

FEATURES = {"age": "numeric", "income": "numeric", "country": "categorical"}


def make_columns(n: int, seed: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    age = rng.normal(40 + shift * 10, 10, n)
    age[rng.random(n) < 0.02] = np.nan
    countries = np.array(["de", "fr", "it", "es", None], dtype=object)
    p = [0.4, 0.3, 0.15, 0.1, 0.05] if shift == 0 else [0.1, 0.3, 0.15, 0.4, 0.05]
    return {
        "age": age,
        "income": rng.lognormal(10 + shift, 0.5, n),
        "country": rng.choice(countries, n, p=p),
    }


@pytest.fixture
def reference() -> ReferenceProfile:
    return ReferenceProfile.from_columns(FEATURES, make_columns(20_000, seed=1))


@pytest.fixture
def columns():
    """``columns(n, seed, shift=0.0)`` -> seeded feature columns (tests/detectors has no package)."""
    return make_columns

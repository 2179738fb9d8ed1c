from __future__ import annotations

import json

import numpy as np
import pytest
from driftline.detectors import PCAReconstructionDrift


def correlated(rng, n, rho):
    cov = np.array([[1, rho, rho], [rho, 1, rho], [rho, rho, 1]])
    x = rng.multivariate_normal(np.zeros(3), cov, n)
    return {"a": x[:, 0] * 5 + 10, "b": x[:, 1], "c": x[:, 2] * 0.1}


@pytest.fixture
def fitted():
    return PCAReconstructionDrift(chunk_size=2000).fit(correlated(np.random.default_rng(0), 40_000, 0.8))


def test_components_match_sklearn_pca(fitted):
    from sklearn.decomposition import PCA

    cols = correlated(np.random.default_rng(0), 40_000, 0.8)
    x = np.column_stack([cols[f] for f in "abc"])
    z = (x - x.mean(0)) / x.std(0)
    pca = PCA(n_components=0.65, svd_solver="full").fit(z)
    assert fitted.n_components == pca.n_components_ == 1
    np.testing.assert_allclose(np.abs(fitted._components), np.abs(pca.components_), atol=1e-8)
    recon = pca.inverse_transform(pca.transform(z))
    np.testing.assert_allclose(fitted.reconstruction_error(cols), np.linalg.norm(z - recon, axis=1), atol=1e-8)


def test_same_distribution_stays_in_band_and_broken_correlation_drifts(fitted):
    rng = np.random.default_rng(3)
    for _ in range(10):
        fitted.reset()
        fitted.update(correlated(rng, 2000, 0.8))
        assert not fitted.result().drifted
    fitted.reset()
    fitted.update(correlated(rng, 2000, 0.0))  # same marginals, no correlation
    r = fitted.result()
    assert r.drifted and r.statistic > r.threshold and r.test == "pca_reconstruction"


def test_missing_values_are_imputed_and_snapshot_round_trips(fitted):
    rng = np.random.default_rng(2)
    cols = correlated(rng, 500, 0.8)
    cols["b"][:100] = np.nan
    del cols["c"]
    fitted.update(cols)
    restored = PCAReconstructionDrift.restore(json.loads(json.dumps(fitted.snapshot())))
    more = correlated(rng, 500, 0.8)
    fitted.update(more)
    restored.update(more)
    assert fitted.result() == restored.result()


def test_validation():
    with pytest.raises(ValueError, match="^variance: "):
        PCAReconstructionDrift(variance=0)
    with pytest.raises(ValueError, match="^columns: 500 reference rows give fewer than 2 chunks"):
        PCAReconstructionDrift(chunk_size=1000).fit({"a": np.zeros(500), "b": np.zeros(500)})
    with pytest.raises(ValueError, match="^fit: "):
        PCAReconstructionDrift().update({"a": np.zeros(3)})

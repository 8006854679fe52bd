"""The bootstrap spread of the Fréchet distance: right size, reproducible, centred on the truth, honest spread."""

import pytest
import torch

from vae_helpers.quality import _frechet_resamples, bootstrap_frechet, frechet_distance


def _gaussian(n, shift, seed):
    return torch.randn(n, 4, generator=torch.Generator().manual_seed(seed)) + shift


def test_bootstrap_is_reproducible_and_really_resamples():
    a, reference = _gaussian(500, 0.0, 1), _gaussian(400, 1.0, 2)
    ci = bootstrap_frechet(a, reference, n_boot=20, seed=3)
    assert ci.n_boot == 20 and ci.low < ci.estimate < ci.high  # the rows really are resampled
    assert ci == bootstrap_frechet(a, reference, n_boot=20, seed=3)
    assert ci != bootstrap_frechet(a, reference, n_boot=20, seed=4)


def test_bootstrap_spread_matches_the_spread_over_fresh_samples():
    # the true distance between N(0, I) and N(shift, I) in 4-D is 4 * shift^2 = 4; the reference set is fixed,
    # so the spread to match is that of fresh generated sets scored against it
    a, reference = _gaussian(2000, 0.0, 1), _gaussian(2000, 1.0, 2)
    ci = bootstrap_frechet(a, reference, n_boot=100, seed=0)
    assert abs(ci.estimate - 4.0) < 0.3
    fresh = torch.tensor([frechet_distance(_gaussian(2000, 0.0, 10 + s), reference) for s in range(40)])
    fresh_half_width = 1.96 * fresh.std().item()
    assert 0.5 < ci.half_width / fresh_half_width < 2.0


def test_bootstrap_needs_two_replicates():
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_frechet(_gaussian(10, 0.0, 1), _gaussian(10, 0.0, 2), n_boot=1)


def _scipy_frechet(feats_a, feats_b):
    """The textbook FID formula (pytorch-fid's): ridged covariances and a general matrix square root."""
    import numpy as np
    from scipy import linalg

    a, b = feats_a.double().numpy(), feats_b.double().numpy()
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ridge = 1e-6 * np.eye(len(cov_a))
    covmean = linalg.sqrtm((cov_a + ridge) @ (cov_b + ridge)).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))


def _relu_features(n, shift, seed, dead=8):
    """Correlated ReLU features [n x 64] like a classifier's, with `dead` columns that never fire (singular cov)."""
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(64, 64, generator=torch.Generator().manual_seed(99)) / 8
    feats = torch.relu(torch.randn(n, 64, generator=g) @ mixing + shift)
    feats[:, :dead] = 0.0
    return feats


@pytest.mark.parametrize("shift", [0.0, 0.3, 2.0])
def test_the_eigenvalue_formula_matches_the_matrix_square_root(shift):
    # Tr((C_a C_b)^1/2) from the eigenvalues of C_b^1/2 C_a C_b^1/2 must equal scipy's sqrtm, singular
    # covariances (dead ReLU features) included
    a, b = _relu_features(3000, 0.0, 1), _relu_features(2000, shift, 2)
    assert frechet_distance(a, b) == pytest.approx(_scipy_frechet(a, b), rel=1e-6, abs=1e-7)
    # identical sets: 0 up to the ridge's own -2 F ridge (as the reference FID code)
    assert frechet_distance(a, a) == pytest.approx(_scipy_frechet(a, a), abs=1e-6)
    assert abs(frechet_distance(a, a)) < 2 * 64 * 1e-6 + 1e-6


def test_resamples_are_fitted_as_the_rows_they_repeat():
    # the bootstrap fits each resample from row counts; it must equal the distance of the resampled copy itself
    a, reference = _relu_features(500, 0.2, 3), _relu_features(800, 0.0, 4)
    reps = _frechet_resamples(a, reference, 5, torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)
    for rep in reps:
        ia = torch.randint(len(a), (len(a),), generator=g)
        assert rep.item() == pytest.approx(_scipy_frechet(a[ia], reference), rel=1e-6)
    ci = bootstrap_frechet(a, reference, n_boot=50, seed=0)
    assert ci.estimate == pytest.approx(_scipy_frechet(a, reference), rel=1e-6)
    assert ci.low < ci.estimate < ci.high

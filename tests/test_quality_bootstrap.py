"""The bootstrap spread of the Fréchet distance: right size, reproducible, centred on the truth, honest spread."""

import pytest
import torch

from vae_helpers.quality import frechet_distance, frechet_distance_bootstrap


def _gaussian(n, shift, seed):
    return torch.randn(n, 4, generator=torch.Generator().manual_seed(seed)) + shift


def test_bootstrap_shape_and_reproducibility():
    a, b = _gaussian(500, 0.0, 1), _gaussian(400, 1.0, 2)
    reps = frechet_distance_bootstrap(a, b, n_boot=20, seed=3)
    assert reps.shape == (20,)
    assert torch.equal(reps, frechet_distance_bootstrap(a, b, n_boot=20, seed=3))
    assert not torch.equal(reps, frechet_distance_bootstrap(a, b, n_boot=20, seed=4))
    assert reps.std() > 0  # the rows really are resampled


def test_bootstrap_spread_matches_the_spread_over_fresh_samples():
    # the true distance between N(0, I) and N(shift, I) in 4-D is 4 * shift^2 = 4
    a, b = _gaussian(2000, 0.0, 1), _gaussian(2000, 1.0, 2)
    reps = frechet_distance_bootstrap(a, b, n_boot=100, seed=0)
    assert abs(reps.mean().item() - 4.0) < 0.3
    fresh = torch.tensor(
        [frechet_distance(_gaussian(2000, 0.0, 10 + s), _gaussian(2000, 1.0, 50 + s)) for s in range(40)]
    )
    assert 0.5 < reps.std().item() / fresh.std().item() < 2.0


def test_bootstrap_needs_two_replicates():
    with pytest.raises(ValueError):
        frechet_distance_bootstrap(_gaussian(10, 0.0, 1), _gaussian(10, 0.0, 2), n_boot=1)

import numpy as np
import pytest
import torch

from vae_helpers.quality import FeatureClassifier, features_and_probs, frechet_distance, score_images


def test_frechet_distance_of_gaussians_matches_closed_form():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 3, generator=gen)
    b = torch.randn(20000, 3, generator=gen) * 2 + torch.tensor([1.0, 0.0, -1.0])
    # ||mu_a - mu_b||^2 + tr(I + 4I - 2 * 2I) = 2 + 3 * (1 + 4 - 4) = 5
    assert frechet_distance(a, b) == pytest.approx(5.0, rel=0.03)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-4)


def test_quality_scores_separate_real_images_from_noise(fashion):
    torch.manual_seed(0)
    classifier = FeatureClassifier()
    real = fashion.test.float_images(slice(0, 500))
    reference, probs = features_and_probs(classifier, fashion.test.float_images(slice(500, 1000)))
    assert reference.shape == (500, 128) and torch.allclose(probs.sum(1), torch.ones(500), atol=1e-5)
    near = score_images(classifier, real, reference)
    far = score_images(classifier, torch.rand(500, 1, 28, 28), reference)
    assert near.frechet < far.frechet
    assert 0 <= near.entropy <= np.log(10) + 1e-6 and abs(sum(near.class_histogram) - 1) < 1e-5

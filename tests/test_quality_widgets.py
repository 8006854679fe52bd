import io

import numpy as np
import pytest
import torch
from PIL import Image

from vae_helpers.models import MLPVAE
from vae_helpers.quality import FeatureClassifier, features_and_probs, frechet_distance, score_images
from vae_helpers.widgets import LatentExplorer, to_png


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


def test_png_encoding_keeps_pixels():
    image = torch.zeros(1, 4, 4)
    image[0, 1, 2] = 1.0
    decoded = np.asarray(Image.open(io.BytesIO(to_png(image, scale=3))))
    assert decoded.shape == (12, 12) and decoded[3:6, 6:9].min() == 255 and decoded[:3].max() == 0


def test_slider_update_equals_decoding_that_code():
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=8).eval()
    kl = torch.tensor([0.1, 3.0, 0.0, 2.0, 0.5, 0.0, 1.0, 0.0])
    explorer = LatentExplorer(model, kl_per_dim=kl, k=3)
    assert explorer.dims == [1, 3, 6]  # ranked by KL
    image = explorer.set_dim(1, 1.7)  # slider 1 moves z[3]
    z = torch.zeros(1, 8)
    z[0, 3] = 1.7
    assert torch.allclose(image, torch.sigmoid(model.decode(z))[0])
    assert explorer.last_latency_ms < 1000
    assert torch.allclose(explorer.reset(), torch.sigmoid(model.decode(torch.zeros(1, 8)))[0])


def test_widget_sliders_drive_the_image(fashion):
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=4).eval()
    explorer = LatentExplorer(model, k=2, images=fashion.test)
    box = explorer.widget()
    before = explorer._widgets["image"].value
    explorer._widgets["sliders"][0].value = 2.5  # what dragging does
    assert explorer.z[0].item() == 2.5 and explorer._widgets["image"].value != before
    explorer.encode_image(3)
    mu = model.encode(fashion.test.float_images(slice(3, 4)))[0][0]
    assert torch.allclose(explorer.z, mu)
    assert explorer._widgets["sliders"][1].value == pytest.approx(float(np.clip(mu[1].item(), -3, 3)))
    assert box is explorer.widget()

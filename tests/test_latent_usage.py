"""Notebook 09's measurements: log p(x) of a conditional VAE (labels summed out) and how much z is used."""

import math

import pytest
import torch

from vae_helpers.data import ImageSplit
from vae_helpers.errors import ConfigError
from vae_helpers.evaluation import conditional_log_likelihood, iwae_log_likelihood, log_marginal_over_labels
from vae_helpers.latent import latent_usage, swap_reconstruction_nll
from vae_helpers.losses import reconstruction_nll
from vae_helpers.models import MLPVAE, AutoregressiveVAE, ConditionalVAE
from vae_helpers.stats import bootstrap_interval


def _tiny_split(n: int = 6, n_classes: int = 3, seed: int = 0) -> ImageSplit:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, 2, 2), generator=g, dtype=torch.uint8)
    return ImageSplit(images, torch.arange(n) % n_classes)


def _brute_force_log_px_given_y(model: ConditionalVAE, x: torch.Tensor, c: int) -> float:
    """log p(x | y=c) = log int N(z; 0, 1) p(x | z, y=c) dz on a fine grid (1-D latent)."""
    z = torch.linspace(-10, 10, 40001).unsqueeze(1)
    with torch.no_grad():
        logits = model.decode(z, torch.full((len(z),), c, dtype=torch.long))
    log_joint = -0.5 * (math.log(2 * math.pi) + z[:, 0].pow(2)) - reconstruction_nll(logits, x.expand_as(logits))
    dz = float(z[1, 0] - z[0, 0])
    return float(torch.logsumexp(log_joint.double(), 0) + math.log(dz))


def test_conditional_log_likelihood_matches_numerical_integration():
    torch.manual_seed(0)
    model = ConditionalVAE(n_classes=3, image_shape=(1, 2, 2), hidden=(8,), latent_dim=1).eval()
    split = _tiny_split()
    values = conditional_log_likelihood(model, split, k=20000, batch_size=6)
    assert values.shape == (6, 3)
    x = split.float_images()
    exact = torch.tensor([[_brute_force_log_px_given_y(model, x[n : n + 1], c) for c in range(3)] for n in range(6)])
    # the bound is below the truth and, with k = 20,000 on a 1-D latent, within a few hundredths of it
    assert (values <= exact.to(values.dtype) + 0.01).all()
    assert torch.allclose(values, exact.to(values.dtype), atol=0.05)
    # the labels matter: the classes' columns differ (a bug that ignored the relabelling would give equal columns)
    assert (exact.max(1).values - exact.min(1).values).min() > 1e-3
    assert (values.max(1).values - values.min(1).values).min() > 1e-3
    # log p(x) by brute force: log mean_y p(x | y)
    marginal = log_marginal_over_labels(exact)
    assert torch.allclose(marginal, torch.logsumexp(exact, 1) - math.log(3))
    assert torch.allclose(log_marginal_over_labels(values), torch.logsumexp(values, 1) - math.log(3))


def test_conditional_log_likelihood_column_of_the_true_label_is_the_usual_bound():
    torch.manual_seed(1)
    model = ConditionalVAE(n_classes=3, image_shape=(1, 2, 2), hidden=(8,), latent_dim=2).eval()
    split = _tiny_split()
    values = conditional_log_likelihood(model, split, k=50, batch_size=6, seed=4)
    same_label = ImageSplit(split.images, torch.zeros(6, dtype=torch.long))
    assert torch.allclose(
        values[:, 0], iwae_log_likelihood(model, same_label, k=50, batch_size=6, seed=4, return_per_image=True)
    )


def test_log_marginal_over_labels_prior_and_errors():
    log_pxy = torch.tensor([[-1.0, -2.0], [-3.0, -0.5]], dtype=torch.float64)
    prior = torch.tensor([0.25, 0.75], dtype=torch.float64)
    expected = torch.log((prior * log_pxy.exp()).sum(1))
    assert torch.allclose(log_marginal_over_labels(log_pxy, prior), expected)
    with pytest.raises(ConfigError):
        log_marginal_over_labels(log_pxy, torch.tensor([0.5, 0.6]))
    with pytest.raises(ConfigError):
        log_marginal_over_labels(log_pxy[0])
    with pytest.raises(ConfigError):
        conditional_log_likelihood(MLPVAE(latent_dim=2), _tiny_split(), k=2)


def test_swap_cost_is_zero_when_the_decoder_ignores_z_and_positive_when_it_uses_it(fashion):
    torch.manual_seed(0)
    split = fashion.test.head(40)
    model = AutoregressiveVAE(latent_dim=4, made_hidden=30, hidden=(20,)).eval()
    own, swapped = swap_reconstruction_nll(model, split, seed=3, batch_size=16)
    assert own.shape == swapped.shape == (40,)
    # own: the image's own posterior mean, teacher-forced, batch size does not matter
    with torch.no_grad():
        x = split.float_images()
        mu = model.encode(x)[0]
        assert torch.allclose(own, reconstruction_nll(model.likelihood_logits(mu, x), x), atol=1e-4)
    assert (swapped - own).abs().max() > 1e-3  # a random decoder reads z, so the swap changes the scores
    with torch.no_grad():
        model.z_to_hidden.weight.zero_()
        model.z_to_out.weight.zero_()
    own, swapped = swap_reconstruction_nll(model, split, seed=3)
    assert torch.allclose(own, swapped)


def test_latent_usage_probes_what_the_decoder_receives_not_only_mu():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (400,), generator=g)
    images = (labels.view(-1, 1, 1, 1) * 60 + torch.randint(0, 20, (400, 1, 4, 4), generator=g)).to(torch.uint8)
    train, test = ImageSplit(images[:300], labels[:300]), ImageSplit(images[300:], labels[300:])
    torch.manual_seed(0)
    model = MLPVAE(image_shape=(1, 4, 4), hidden=(16,), latent_dim=3).eval()
    with torch.no_grad():
        model.to_stats.bias[3:] = -12.0  # tiny posterior noise: z is mu
    usage = latent_usage(model, train, test, probe_images=300)
    majority = int(torch.bincount(labels[:300]).argmax())
    assert usage.majority_rate == pytest.approx(float((labels[300:] == majority).float().mean()))
    assert usage.probe_accuracy_mu > 0.95  # the brightness, hence the class, passes through a random encoder
    assert usage.probe_accuracy > 0.95  # and z ~ q(z|x) carries it too
    assert usage.swap_cost == pytest.approx(float((usage.swapped_nll - usage.own_nll).mean()))
    with torch.no_grad():  # mu keeps the class, at a scale 1,000 times below the posterior's noise
        model.to_stats.weight[:3] *= 1e-3
        model.to_stats.bias[:3] *= 1e-3
        model.to_stats.weight[3:] = 0.0
        model.to_stats.bias[3:] = 0.0  # sigma = 1
    noisy = latent_usage(model, train, test, probe_images=300)
    assert noisy.probe_accuracy_mu > 0.95  # standardised, mu still separates the classes
    assert noisy.probe_accuracy < 0.5  # but one sample of z does not: the decoder gets (almost) nothing
    with torch.no_grad():  # a code that is the same for every image carries nothing
        for p in model.encoder.parameters():
            p.zero_()
    blind = latent_usage(model, train, test, probe_images=300)
    assert blind.probe_accuracy_mu == pytest.approx(blind.majority_rate, abs=0.05)
    assert blind.swap_cost == pytest.approx(0.0, abs=1e-4)


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_more_images():
    g = torch.Generator().manual_seed(0)
    small = torch.randn(100, generator=g, dtype=torch.float64) + 1.0
    large = torch.randn(10000, generator=g, dtype=torch.float64) + 1.0
    mean, low, high = bootstrap_interval(small)
    assert mean == pytest.approx(float(small.mean())) and low < mean < high
    assert (high - low) == pytest.approx(2 * 1.96 * float(small.std()) / 10, rel=0.2)  # normal theory width
    _, low_l, high_l = bootstrap_interval(large)
    assert high_l - low_l < (high - low) / 5 and low_l < 1.0 < high_l
    assert tuple(bootstrap_interval(torch.full((5,), 2.0))) == (2.0, 2.0, 2.0)
    with pytest.raises(ConfigError):
        bootstrap_interval(torch.ones(1))

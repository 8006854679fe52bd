import math

import pytest
import torch

from vae_helpers.losses import (
    LOGVAR_MAX,
    LOGVAR_MIN,
    KLSchedule,
    bernoulli_nll,
    gaussian_log_density,
    gaussian_nll,
    kl_per_dim,
    reparameterize,
    standard_normal_log_density,
    vae_loss,
)


@pytest.mark.parametrize(
    "mu, log_sigma, expected",
    [
        (0.0, 0.0, 0.0),
        (2.0, 0.0, 2.0),
        (0.0, 1.0, 2.194528),
        (-2.0, 0.0, 2.0),
        (1.0, -1.0, 0.5 * (1 + math.exp(-2) + 2 - 1)),
    ],
)
def test_analytic_kl_known_values(mu, log_sigma, expected):
    kl = kl_per_dim(torch.tensor([[mu]]), torch.tensor([[2 * log_sigma]]))
    assert kl.shape == (1, 1)
    assert kl.item() == pytest.approx(expected, abs=1e-5)


def test_analytic_kl_is_per_dimension():
    mu = torch.tensor([[0.0, 2.0, 0.0]])
    logvar = torch.tensor([[0.0, 0.0, 2.0]])
    assert torch.allclose(kl_per_dim(mu, logvar), torch.tensor([[0.0, 2.0, 2.194528]]), atol=1e-5)


def test_analytic_kl_matches_monte_carlo():
    torch.manual_seed(0)
    mu = torch.tensor([[0.5, -1.0, 2.0, 0.0]])
    logvar = torch.tensor([[0.0, -1.0, 0.7, 1.5]])
    z = reparameterize(mu, logvar, n_samples=400_000)  # [S x 1 x D]
    std = torch.exp(0.5 * logvar)
    log_q = torch.distributions.Normal(mu, std).log_prob(z)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z)
    mc = (log_q - log_p).mean(0)
    assert torch.allclose(mc, kl_per_dim(mu, logvar), atol=0.02), (mc, kl_per_dim(mu, logvar))


def test_gradients_reach_mu_and_logvar():
    mu = torch.zeros(4, 3, requires_grad=True)
    logvar = torch.zeros(4, 3, requires_grad=True)
    z = reparameterize(mu, logvar)
    (z**2).sum().backward()
    assert mu.grad is not None and logvar.grad is not None
    assert mu.grad.abs().sum() > 0 and logvar.grad.abs().sum() > 0
    # d/dmu of (mu + sigma eps)^2 = 2 z
    assert torch.allclose(mu.grad, 2 * z.detach())


def test_reparameterize_sample_statistics():
    torch.manual_seed(1)
    mu, logvar = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0, math.log(4.0)]])
    z = reparameterize(mu, logvar, n_samples=200_000).squeeze(1)
    assert torch.allclose(z.mean(0), mu[0], atol=0.02)
    assert torch.allclose(z.std(0), torch.tensor([1.0, 2.0]), atol=0.02)


def test_log_densities_match_torch_distributions():
    z, mu, logvar = torch.randn(5, 3), torch.randn(5, 3), torch.randn(5, 3)
    ref = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    assert torch.allclose(gaussian_log_density(z, mu, logvar), ref, atol=1e-5)
    assert torch.allclose(
        standard_normal_log_density(z), torch.distributions.Normal(0, 1).log_prob(z).sum(-1), atol=1e-5
    )


def test_bernoulli_nll_sums_pixels_per_image():
    logits = torch.randn(3, 1, 4, 4)
    x = torch.rand(3, 1, 4, 4)
    p = torch.sigmoid(logits)
    manual = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).flatten(1).sum(1)
    assert bernoulli_nll(logits, x).shape == (3,)
    assert torch.allclose(bernoulli_nll(logits, x), manual, atol=1e-4)


def test_gaussian_nll_is_normalised_log_likelihood():
    logits, x = torch.randn(2, 1, 3, 3), torch.rand(2, 1, 3, 3)
    for sigma in (1.0, 0.1):
        ref = -torch.distributions.Normal(torch.sigmoid(logits), sigma).log_prob(x).flatten(1).sum(1)
        assert torch.allclose(gaussian_nll(logits, x, sigma), ref, atol=1e-4)


def test_vae_loss_terms_beta_and_batch_average():
    torch.manual_seed(0)
    logits, x = torch.randn(8, 1, 4, 4), torch.rand(8, 1, 4, 4)
    mu, logvar = torch.randn(8, 5), torch.randn(8, 5)
    t1 = vae_loss(logits, x, mu, logvar, beta=1.0)
    t4 = vae_loss(logits, x, mu, logvar, beta=4.0)
    assert t1.recon.item() == pytest.approx(bernoulli_nll(logits, x).mean().item(), rel=1e-6)
    assert t1.kl.item() == pytest.approx(kl_per_dim(mu, logvar).sum(1).mean().item(), rel=1e-6)
    assert t4.loss.item() == pytest.approx(t1.recon.item() + 4 * t1.kl.item(), rel=1e-6)
    assert t1.elbo.item() == pytest.approx(-(t1.recon + t1.kl).item())
    assert t1.kl_per_dim.shape == (5,)


def test_free_bits_floor_per_dimension():
    logits, x = torch.zeros(2, 1, 2, 2), torch.full((2, 1, 2, 2), 0.5)
    mu = torch.tensor([[0.0, 2.0], [0.0, 2.0]])  # KL per dim: 0 and 2 nats
    logvar = torch.zeros(2, 2)
    terms = vae_loss(logits, x, mu, logvar, free_bits=0.5)
    assert terms.kl.item() == pytest.approx(2.0)  # reported KL is the true one
    assert (terms.loss - terms.recon).item() == pytest.approx(0.5 + 2.0)  # dim 0 lifted to the floor


def test_autoencoder_loss_has_no_kl():
    terms = vae_loss(torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2), None, None)
    assert terms.kl.item() == 0 and terms.loss.item() == pytest.approx(terms.recon.item())


def test_unknown_likelihood_is_rejected():
    with pytest.raises(ValueError, match="bernoulli"):
        vae_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), None, None, likelihood="poisson")


def test_kl_schedules():
    const = KLSchedule("constant", beta_max=2.0)
    assert const(0) == const(10_000) == 2.0
    linear = KLSchedule("linear", beta_max=1.0, warmup_steps=100)
    assert [linear(s) for s in (0, 25, 50, 100, 500)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    # Fu et al. 2019: M=4 cycles over 100 steps, ramp over the first R=0.5 of each 25-step cycle.
    cyc = KLSchedule("cyclical", beta_max=1.0, total_steps=100)
    assert cyc.n_cycles == 4 and cyc.ratio == 0.5
    assert cyc(0) == 0.0
    assert cyc(5) == pytest.approx(5 / 12.5)
    assert cyc(13) == 1.0 and cyc(24) == 1.0
    assert cyc(25) == 0.0 and cyc(50) == 0.0 and cyc(75) == 0.0
    with pytest.raises(ValueError, match="cyclical"):
        KLSchedule("exponential")


def test_logvar_is_clamped_by_models():
    from vae_helpers.models import MLPVAE

    model = MLPVAE(latent_dim=4)
    with torch.no_grad():
        model.to_stats.bias.fill_(1e6)
    _, logvar = model.encode(torch.rand(2, 1, 28, 28))
    assert logvar.max().item() == LOGVAR_MAX
    with torch.no_grad():
        model.to_stats.bias.fill_(-1e6)
    _, logvar = model.encode(torch.rand(2, 1, 28, 28))
    assert logvar.min().item() == LOGVAR_MIN

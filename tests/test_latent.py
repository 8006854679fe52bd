"""Latent diagnostics (vae_helpers.latent): the one encode loop, and the aggregate posterior against the prior
(known answers on synthetic codes)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from vae_helpers.data import ImageSplit
from vae_helpers.latent import (
    aggregate_variance,
    code_norms,
    encode_split,
    fitted_radius,
    plot_prior_mismatch,
)
from vae_helpers.models import AE, ConditionalVAE, ConvVAE64


def _codes(n: int = 4000, d: int = 64, scale: float = 1.5, sigma: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(123)  # not code_norms' seed, whose noise must be independent of mu
    mu = scale * torch.randn(n, d, generator=gen)
    return mu, torch.full((n, d), 2 * torch.log(torch.tensor(sigma)).item())


def test_norms_follow_the_known_shells():
    mu, logvar = _codes()  # mu ~ N(0, 1.5^2 I), sigma = 0.5, D = 64
    norms = code_norms(mu, logvar, temperatures=(1.0, 0.5), n_prior=3000)
    assert list(norms) == ["posterior mean mu(x)", "z ~ q(z|x)", "prior, T = 1", "prior, T = 0.5"]
    assert len(norms["prior, T = 1"]) == 3000 and len(norms["z ~ q(z|x)"]) == 4000
    assert norms["posterior mean mu(x)"].mean() == pytest.approx(1.5 * 8, rel=0.02)
    assert norms["z ~ q(z|x)"].mean() == pytest.approx((1.5**2 + 0.25) ** 0.5 * 8, rel=0.02)
    assert norms["prior, T = 1"].mean() == pytest.approx(8, rel=0.02)  # sqrt(64)
    assert norms["prior, T = 0.5"].mean() == pytest.approx(4, rel=0.02)


def test_aggregate_variance_is_the_law_of_total_variance():
    mu, logvar = _codes()
    var_mu, mean_s2 = aggregate_variance(mu, logvar)
    assert var_mu.shape == mean_s2.shape == (64,)
    torch.testing.assert_close(mean_s2, torch.full((64,), 0.25))
    assert var_mu.mean() == pytest.approx(2.25, rel=0.03)
    # The sum is the variance of z ~ q(z) = mean_x q(z|x), measured by sampling.
    z = mu + 0.5 * torch.randn(mu.shape, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close((var_mu + mean_s2).mean(), z.var(0).mean(), rtol=0.03, atol=0)


def test_fitted_radius_by_hand_and_on_samples():
    z = torch.tensor([[1.0, 2.0], [3.0, 2.0]])
    r = fitted_radius(z, mean=torch.tensor([1.0, 0.0]), std=torch.tensor([2.0, 1.0]))
    torch.testing.assert_close(r, torch.tensor([2.0, (1.0 + 4.0) ** 0.5]))
    # Samples of the Gaussian itself sit on its shell sqrt(D); prior samples inside a wider Gaussian sit deeper.
    gen = torch.Generator().manual_seed(0)
    mean, std = torch.full((100,), 0.5), torch.full((100,), 2.0)
    own = fitted_radius(mean + std * torch.randn(2000, 100, generator=gen), mean, std)
    prior = fitted_radius(torch.randn(2000, 100, generator=gen), mean, std)
    assert own.mean() == pytest.approx(10.0, rel=0.02)
    assert prior.mean() == pytest.approx(((1 + 0.25) / 4 * 100) ** 0.5, rel=0.02)
    with pytest.raises(ValueError, match="same D"):
        fitted_radius(z, mean[:3], std[:3])


def test_encode_split_matches_the_model_on_uint8_images():
    torch.manual_seed(0)
    model = ConvVAE64(latent_dim=4, channels=(4, 4, 8, 8))
    model.train()
    x = torch.randint(0, 256, (5, 3, 64, 64), dtype=torch.uint8)
    attributes = torch.randint(0, 2, (5, 40))
    mu, logvar, labels = encode_split(model, ImageSplit(x, attributes), batch_size=2)
    assert mu.shape == logvar.shape == (5, 4) and model.training  # mode restored
    assert torch.equal(labels, attributes)
    model.eval()
    with torch.no_grad():
        ref_mu, ref_logvar = model.encode(x.float() / 255)
    torch.testing.assert_close(mu, ref_mu)
    torch.testing.assert_close(logvar, ref_logvar)


def test_encode_split_gives_a_conditional_model_its_labels_and_an_autoencoder_no_logvar():
    torch.manual_seed(0)
    x = torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8)
    y = torch.tensor([0, 1, 2, 3, 4, 5])
    model = ConditionalVAE(n_classes=10, hidden=(16,), latent_dim=3).eval()
    mu, logvar, labels = encode_split(model, ImageSplit(x, y))
    with torch.no_grad():
        ref_mu, ref_logvar = model.encode(x.float() / 255, y)
        other_mu, _ = model.encode(x.float() / 255, (y + 1) % 10)
    torch.testing.assert_close(mu, ref_mu)
    torch.testing.assert_close(logvar, ref_logvar)
    assert not torch.allclose(mu, other_mu)  # the label reaches the encoder: encoding without it would differ
    mu, logvar, labels = encode_split(AE(hidden=(16,), latent_dim=3), ImageSplit(x, y))
    assert mu.shape == (6, 3) and logvar is None and torch.equal(labels, y)


def test_plot_prior_mismatch_labels_and_shell():
    mu, logvar = _codes(n=300, d=16)
    var_mu, mean_sigma2 = aggregate_variance(mu, logvar)
    # as on CelebA: the posteriors' own spread is a thousandth of the spread of their means
    fig = plot_prior_mismatch(code_norms(mu, logvar, temperatures=(1.0, 0.7)), var_mu, 1e-3 * mean_sigma2)
    ax0, ax1 = fig.axes
    assert ax0.get_xlabel() and ax0.get_ylabel() and ax1.get_xlabel() and ax1.get_ylabel()
    assert ax0.get_title() and ax1.get_title() and fig._suptitle.get_text()
    labels = [t.get_text() for t in ax0.get_legend().get_texts()]
    assert any("sqrt(D) = 4.0" in t for t in labels) and len(labels) == 5
    assert any(abs(line.get_xdata()[0] - 4.0) < 1e-9 for line in ax0.get_lines())
    # every legend entry of the right panel is a line or markers drawn inside its (log) axis: none is invisible
    assert ax1.get_yscale() == "log"
    low, high = ax1.get_ylim()
    named = {line.get_label(): line for line in ax1.get_lines() if not line.get_label().startswith("_")}
    assert set(named) == {t.get_text() for t in ax1.get_legend().get_texts()} and len(named) == 4
    for label, line in named.items():
        y = np.asarray(line.get_ydata(), dtype=float)
        assert np.all((y >= low) & (y <= high)), f"{label!r} is named in the legend but drawn off the axis"
    matplotlib.pyplot.close(fig)

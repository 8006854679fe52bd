"""The fast IWAE path computes the same bound as the direct computation (correctness only, no timings)."""

import pytest
import torch

from benchmarks.reference import iwae_direct
from vae_helpers.config import native_bf16, seed_everything
from vae_helpers.data import ImageSplit
from vae_helpers.evaluation import iwae_log_likelihood, score_model
from vae_helpers.models import MLPVAE, AutoregressiveVAE, ConditionalVAE, ConvVAE


def _split(n=6, binary=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 28, 28, generator=g)
    images = (images < 0.3).float() if binary else images
    return ImageSplit((images * 255).round().to(torch.uint8), torch.arange(n) % 10)


def _sharpen(model):
    """Large logits (|l| up to ~150), where a naive softplus or sigmoid would overflow."""
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(10.0)
    return model


@pytest.mark.parametrize(
    "build",
    [
        lambda: MLPVAE(latent_dim=8),
        lambda: _sharpen(MLPVAE(latent_dim=8)),
        lambda: ConvVAE(latent_dim=8),
        lambda: ConditionalVAE(latent_dim=8),
        lambda: AutoregressiveVAE(latent_dim=8, made_hidden=50),
    ],
    ids=["mlp", "mlp-large-logits", "conv", "conditional", "autoregressive"],
)
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "grey"])
def test_fast_iwae_equals_the_direct_computation(build, binary):
    seed_everything(0)
    model, split = build(), _split(binary=binary)
    expected = iwae_direct(model, split, k=37, batch_size=4, chunk=10)
    got = iwae_log_likelihood(model, split, k=37, batch_size=4, chunk=10, tile=7, return_per_image=True)
    assert torch.allclose(got, expected, rtol=1e-5, atol=2e-3), (got - expected).abs().max()


@pytest.mark.parametrize("sigma", [1.0, 0.1])
def test_gaussian_likelihood_equals_the_direct_computation(sigma):
    seed_everything(0)
    model, split = MLPVAE(latent_dim=4), _split(binary=False)
    expected = iwae_direct(model, split, k=20, chunk=8, likelihood="gaussian", sigma=sigma)
    got = iwae_log_likelihood(model, split, k=20, chunk=8, likelihood="gaussian", sigma=sigma, return_per_image=True)
    assert torch.allclose(got, expected, rtol=1e-5, atol=2e-3)


def test_score_model_gives_the_iwae_bound_the_decoders_sigma():
    """k = 1 is a one-sample ELBO: beside the ELBO of the same images it must agree, and at sigma = 0.1 a bound
    scored with sigma = 1 would be thousands of nats away."""
    seed_everything(0)
    model, split = MLPVAE(latent_dim=4), _split(n=64, binary=False)
    row = score_model(model, split, likelihood="gaussian", sigma=0.1, iwae_k=1)
    assert row["ELBO (IWAE images)"] < -1000
    assert row["IWAE"] == pytest.approx(row["ELBO (IWAE images)"], rel=0.02)


def test_tile_size_does_not_change_the_estimate():
    seed_everything(0)
    model, split = MLPVAE(latent_dim=8), _split()
    a = iwae_log_likelihood(model, split, k=50, chunk=20, tile=3, return_per_image=True)
    b = iwae_log_likelihood(model, split, k=50, chunk=20, tile=256, return_per_image=True)
    assert torch.allclose(a, b, atol=1e-4)


def test_bf16_decoder_moves_the_bound_little():
    seed_everything(0)
    model, split = MLPVAE(latent_dim=8), _split()
    fp32 = iwae_log_likelihood(model, split, k=50, chunk=25)
    bf16 = iwae_log_likelihood(model, split, k=50, chunk=25, precision="bf16")
    assert abs(bf16 - fp32) < 0.5  # untrained weights; the benchmark measures a trained model (< 0.05 nats)
    assert isinstance(native_bf16("cpu"), bool) and native_bf16("meta") is False


def test_auto_precision_is_bf16_only_on_native_hardware(monkeypatch):
    from vae_helpers import speed
    from vae_helpers.errors import ConfigError
    from vae_helpers.speed import autocast_dtype
    from vae_helpers.training import TrainConfig

    config = TrainConfig(precision="auto")
    cpu = torch.device("cpu")
    expected = torch.bfloat16 if native_bf16("cpu") else None
    assert autocast_dtype(config, cpu, None) is expected
    assert autocast_dtype(config, cpu, lambda *a: None) is None  # a custom loss_fn stays fp32
    monkeypatch.setattr(speed, "native_bf16", lambda device: True)  # both answers, whatever this CPU is
    assert autocast_dtype(config, cpu, None) is torch.bfloat16
    assert autocast_dtype(config, cpu, lambda *a: None) is None
    monkeypatch.setattr(speed, "native_bf16", lambda device: False)  # emulated bf16 is much slower: never chosen
    assert autocast_dtype(config, cpu, None) is None
    assert TrainConfig().precision == "fp32"
    with pytest.raises(ConfigError, match="'auto'"):
        TrainConfig(precision="fp16")


@pytest.mark.parametrize("pixels", [784, 50, 250], ids=["mnist", "under-one-group", "groups-and-rest"])
def test_grouped_bernoulli_term_matches_float64_softplus(pixels):
    """The log-of-products trick: exact to float32 rounding, finite for |l| up to 200, any pixel count."""
    from vae_helpers.evaluation import _tile_nll

    g = torch.Generator().manual_seed(pixels)
    logits = torch.randn(64, pixels, generator=g) * torch.logspace(-2, 2.3, 64).unsqueeze(1)  # |l| to ~200
    x = (torch.rand(1, pixels, generator=g) < 0.3).float()
    expected = (torch.nn.functional.softplus(logits.double()) - x.double() * logits.double()).sum(-1)
    got = _tile_nll(logits.clone(), x.expand(64, pixels), "bernoulli")
    assert torch.isfinite(got).all()
    assert torch.allclose(got.double(), expected, rtol=2e-6, atol=2e-4), (got.double() - expected).abs().max()

"""Evaluation in nats per image: test ELBO, the IWAE bound, reconstruction MSE, active units, KL per dimension.

All functions put the model in eval mode for the duration (BatchNorm uses its running
statistics) and restore the previous mode afterwards.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch

from .data import ImageSplit
from .losses import gaussian_log_density, kl_per_dim, reconstruction_nll, standard_normal_log_density
from .models import BaseVAE


@contextmanager
def _eval_mode(model: BaseVAE) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _cond(model: BaseVAE, y: torch.Tensor) -> torch.Tensor | None:
    return y if model.conditional else None


@dataclass
class Metrics:
    """Test-set summary (means over the split).

    Attributes:
        elbo: one-sample ELBO estimate, nats per image (higher is better).
        recon: reconstruction NLL, nats per image.
        kl: KL(q(z|x) || p(z)) summed over dimensions, nats per image.
        mse: mean squared error per pixel of the reconstruction decoded from mu (pixel values in [0, 1]).
        kl_per_dim: ``[D]`` mean KL of each latent dimension.
    """

    elbo: float
    recon: float
    kl: float
    mse: float
    kl_per_dim: torch.Tensor

    def as_row(self) -> dict[str, float]:
        return {"ELBO": self.elbo, "recon": self.recon, "KL": self.kl, "MSE": self.mse}


def evaluate(model: BaseVAE, split: ImageSplit, likelihood: str = "bernoulli", batch_size: int = 1000,
             sigma: float = 1.0, seed: int = 0) -> Metrics:
    """ELBO, reconstruction, KL and MSE over ``split`` (z sampled once per image with a fixed seed)."""
    device = model.device
    generator = torch.Generator(device="cpu").manual_seed(seed)
    sums = torch.zeros(4, dtype=torch.float64)
    kl_dims = torch.zeros(model.latent_dim, dtype=torch.float64)
    with _eval_mode(model):
        for x, y in split.batches(batch_size, device=device):
            mu, logvar = model.encode(x, _cond(model, y))
            if logvar is None:  # deterministic AE: no KL, z = code
                z, kl = mu, torch.zeros(len(x), model.latent_dim, device=device)
            else:
                eps = torch.randn(mu.shape, generator=generator).to(device)
                z, kl = mu + eps * torch.exp(0.5 * logvar), kl_per_dim(mu, logvar)
            recon = reconstruction_nll(model.decode(z, _cond(model, y)), x, likelihood, sigma)
            mean_image = torch.sigmoid(model.decode(mu, _cond(model, y)))
            mse = (mean_image - x).pow(2).flatten(1).mean(1)
            sums += torch.stack([(recon + kl.sum(1)).sum(), recon.sum(), kl.sum(), mse.sum()]).double().cpu()
            kl_dims += kl.sum(0).double().cpu()
    n = max(1, len(split))
    neg_elbo, recon, kl, mse = (sums / n).tolist()
    return Metrics(-neg_elbo, recon, kl, mse, (kl_dims / n).float())


def iwae_log_likelihood(model: BaseVAE, split: ImageSplit, k: int = 1000, batch_size: int = 100, chunk: int = 500,
                        likelihood: str = "bernoulli", seed: int = 0, return_per_image: bool = False):
    """Importance-weighted estimate of log p(x) (Burda et al. 2015), in nats per image.

    log p(x) >= E[ log (1/k) sum_i p(x, z_i) / q(z_i | x) ],  z_i ~ q(z | x).
    k=1 is the ELBO; the bound tightens as k grows. Memory stays bounded: ``chunk`` samples of
    ``batch_size`` images are decoded at a time, i.e. ``chunk x batch_size`` decoder passes.

    Returns:
        The mean over ``split`` (a float), or ``[N]`` per-image values with ``return_per_image``.
    """
    if not model.is_variational:
        raise ValueError("The IWAE bound needs a posterior q(z|x); a deterministic autoencoder has none.")
    device = model.device
    generator = torch.Generator(device="cpu").manual_seed(seed)
    values = []
    with _eval_mode(model):
        for x, y in split.batches(batch_size, device=device):
            mu, logvar = model.encode(x, _cond(model, y))
            log_weights = []
            for start in range(0, k, chunk):
                s = min(chunk, k - start)
                eps = torch.randn((s, *mu.shape), generator=generator).to(device)
                z = mu + eps * torch.exp(0.5 * logvar)  # [s x B x D]
                yy = None if not model.conditional else y.repeat(s)
                logits = model.decode(z.reshape(-1, model.latent_dim), yy)  # [s*B x C x H x W]
                log_px_z = -reconstruction_nll(logits, x.repeat(s, 1, 1, 1), likelihood).view(s, -1)
                log_weights.append(log_px_z + standard_normal_log_density(z) - gaussian_log_density(z, mu, logvar))
            values.append((torch.logsumexp(torch.cat(log_weights), 0) - math.log(k)).double().cpu())
    per_image = torch.cat(values)
    return per_image if return_per_image else float(per_image.mean())


def encode_split(model: BaseVAE, split: ImageSplit, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means ``[N x D]`` (on the CPU) and the labels of ``split``."""
    mus, labels = [], []
    with _eval_mode(model):
        for x, y in split.batches(batch_size, device=model.device):
            mus.append(model.encode(x, _cond(model, y))[0].cpu())
            labels.append(y.cpu())
    return torch.cat(mus), torch.cat(labels)


def active_units(model: BaseVAE, split: ImageSplit, threshold: float = 0.01) -> tuple[int, torch.Tensor]:
    """Active units (Burda et al. 2015): dimensions whose Var_x( E_q[z_i | x] ) exceeds ``threshold``.

    Returns:
        ``(count, variances [D])``.
    """
    mu, _ = encode_split(model, split)
    variances = mu.var(0, unbiased=True)
    return int((variances > threshold).sum()), variances


def kl_per_dimension(model: BaseVAE, split: ImageSplit, batch_size: int = 1000) -> torch.Tensor:
    """Mean KL(q(z_i|x) || N(0, 1)) of each latent dimension over ``split``: ``[D]`` nats."""
    total = torch.zeros(model.latent_dim, dtype=torch.float64)
    with _eval_mode(model):
        for x, y in split.batches(batch_size, device=model.device):
            mu, logvar = model.encode(x, _cond(model, y))
            total += kl_per_dim(mu, logvar).sum(0).double().cpu()
    return (total / max(1, len(split))).float()

"""The objective of one batch for any course model, per image: encode, z = mu + sigma * eps, score x.

Training, validation, evaluation and the exercises' ``make_loss_fn`` all start from :func:`forward_pass`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from . import validation
from .data import ImageSplit
from .errors import ConfigError
from .losses import Likelihood, LossTerms, batch_terms, kl_per_dim, reconstruction_nll, reparameterize
from .models import BaseVAE


def forward_pass(
    model: BaseVAE,
    x: torch.Tensor,
    y: torch.Tensor | None,
    generator: torch.Generator | None = None,
    autocast_dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """``(mu [B x D], logvar [B x D] or None for an AE, logits [B x C x H x W])`` of the batch ``x``.

    The logits are ``model.likelihood_logits(z, x, y)`` (teacher-forced if autoregressive; ``y`` reaches conditional
    models only). eps comes from ``generator`` (None: the global RNG). ``autocast_dtype`` runs encoder and decoder
    under ``torch.autocast``; their outputs come back as float32.
    """
    y = y if model.conditional else None
    with _autocast(x.device, autocast_dtype):
        mu, logvar = model.encode(x, y)
    mu, logvar = mu.float(), (logvar.float() if logvar is not None else None)  # no-ops in float32
    z = reparameterize(mu, logvar, generator=generator) if logvar is not None else mu  # [B x D]
    with _autocast(x.device, autocast_dtype):
        logits = model.likelihood_logits(z, x, y)
    return mu, logvar, logits.float()


@dataclass
class ImageTerms:
    """The negative ELBO's terms per image, in nats: ``recon [B]`` (one z ~ q(z|x)) and ``kl_per_dim [B x D]``
    (``[B x 0]`` for an AE), with the posterior ``mu``, ``logvar`` ``[B x D]`` (``logvar`` None for an AE)."""

    recon: torch.Tensor
    kl_per_dim: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor | None

    @property
    def elbo(self) -> torch.Tensor:
        """``[B]`` the one-sample ELBO of each image: -(recon + KL)."""
        return -(self.recon + self.kl_per_dim.sum(1))

    def batch_loss(self, beta: float = 1.0, free_bits: float = 0.0) -> LossTerms:
        """The batch means, with ``beta`` and free bits applied to the loss (see :func:`~vae_helpers.losses.vae_loss`)."""
        return batch_terms(self.recon.mean(), self.kl_per_dim if self.logvar is not None else None, beta, free_bits)


def per_image_terms(
    model: BaseVAE,
    x: torch.Tensor,
    y: torch.Tensor | None,
    likelihood: Likelihood = "bernoulli",
    sigma: float = 1.0,
    generator: torch.Generator | None = None,
    autocast_dtype: torch.dtype | None = None,
) -> ImageTerms:
    """Reconstruction and KL of each image of ``x`` ``[B x C x H x W]`` (see :func:`forward_pass` for the rest)."""
    mu, logvar, logits = forward_pass(model, x, y, generator, autocast_dtype)
    recon = reconstruction_nll(logits, x, likelihood, sigma)  # [B]
    kl = kl_per_dim(mu, logvar) if logvar is not None else recon.new_zeros(len(x), 0)
    return ImageTerms(recon, kl, mu, logvar)


def model_objective(
    model: BaseVAE,
    x: torch.Tensor,
    y: torch.Tensor | None,
    beta: float = 1.0,
    likelihood: Likelihood = "bernoulli",
    free_bits: float = 0.0,
    sigma: float = 1.0,
    generator: torch.Generator | None = None,
    autocast_dtype: torch.dtype | None = None,
) -> LossTerms:
    """The one-sample (beta-weighted) negative ELBO of a batch, averaged over its images: what :func:`fit` trains."""
    terms = per_image_terms(model, x, y, likelihood, sigma, generator, autocast_dtype)
    return terms.batch_loss(beta, free_bits)


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    return torch.autocast(device_type=device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def check_split(split: ImageSplit, what: str) -> None:
    """Refuse what is not a split of images, or an empty one: every average over it would be 0 and mean nothing."""
    validation.check_split(split, what)
    if len(split) == 0:
        raise ConfigError(
            f"{what} got an empty split (0 images), so there is nothing to average: every score would "
            "be 0 and mean nothing. Pass a split with images (check the subset(...) sizes)."
        )


def check_fits(model: BaseVAE, split: ImageSplit, what: str) -> None:
    """Refuse a split whose images are not the shape the model was built for (e.g. an MNIST model on CelebA)."""
    found = tuple(split.images.shape[1:])
    if found != tuple(model.image_shape):
        raise ConfigError(
            f"{what}: {type(model).__name__} was built for images of shape {tuple(model.image_shape)} "
            f"(C, H, W), but the split holds {found}. Use the model made for this dataset, or build one "
            f"for it (e.g. image_shape={found} where the model takes one)."
        )

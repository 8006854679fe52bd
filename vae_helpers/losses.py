"""VAE objectives, in nats per image.

The encoder gives ``mu``, ``logvar`` ``[N x D]`` of q(z|x) = N(mu, diag(exp(logvar))); the decoder gives *logits*
``[N x C x H x W]``. Reconstruction terms are **summed over pixels** and the KL over latent dimensions, both
averaged over the batch, so the two terms keep the balance of the true ELBO.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

from .errors import ConfigError
from .validation import check_pixels

#: The decoder likelihoods of the course: Bernoulli (binary cross-entropy with logits) or a Gaussian of fixed sigma.
Likelihood = Literal["bernoulli", "gaussian"]
LIKELIHOODS: tuple[str, ...] = ("bernoulli", "gaussian")
#: The KL weight schedules (see :class:`KLSchedule`).
ScheduleKind = Literal["constant", "linear", "cyclical"]
SCHEDULE_KINDS: tuple[str, ...] = ("constant", "linear", "cyclical")

#: logvar is clamped to this range: std ~3e-7 to ~2e4, beyond any trained model, exp(logvar) finite in float32.
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0
LOG_2PI = math.log(2.0 * math.pi)


def clamp_logvar(logvar: torch.Tensor) -> torch.Tensor:
    """Clamp ``logvar`` to [:data:`LOGVAR_MIN`, :data:`LOGVAR_MAX`] (gradient passes inside the range)."""
    return logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, n_samples: int | None = None, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw z = mu + sigma * eps with eps ~ N(0, I), differentiable in ``mu`` and ``logvar`` ``[N x D]``.

    ``n_samples`` S gives ``[S x N x D]`` instead of ``[N x D]``. eps comes from ``generator`` (drawn on its device,
    then moved to ``mu``'s), or from torch's global generator if None.
    """
    std = torch.exp(0.5 * logvar)
    shape = mu.shape if n_samples is None else (n_samples, *mu.shape)
    if generator is None:
        eps = torch.randn(shape, dtype=mu.dtype, device=mu.device)
    else:
        eps = torch.randn(shape, dtype=mu.dtype, device=generator.device, generator=generator).to(mu.device)
    return mu + std * eps


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Analytic KL(N(mu, exp(logvar)) || N(0, 1)) of each latent dimension, ``[N x D]``:
    0.5 * (mu^2 + sigma^2 - log sigma^2 - 1)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))), summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)


def standard_normal_log_density(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I), summed over the last dimension."""
    return -0.5 * (LOG_2PI + z.pow(2)).sum(-1)


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) for a Bernoulli decoder, summed over pixels: ``[N]``. For continuous x in [0, 1] (as in
    pytorch/examples) this is the cross-entropy, *not* a normalised likelihood."""
    check_pixels(x, "bernoulli_nll(logits, x)")
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def gaussian_nll(logits: torch.Tensor, x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """-log p(x|z) for a Gaussian decoder N(sigmoid(logits), sigma^2 I), summed over pixels, in true nats: ``[N]``.

    SSE / (2 sigma^2) + beta * KL has the minimisers of SSE + 2 sigma^2 beta * KL: the effective beta is
    2 sigma^2 beta, so a smaller sigma acts like a smaller beta (more weight on reconstruction).
    """
    check_pixels(x, "gaussian_nll(logits, x)")
    mean = torch.sigmoid(logits)
    sq = (x - mean).pow(2).flatten(1).sum(1)
    d = x[0].numel()
    return 0.5 * sq / sigma**2 + d * (math.log(sigma) + 0.5 * LOG_2PI)


def reconstruction_nll(
    logits: torch.Tensor, x: torch.Tensor, likelihood: Likelihood = "bernoulli", sigma: float = 1.0
) -> torch.Tensor:
    """Per-image reconstruction NLL ``[N]`` for ``likelihood`` ``"bernoulli"`` or ``"gaussian"`` (else ConfigError)."""
    check_pixels(x, "reconstruction_nll(logits, x) (the reconstruction term of vae_loss and of training)")
    if likelihood == "bernoulli":
        return bernoulli_nll(logits, x)
    if likelihood == "gaussian":
        return gaussian_nll(logits, x, sigma)
    raise ConfigError(f"Unknown likelihood {likelihood!r}; use one of {', '.join(LIKELIHOODS)}.")


@dataclass
class LossTerms:
    """Batch means of one loss evaluation, nats per image: ``loss`` (beta and free bits applied), ``recon``, the
    *true* ``kl`` summed over dimensions, and ``kl_per_dim [D]`` (empty for an autoencoder)."""

    loss: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor
    kl_per_dim: torch.Tensor

    @property
    def elbo(self) -> torch.Tensor:
        """The ELBO (beta = 1, no free bits), in nats per image: -(recon + kl)."""
        return -(self.recon + self.kl)


def vae_loss(
    logits: torch.Tensor,
    x: torch.Tensor,
    mu: torch.Tensor | None,
    logvar: torch.Tensor | None,
    beta: float = 1.0,
    likelihood: Likelihood = "bernoulli",
    free_bits: float = 0.0,
    sigma: float = 1.0,
) -> LossTerms:
    """Negative (beta-weighted) ELBO, averaged over the batch: recon + beta * sum_d max(KL_d, free_bits).

    KL_d is averaged over the batch before the free-bits floor (Kingma et al. 2016). ``logits`` and the targets ``x``
    in [0, 1] are ``[N x C x H x W]``; ``mu``, ``logvar`` ``[N x D]`` are both None for a deterministic autoencoder;
    ``sigma`` is the Gaussian likelihood's standard deviation.
    """
    return add_kl_term(reconstruction_nll(logits, x, likelihood, sigma).mean(), mu, logvar, beta, free_bits)


def add_kl_term(
    recon: torch.Tensor, mu: torch.Tensor | None, logvar: torch.Tensor | None, beta: float = 1.0, free_bits: float = 0.0
) -> LossTerms:
    """Complete a batch-mean reconstruction term (a scalar, nats per image) into :class:`LossTerms`:
    add ``beta`` times the KL of ``mu``/``logvar`` ``[N x D]`` (with free bits per dimension), or nothing for an AE."""
    kl = kl_per_dim(mu, logvar) if mu is not None and logvar is not None else None
    return batch_terms(recon, kl, beta, free_bits)


def batch_terms(
    recon: torch.Tensor, kl_per_image: torch.Tensor | None, beta: float = 1.0, free_bits: float = 0.0
) -> LossTerms:
    """:class:`LossTerms` from a batch-mean reconstruction term (a scalar) and the KL of each image and dimension
    ``[N x D]`` (``None`` for an AE): loss = recon + beta * sum_d max(mean_n KL_nd, free_bits)."""
    if kl_per_image is None:
        return LossTerms(recon, recon, recon.new_zeros(()), recon.new_zeros(0))
    kl_dims = kl_per_image.mean(0)
    kl = kl_dims.sum()
    penalised = kl_dims.clamp(min=free_bits).sum() if free_bits > 0 else kl
    return LossTerms(recon + beta * penalised, recon, kl, kl_dims.detach())


@dataclass(frozen=True)
class KLSchedule:
    """Weight of the KL term at each optimisation step: pass one as ``TrainConfig(beta=...)``.

    ``"linear"``: a warm-up from 0 to ``beta_max`` over ``warmup_steps``, then constant. ``"cyclical"`` (Fu et al.
    2019): ``n_cycles`` (M) cycles over ``total_steps``, each a linear ramp over its first ``ratio`` (R), then
    ``beta_max``. Steps are optimisation steps, ``epochs * ceil(n_train / batch_size)`` in all.
    """

    kind: ScheduleKind = "constant"
    beta_max: float = 1.0
    warmup_steps: int = 1
    total_steps: int = 1
    n_cycles: int = 4
    ratio: float = 0.5

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULE_KINDS:
            raise ConfigError(f"Unknown KL schedule {self.kind!r}; use 'constant', 'linear' or 'cyclical'.")
        check_beta(self.beta_max, "KLSchedule.beta_max")
        for name in ("warmup_steps", "total_steps", "n_cycles"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"KLSchedule.{name}={value!r}: it must be a whole number >= 1.")
        if not (isinstance(self.ratio, (int, float)) and 0.0 < self.ratio <= 1.0):
            raise ConfigError(
                f"KLSchedule.ratio={self.ratio!r}: the ramp's share of each cycle must be in (0, 1] "
                "(Fu et al. use 0.5)."
            )

    @classmethod
    def linear(cls, warmup_steps: int, beta_max: float = 1.0) -> KLSchedule:
        """beta ramps from 0 to ``beta_max`` over ``warmup_steps`` steps, then stays there."""
        return cls("linear", beta_max=beta_max, warmup_steps=warmup_steps)

    @classmethod
    def cyclical(cls, total_steps: int, n_cycles: int = 4, ratio: float = 0.5, beta_max: float = 1.0) -> KLSchedule:
        """Fu et al. (2019): ``n_cycles`` ramps of ``ratio`` of each cycle over ``total_steps`` steps."""
        return cls("cyclical", beta_max=beta_max, total_steps=total_steps, n_cycles=n_cycles, ratio=ratio)

    @property
    def final_beta(self) -> float:
        """The weight training ends on (validation and early stopping use it)."""
        return self.beta_max

    def __call__(self, step: int) -> float:
        """beta at optimisation step ``step`` (0-based)."""
        if self.kind == "constant":
            return self.beta_max
        if self.kind == "linear":
            return self.beta_max * min(1.0, step / max(1, self.warmup_steps))
        period = self.total_steps / self.n_cycles
        position = (step % period) / period  # in [0, 1) within the current cycle
        return self.beta_max * min(1.0, position / self.ratio)


#: The KL weight (``TrainConfig.beta``): a number, a :class:`KLSchedule`, or a function of the 0-based step.
Beta = float | KLSchedule | Callable[[int], float]


def check_beta(value: Any, where: str) -> float:
    """``value`` as a float if it is a valid KL weight (finite, >= 0); else :class:`ConfigError` naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(
            f"{where}={value!r}: the KL weight beta must be a finite number >= 0 "
            "(1 gives the ELBO; beta > 1 a beta-VAE; beta < 1 weights reconstruction more)."
        )
    return float(value)

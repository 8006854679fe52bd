"""Evaluation in nats per image: the test ELBO, per-image ELBOs, the IWAE bound, reconstruction MSE, sweep tables.

ELBOs come from :func:`vae_helpers.objective.per_image_terms`, the objective training uses. The model runs under
:func:`~vae_helpers.models.eval_mode` (the caller's train/eval mode comes back) and an empty split is refused.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from .config import check_seed
from .data import ImageSplit
from .errors import ConfigError
from .latent import active_units
from .losses import LOG_2PI, Likelihood, LossTerms, reconstruction_nll
from .models import BaseVAE, eval_mode
from .objective import check_fits, check_split, per_image_terms

if TYPE_CHECKING:
    import pandas

#: A custom objective ``loss_fn(model, x, y, beta) -> LossTerms`` on one batch (see :func:`vae_helpers.training.fit`).
LossFn = Callable[[BaseVAE, torch.Tensor, torch.Tensor, float], LossTerms]


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}={value!r}: it must be a whole number >= 1.")
    return value


@dataclass
class Metrics:
    """Means over a split in nats per image: ``elbo = -(recon + kl)``, ``kl_per_dim [D]``, ``mse`` per pixel of the
    reconstruction from mu, and ``loss``, the objective :func:`evaluate` was asked for (-elbo by default)."""

    elbo: float
    recon: float
    kl: float
    mse: float
    kl_per_dim: torch.Tensor
    loss: float = math.nan

    def as_row(self) -> dict[str, float]:
        return {"ELBO": self.elbo, "recon": self.recon, "KL": self.kl, "MSE": self.mse}


def evaluate(
    model: BaseVAE,
    split: ImageSplit,
    likelihood: Likelihood = "bernoulli",
    batch_size: int = 1000,
    sigma: float = 1.0,
    seed: int = 0,
    *,
    beta: float = 1.0,
    free_bits: float = 0.0,
    loss_fn: LossFn | None = None,
    with_mse: bool = True,
) -> Metrics:
    """ELBO, reconstruction, KL and MSE over ``split``, in nats per image.

    z is drawn once per image from the global generator, forked and seeded with ``seed`` (the caller's random state
    is untouched). ``beta`` and ``free_bits`` change only :attr:`Metrics.loss`; ``loss_fn`` (see
    :func:`vae_helpers.training.fit`) replaces the built-in objective; ``with_mse=False`` skips the MSE's decoder pass.
    """
    device = model.device
    sums = torch.zeros(5, dtype=torch.float64, device=device)  # loss, recon, KL, MSE, images
    kl_dims = torch.zeros(model.latent_dim, dtype=torch.float64, device=device)
    for x, y in _seeded_batches(model, split, batch_size, seed, "evaluate()"):
        if loss_fn is None:
            image_terms = per_image_terms(model, x, y, likelihood, sigma)
            terms, mu = image_terms.batch_loss(beta, free_bits), image_terms.mu
        else:
            terms = check_loss_terms(loss_fn(model, x, y, beta), len(x))
            mu = model.encode(x, y if model.conditional else None)[0] if with_mse else None
        mse = x.new_zeros(())
        if with_mse:  # the reconstruction decoded from mu
            mean_image = torch.sigmoid(model.likelihood_logits(mu, x, y if model.conditional else None))
            mse = (mean_image - x).pow(2).flatten(1).mean(1).sum() / len(x)
        sums += torch.stack([terms.loss, terms.recon, terms.kl, mse, x.new_ones(())]).double() * len(x)
        if terms.kl_per_dim.numel():
            kl_dims += terms.kl_per_dim.double() * len(x)
    n = len(split)
    loss, recon, kl, mse, _ = (sums / n).tolist()
    return Metrics(-(recon + kl), recon, kl, mse, (kl_dims / n).float().cpu(), loss)


def _seeded_batches(
    model: BaseVAE, split: ImageSplit, batch_size: int, seed: int, what: str
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The batches of ``split`` in eval mode under a forked global RNG seeded with ``seed`` (so the z draws match)."""
    check_seed(seed, f"{what[:-2]}(seed=...)")
    check_split(split, what)
    check_fits(model, split, what)
    _positive_int(batch_size, "batch_size")
    device = model.device
    with eval_mode(model), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield from split.batches(batch_size, device=device)


def check_loss_terms(terms: Any, batch: int) -> LossTerms:
    """``terms`` if a ``loss_fn`` returned :class:`LossTerms` with scalar loss, recon and KL; raises TypeError for
    another type and :class:`ConfigError` for a term that is not one number."""
    if not isinstance(terms, LossTerms):
        raise TypeError(
            f"loss_fn must return a vae_helpers.losses.LossTerms(loss, recon, kl, kl_per_dim), got "
            f"{type(terms).__name__}. Wrap a (loss, recon, kl) function with "
            "vae_helpers.exercises.make_loss_fn."
        )
    for name in ("loss", "recon", "kl"):
        value = getattr(terms, name)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            shape = list(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ConfigError(
                f"loss_fn returned LossTerms.{name} of shape {shape} for a batch of {batch} images: it "
                "must be one number, the batch mean in nats per image (sum over pixels or latent "
                "dimensions, then .mean() over the batch)."
            )
    return terms


def iwae_log_likelihood(
    model: BaseVAE,
    split: ImageSplit,
    k: int = 1000,
    batch_size: int = 100,
    chunk: int = 500,
    likelihood: str = "bernoulli",
    seed: int = 0,
    return_per_image: bool = False,
    *,
    sigma: float = 1.0,
    tile: int = 1024,
    precision: str = "fp32",
):
    """Importance-weighted bound on log p(x) (Burda et al. 2015), nats per image: the mean, or ``[N]`` values.

    log p(x) >= E[log (1/k) sum_i p(x, z_i) / q(z_i|x)], z_i ~ q(z|x); k = 1 is the ELBO. The noise is drawn
    ``chunk`` samples of ``batch_size`` images at a time from a CPU generator seeded with ``seed``, so the result does
    not depend on ``tile`` (samples of one image decoded at once). ``sigma``: the Gaussian decoder's standard deviation.
    ``precision="bf16"`` runs the decoder under bfloat16 autocast; on CPU that moves the bound by nats (measuring only).
    """
    check_seed(seed, "iwae_log_likelihood(seed=...)")
    if not model.is_variational:
        raise ValueError("The IWAE bound needs a posterior q(z|x); a deterministic autoencoder has none.")
    check_split(split, "iwae_log_likelihood()")
    check_fits(model, split, "iwae_log_likelihood()")
    for name, value in (("k", k), ("batch_size", batch_size), ("chunk", chunk), ("tile", tile)):
        _positive_int(value, name)
    if precision not in ("fp32", "bf16"):
        raise ConfigError(f"precision={precision!r}: use 'fp32' or 'bf16'.")
    device = model.device
    generator = torch.Generator(device="cpu").manual_seed(seed)
    autocast = (
        torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        if precision == "bf16"
        else contextlib.nullcontext()
    )
    values = []
    with eval_mode(model), autocast:
        for x, y in split.batches(batch_size, device=device):
            with torch.autocast(device_type=device.type, enabled=False):
                mu, logvar = model.encode(x, y if model.conditional else None)
            mu, logvar = mu.float(), logvar.float()
            std = torch.exp(0.5 * logvar)
            # log q(z|x) = -0.5 * sum(LOG_2PI + logvar + eps^2), since (z - mu)^2 / var = eps^2
            log_q_const = -0.5 * (LOG_2PI + logvar).sum(-1)  # [B]
            log_weights = torch.empty(len(x), k, dtype=torch.float32, device=device)
            for start in range(0, k, chunk):
                s = min(chunk, k - start)
                eps = torch.randn((s, *mu.shape), generator=generator).to(device)  # [s x B x D], as always drawn
                z = mu + eps * std  # [s x B x D]
                # log p(z) - log q(z|x): [s x B] -> [B x s]
                log_weights[:, start : start + s] = (
                    -0.5 * (LOG_2PI + z.pow(2)).sum(-1) + 0.5 * eps.pow(2).sum(-1) - log_q_const
                ).T
                z = z.transpose(0, 1).contiguous()  # [B x s x D]: each image's samples side by side for the decoder
                for b in range(len(x)):
                    yy = y[b] if model.conditional else None
                    for t0 in range(0, s, tile):
                        zt = z[b, t0 : t0 + tile]
                        n = len(zt)
                        xt = x[b : b + 1].expand(n, *x.shape[1:])
                        logits = model.likelihood_logits(zt, xt, None if yy is None else yy.expand(n, *yy.shape))
                        log_weights[b, start + t0 : start + t0 + n] -= _tile_nll(logits, xt, likelihood, sigma)
            values.append((torch.logsumexp(log_weights.double(), 1) - math.log(k)).cpu())
    per_image = torch.cat(values)
    return per_image if return_per_image else float(per_image.mean())


# Pixels per log: a product of 98 sigmoids in [1/2, 1] stays above 2**-98, far from float32's smallest normal 2**-126.
_LOG_GROUP = 98


def _tile_nll(logits: torch.Tensor, x: torch.Tensor, likelihood: str, sigma: float = 1.0) -> torch.Tensor:
    """-log p(x|z) ``[n]`` of ``n`` decoded samples of one image (``x``: that image expanded to ``n``).

    Bernoulli: sum_p (|l_p|/2 - log sigmoid(|l_p|)) + (1/2 - x) . l, with one ``log`` per ``_LOG_GROUP`` pixels (of
    the product of their sigmoids) since ``log`` is slow on CPU; equal to :func:`~vae_helpers.losses.bernoulli_nll`
    to float32 rounding.
    """
    if likelihood != "bernoulli":
        return reconstruction_nll(logits.float(), x.contiguous(), likelihood, sigma)
    flat = logits.float().reshape(len(logits), -1)  # [n x P]: the decoder's fresh output, overwritten below
    n, pixels = flat.shape
    linear = flat @ (0.5 - x[0].reshape(-1))  # (1/2 - x) . l: [n]
    magnitude = flat.abs_()
    total = magnitude.sum(-1).mul_(0.5)
    sigmoids = torch.sigmoid(magnitude, out=magnitude)  # in [1/2, 1]
    grouped = pixels - pixels % _LOG_GROUP
    if grouped:
        total -= sigmoids[:, :grouped].reshape(n, -1, _LOG_GROUP).prod(-1).log_().sum(-1)
    if grouped < pixels:
        total -= sigmoids[:, grouped:].prod(-1).log_()  # the last (pixels mod 98) pixels
    return total.add_(linear)


def per_image_elbo(
    model: BaseVAE,
    split: ImageSplit,
    likelihood: Likelihood = "bernoulli",
    batch_size: int = 1000,
    sigma: float = 1.0,
    seed: int = 0,
) -> torch.Tensor:
    """The one-sample ELBO of every image of ``split``: ``[N]`` nats, on the CPU (``-recon`` for an autoencoder).

    The same z draws as :func:`evaluate` with the same ``seed`` and ``batch_size`` (its ``elbo`` is the mean), so
    per-image differences of two models can be bootstrapped (:func:`vae_helpers.stats.paired_bootstrap_difference`).
    """
    values = [
        per_image_terms(model, x, y, likelihood, sigma).elbo.double().cpu()
        for x, y in _seeded_batches(model, split, batch_size, seed, "per_image_elbo()")
    ]
    return torch.cat(values)


def conditional_log_likelihood(
    model: BaseVAE,
    split: ImageSplit,
    k: int = 100,
    n_classes: int | None = None,
    batch_size: int = 100,
    seed: int = 0,
) -> torch.Tensor:
    """Importance-weighted bound on log p(x | y = c) of a conditional VAE for every class c: ``[N x C]`` nats.

    Column c is :func:`iwae_log_likelihood` (Bernoulli, ``k`` samples, the same seed for every class) of the images
    with every label set to c; ``n_classes`` defaults to ``model.n_classes``. :func:`log_marginal_over_labels` turns
    the matrix into a bound on log p(x).
    """
    if not model.conditional:
        raise ConfigError("conditional_log_likelihood() needs a conditional model (one that takes labels y).")
    n_classes = int(n_classes if n_classes is not None else model.n_classes)
    _positive_int(n_classes, "n_classes")
    columns = []
    for c in range(n_classes):
        relabelled = ImageSplit(split.images, torch.full((len(split),), c, dtype=torch.long, device=split.device))
        columns.append(
            iwae_log_likelihood(model, relabelled, k=k, batch_size=batch_size, seed=seed, return_per_image=True)
        )
    return torch.stack(columns, 1)


def log_marginal_over_labels(log_px_given_y: torch.Tensor, prior: torch.Tensor | None = None) -> torch.Tensor:
    """log p(x) = log sum_y p(y) p(x | y) from per-class values ``[N x C]``: ``[N]`` nats (``prior`` p(y) ``[C]``,
    default uniform). From importance-weighted bounds of log p(x | y) it is again a stochastic lower bound on log p(x)
    (the log of an unbiased estimate of p(x), by Jensen)."""
    if log_px_given_y.dim() != 2:
        raise ConfigError(f"log_px_given_y must be [N x C], got shape {tuple(log_px_given_y.shape)}.")
    n_classes = log_px_given_y.shape[1]
    if prior is None:
        log_prior = torch.full((n_classes,), -math.log(n_classes), dtype=log_px_given_y.dtype)
    else:
        prior = torch.as_tensor(prior, dtype=log_px_given_y.dtype)
        if prior.shape != (n_classes,) or (prior < 0).any() or abs(float(prior.sum()) - 1.0) > 1e-6:
            raise ConfigError(f"prior must be {n_classes} probabilities that sum to 1, got {prior.tolist()}.")
        log_prior = prior.log()
    return torch.logsumexp(log_px_given_y + log_prior.to(log_px_given_y.device), 1)


def score_model(
    model: BaseVAE,
    test: ImageSplit,
    *,
    iwae_k: int | None = None,
    iwae_images: int | None = None,
    active_threshold: float = 0.01,
    seed: int = 0,
    likelihood: Likelihood = "bernoulli",
    sigma: float = 1.0,
) -> dict[str, float]:
    """A sweep's row on ``test``, nats per image: ``ELBO``, ``recon``, ``KL``, ``MSE``; for a VAE also ``active units``
    and, with ``iwae_k``, ``ELBO (IWAE images)`` and ``IWAE`` on the first ``iwae_images`` (default: all)."""
    metrics = evaluate(model, test, likelihood, sigma=sigma, seed=seed)
    row = {"ELBO": metrics.elbo, "recon": metrics.recon, "KL": metrics.kl, "MSE": metrics.mse}
    if model.is_variational:
        row["active units"] = active_units(model, test, threshold=active_threshold)[0]
        if iwae_k is not None:
            subset = test.head(iwae_images)
            row["ELBO (IWAE images)"] = evaluate(model, subset, likelihood, sigma=sigma, seed=seed, with_mse=False).elbo
            row["IWAE"] = iwae_log_likelihood(model, subset, k=iwae_k, likelihood=likelihood, seed=seed, sigma=sigma)
    return row


def sweep_table(rows: Mapping[Any, Mapping[str, Any]], index: str = "run") -> pandas.DataFrame:
    """A pandas DataFrame of a sweep ``{run: {column: value}}``: one row per run, the index named ``index``, columns in
    first-seen order."""
    import pandas as pd

    if not rows:
        raise ConfigError("sweep_table() got no runs; pass {run name: {column: value}}.")
    table = pd.DataFrame.from_dict({k: dict(v) for k, v in rows.items()}, orient="index")
    table.index.name = index
    return table

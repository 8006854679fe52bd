"""Evaluation in nats per image: test ELBO, the IWAE bound, reconstruction MSE, active units, KL per dimension.

One path: :func:`evaluate` scores a split with :func:`vae_helpers.losses.model_objective`, the same
per-batch objective :func:`vae_helpers.training.fit` trains and validates with (so the ELBO of
every notebook, of fit's validation and of the exercises is one computation). Every function runs
the model under :func:`vae_helpers.models.eval_mode` (BatchNorm uses its running statistics; the
caller's train/eval mode comes back afterwards) and refuses an empty split. :func:`sweep_table`
turns the rows of a sweep (one per run) into a table.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from .config import check_seed
from .data import ImageSplit
from .errors import ConfigError
from .losses import (
    LOG_2PI,
    Likelihood,
    LossTerms,
    kl_per_dim,
    model_objective,
    reconstruction_nll,
    reparameterize,
)
from .models import BaseVAE, eval_mode
from .validation import check_split

if TYPE_CHECKING:
    import pandas

#: A custom objective ``loss_fn(model, x, y, beta) -> LossTerms`` on one batch (see :func:`vae_helpers.training.fit`).
LossFn = Callable[[BaseVAE, torch.Tensor, torch.Tensor, float], LossTerms]


def _cond(model: BaseVAE, y: torch.Tensor) -> torch.Tensor | None:
    return y if model.conditional else None


def _check_split(split: ImageSplit, what: str) -> None:
    check_split(split, what)
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


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}={value!r}: it must be a whole number >= 1.")
    return value


@dataclass
class Metrics:
    """Test-set summary (means over the split).

    Attributes:
        elbo: one-sample ELBO estimate, nats per image (higher is better).
        recon: reconstruction NLL, nats per image.
        kl: KL(q(z|x) || p(z)) summed over dimensions, nats per image.
        mse: mean squared error per pixel of the reconstruction decoded from mu (pixel values in [0, 1]).
        kl_per_dim: ``[D]`` mean KL of each latent dimension.
        loss: the objective evaluate() was asked for (``beta``, ``free_bits``, ``loss_fn``); -elbo by default.
    """

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

    z is sampled once per image with the global generator forked and seeded with ``seed``, so
    the result does not depend on (and does not disturb) the random state of the caller. ``beta``
    and ``free_bits`` only change :attr:`Metrics.loss`, the training objective (fit validates on
    it); ``elbo``, ``recon`` and ``kl`` are always the true bound's terms. ``loss_fn`` (see
    :func:`vae_helpers.training.fit`) replaces the built-in objective. ``with_mse=False`` skips the
    extra decoder pass that the MSE of the reconstruction from mu needs.
    """
    check_seed(seed, "evaluate(seed=...)")
    _check_split(split, "evaluate()")
    check_fits(model, split, "evaluate()")
    _positive_int(batch_size, "batch_size")
    device = model.device
    sums = torch.zeros(5, dtype=torch.float64, device=device)  # loss, recon, KL, MSE, images
    kl_dims = torch.zeros(model.latent_dim, dtype=torch.float64, device=device)
    with eval_mode(model), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for x, y in split.batches(batch_size, device=device):
            if loss_fn is None:
                terms = model_objective(model, x, y, beta, likelihood, free_bits, sigma)
            else:
                terms = check_loss_terms(loss_fn(model, x, y, beta), len(x))
            mse = x.new_zeros(())
            if with_mse:
                mu, _ = model.encode(x, _cond(model, y))
                mean_image = torch.sigmoid(model.likelihood_logits(mu, x, _cond(model, y)))
                mse = (mean_image - x).pow(2).flatten(1).mean(1).sum() / len(x)
            sums += torch.stack([terms.loss, terms.recon, terms.kl, mse, x.new_ones(())]).double() * len(x)
            if terms.kl_per_dim.numel():
                kl_dims += terms.kl_per_dim.double() * len(x)
    n = len(split)
    loss, recon, kl, mse, _ = (sums / n).tolist()
    return Metrics(-(recon + kl), recon, kl, mse, (kl_dims / n).float().cpu(), loss)


def check_loss_terms(terms: Any, batch: int) -> LossTerms:
    """``terms`` if a ``loss_fn`` returned proper :class:`LossTerms` (scalar loss, recon and KL); else a
    :class:`ConfigError` that says what came back and what is expected."""
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
    tile: int = 1024,
    precision: str = "fp32",
):
    """Importance-weighted estimate of log p(x) (Burda et al. 2015), in nats per image.

    log p(x) >= E[ log (1/k) sum_i p(x, z_i) / q(z_i | x) ],  z_i ~ q(z | x).
    k=1 is the ELBO; the bound tightens as k grows. The noise is drawn ``chunk`` samples of
    ``batch_size`` images at a time from a CPU generator seeded with ``seed`` (so the estimate does
    not depend on ``tile``); the decoder then runs on ``tile`` samples of one image at a time, so
    its output stays in cache.

    How the Bernoulli term is computed (the decoder's matrix products are the work; everything else is
    kept to a few passes over a cache-resident tile, without repeating x): with logits l,
    -log p(x|z) = sum_p softplus(l_p) - x_p l_p = sum_p (|l_p|/2 - log sigmoid(|l_p|)) + (1/2 - x) . l,
    the identity softplus(l) = l/2 + |l|/2 - log sigmoid(|l|), always finite, using torch's vectorised
    sigmoid (its softplus/log1p run about 10x slower on CPU and would cost as much as the decoder's
    product); the sum of logs is taken as a log of products over groups of 98 pixels, and the linear term
    is one matrix-vector product. Equal to :func:`~vae_helpers.losses.bernoulli_nll` to float32 rounding
    (tests compare it with the direct computation in float64).

    Args:
        tile: samples decoded at once, at most ``chunk`` (memory: ``tile x C x H x W`` floats; 512 to
            1024 samples of 784 pixels ran fastest on a 2-core EPYC with 1 MB of L2 per core, 256 was
            1.15x slower: the per-op threading overhead is paid once per tile).
        precision: ``"fp32"`` (default) or ``"bf16"``: the decoder under bfloat16 autocast, logits
            scored in float32. Not recommended: on CPU the products return bfloat16, so the logits are
            rounded to 8 significant bits, and on a 2-epoch MLP VAE this moved the k=5000 bound by
            +4.8 nats (``python -m vae_helpers.tools.bench iwae`` prints the difference); kept for
            measuring only.

    Returns:
        The mean over ``split`` (a float), or ``[N]`` per-image values with ``return_per_image``.
    """
    check_seed(seed, "iwae_log_likelihood(seed=...)")
    if not model.is_variational:
        raise ValueError("The IWAE bound needs a posterior q(z|x); a deterministic autoencoder has none.")
    _check_split(split, "iwae_log_likelihood()")
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
                mu, logvar = model.encode(x, _cond(model, y))
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
                        log_weights[b, start + t0 : start + t0 + n] -= _tile_nll(logits, xt, likelihood)
            values.append((torch.logsumexp(log_weights.double(), 1) - math.log(k)).cpu())
    per_image = torch.cat(values)
    return per_image if return_per_image else float(per_image.mean())


# Pixels per group whose sigmoids are multiplied before one log: sigmoid(|l|) lies in [1/2, 1], so a product of
# 98 stays above 2**-98, far from float32's smallest normal number (2**-126).
_LOG_GROUP = 98


def _tile_nll(logits: torch.Tensor, x: torch.Tensor, likelihood: str) -> torch.Tensor:
    """-log p(x|z) ``[n]`` of ``n`` decoded samples of one image (``x``: that image expanded to ``n``).

    Bernoulli: sum_p (|l_p|/2 - log sigmoid(|l_p|)) + (1/2 - x) . l. The log of a sum is taken as the log of
    a product over groups of ``_LOG_GROUP`` pixels: one ``log`` per 98 pixels instead of one per pixel, since
    ``log`` costs about 3x a ``sigmoid`` on CPU (and torch's ``log1p``/``softplus`` about 10x). The product's
    float32 rounding (about 1e-6 relative per group) is below the sum's own.
    """
    if likelihood != "bernoulli":
        return reconstruction_nll(logits.float(), x.contiguous(), likelihood)
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


def encode_split(model: BaseVAE, split: ImageSplit, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means ``[N x D]`` (on the CPU) and the labels of ``split``."""
    _check_split(split, "encode_split()")
    check_fits(model, split, "encode_split()")
    mus, labels = [], []
    with eval_mode(model):
        for x, y in split.batches(batch_size, device=model.device):
            mus.append(model.encode(x, _cond(model, y))[0].cpu())
            labels.append(y.cpu())
    return torch.cat(mus), torch.cat(labels)


def active_units(model: BaseVAE, split: ImageSplit, threshold: float = 0.01) -> tuple[int, torch.Tensor]:
    """Active units (Burda et al. 2015): dimensions whose Var_x( E_q[z_i | x] ) exceeds ``threshold``.

    Returns:
        ``(count, variances [D])``.
    """
    if len(split) < 2:
        raise ConfigError(f"active_units() needs at least 2 images to measure a variance; the split has {len(split)}.")
    mu, _ = encode_split(model, split)
    variances = mu.var(0, unbiased=True)
    return int((variances > threshold).sum()), variances


def kl_per_dimension(model: BaseVAE, split: ImageSplit, batch_size: int = 1000) -> torch.Tensor:
    """Mean KL(q(z_i|x) || N(0, 1)) of each latent dimension over ``split``: ``[D]`` nats."""
    _check_split(split, "kl_per_dimension()")
    check_fits(model, split, "kl_per_dimension()")
    if not model.is_variational:
        raise ValueError("kl_per_dimension needs a posterior q(z|x); a deterministic autoencoder has none.")
    total = torch.zeros(model.latent_dim, dtype=torch.float64)
    with eval_mode(model):
        for x, y in split.batches(batch_size, device=model.device):
            mu, logvar = model.encode(x, _cond(model, y))
            total += kl_per_dim(mu, logvar).sum(0).double().cpu()
    return (total / max(1, len(split))).float()


def per_image_elbo(
    model: BaseVAE,
    split: ImageSplit,
    likelihood: Likelihood = "bernoulli",
    batch_size: int = 1000,
    sigma: float = 1.0,
    seed: int = 0,
) -> torch.Tensor:
    """The one-sample ELBO of every image of ``split``: ``[N]`` nats, on the CPU.

    The same z draws as :func:`evaluate` with the same ``seed`` and ``batch_size`` (its ``elbo`` is
    the mean of these values, up to float32 rounding), so per-image differences between two models
    can be bootstrapped (:func:`paired_bootstrap_difference`). A deterministic autoencoder gets
    ``-recon`` (no KL term).
    """
    check_seed(seed, "per_image_elbo(seed=...)")
    _check_split(split, "per_image_elbo()")
    check_fits(model, split, "per_image_elbo()")
    _positive_int(batch_size, "batch_size")
    device = model.device
    values = []
    with eval_mode(model), torch.no_grad(), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for x, y in split.batches(batch_size, device=device):
            mu, logvar = model.encode(x, _cond(model, y))  # [B x D] each (logvar None for an AE)
            z = reparameterize(mu, logvar) if logvar is not None else mu  # the global generator, as evaluate
            recon = reconstruction_nll(model.likelihood_logits(z, x, _cond(model, y)).float(), x, likelihood, sigma)
            kl = kl_per_dim(mu, logvar).sum(1) if logvar is not None else torch.zeros_like(recon)  # [B]
            values.append(-(recon + kl).detach().double().cpu())
    return torch.cat(values)


@dataclass
class BootstrapInterval:
    """A point estimate with a percentile bootstrap interval.

    Attributes:
        estimate: the statistic on the full sample (e.g. the mean of the per-item values).
        low, high: the ``level`` percentile interval of the statistic over ``n_boot`` resamples.
        level: the coverage the interval aims at (0.95 for a 95% interval).
        n_boot: the number of resamples.
    """

    estimate: float
    low: float
    high: float
    level: float
    n_boot: int

    def __iter__(self):
        """``estimate, low, high = interval`` (and ``interval[0]``, ``interval[1]``, ``interval[2]``)."""
        return iter((self.estimate, self.low, self.high))

    def __getitem__(self, index: int) -> float:
        return (self.estimate, self.low, self.high)[index]

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def excludes(self, value: float = 0.0) -> bool:
        """True when ``value`` lies outside the interval (e.g. 0 for a difference)."""
        return not (self.low <= value <= self.high)

    def format(self, spec: str = ".2f", sign: bool = False) -> str:
        """E.g. ``"+3.80 (95% interval +3.52 to +4.09)"``."""
        spec = ("+" + spec) if sign else spec
        return f"{self.estimate:{spec}} ({self.level:.0%} interval {self.low:{spec}} to {self.high:{spec}})"

    def __str__(self) -> str:
        return self.format()


def _check_level(level: float, n_boot: int) -> int:
    if not 0 < level < 1:
        raise ConfigError(f"level must lie strictly between 0 and 1 (0.95 for a 95% interval), got {level!r}.")
    return _positive_int(n_boot, "n_boot")


def bootstrap_interval(
    values: torch.Tensor | Any, n_boot: int = 2000, seed: int = 0, level: float = 0.95, chunk: int = 200
) -> BootstrapInterval:
    """Percentile bootstrap interval of the mean of per-item values ``[N]`` (e.g. per-image ELBOs,
    or 0/1 correctness of a classifier on each test image).

    Resamples the N items with replacement ``n_boot`` times (a CPU generator seeded with ``seed``,
    ``chunk`` resamples at a time). It measures the noise of the *evaluation* (which test items were
    drawn), not the variation between training runs with different seeds.
    """
    n_boot = _check_level(level, n_boot)
    x = torch.as_tensor(values).detach().double().cpu().flatten()
    if len(x) < 2:
        raise ConfigError(f"bootstrap_interval() needs at least 2 values, got {len(x)}.")
    generator = torch.Generator().manual_seed(seed)
    means = []
    for start in range(0, n_boot, chunk):
        idx = torch.randint(len(x), (min(chunk, n_boot - start), len(x)), generator=generator)  # [c x N]
        means.append(x[idx].mean(1))
    means = torch.cat(means)
    alpha = (1 - level) / 2
    low, high = torch.quantile(means, torch.tensor([alpha, 1 - alpha], dtype=torch.float64)).tolist()
    return BootstrapInterval(float(x.mean()), low, high, level, n_boot)


def paired_bootstrap_difference(
    a: torch.Tensor | Any, b: torch.Tensor | Any, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> BootstrapInterval:
    """Bootstrap interval of ``mean(a) - mean(b)`` for two models scored on the *same* items ``[N]``.

    The items are resampled jointly (one index draws ``a[i]`` and ``b[i]``), so what the two models
    share (an easy or a hard test image) cancels: the interval is much narrower than two separate
    intervals would suggest when the per-item values are correlated.
    """
    a = torch.as_tensor(a).detach().double().cpu().flatten()
    b = torch.as_tensor(b).detach().double().cpu().flatten()
    if a.shape != b.shape:
        raise ConfigError(f"a paired bootstrap needs one value per item in both: got {len(a)} and {len(b)} values.")
    return bootstrap_interval(a - b, n_boot=n_boot, seed=seed, level=level)


def conditional_log_likelihood(
    model: BaseVAE,
    split: ImageSplit,
    k: int = 100,
    n_classes: int | None = None,
    batch_size: int = 100,
    seed: int = 0,
) -> torch.Tensor:
    """Importance-weighted bound on log p(x | y = c) of a conditional VAE for *every* class c: ``[N x C]`` nats.

    Column ``c`` is :func:`iwae_log_likelihood` (``k`` samples from q(z | x, y = c), the same seed for every
    class) of ``split``'s images with every label set to ``c``; column ``split.labels[n]`` of row ``n`` is the
    usual bound with the true label. :func:`log_marginal_over_labels` turns the matrix into a bound on log p(x).

    Args:
        model: a conditional model (``model.conditional``), e.g. :class:`~vae_helpers.models.ConditionalVAE`.
        split: the images (their own labels are not used).
        k: importance samples per image and class (k = 1 is the ELBO of each class).
        n_classes: number of classes (default ``model.n_classes``).
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
    """log p(x) = log sum_y p(y) p(x | y) from per-class values ``[N x C]``: ``[N]`` nats.

    With importance-weighted bounds of log p(x | y) (:func:`conditional_log_likelihood`) the result is again
    a stochastic lower bound on log p(x): sum_y p(y) p_hat(x | y) is an unbiased estimate of p(x), and the log
    of an unbiased estimate is a lower bound in expectation (Jensen). ``prior``: p(y) ``[C]`` (default uniform).
    """
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


@dataclass
class LatentUsage:
    """How much a model's decoder and a linear read-out *use* the code z (not only how many nats it holds).

    Attributes:
        probe_accuracy: test accuracy of a logistic-regression probe of the class from one sample
            z ~ q(z|x) per image: what the decoder receives.
        probe_accuracy_mu: the same probe from the posterior mean mu: what the encoder computes. The two differ
            when mu varies with the class on a scale far below the posterior's noise (a collapsed dimension).
        majority_rate: the test accuracy of always answering the most frequent training class (the probe's floor).
        own_nll: ``[N]`` reconstruction NLL of each test image decoded from its own posterior mean (nats).
        swapped_nll: ``[N]`` the same pixels scored with another image's posterior mean (nats).
    """

    probe_accuracy: float
    probe_accuracy_mu: float
    majority_rate: float
    own_nll: torch.Tensor
    swapped_nll: torch.Tensor

    @property
    def swap_cost(self) -> float:
        """Mean increase of the reconstruction NLL when z is swapped between images (0: z is ignored)."""
        return float((self.swapped_nll - self.own_nll).mean())


def _encode_stats(model: BaseVAE, split: ImageSplit, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mu [N x D], logvar [N x D])`` of q(z|x) on the CPU."""
    mus, logvars = [], []
    with eval_mode(model), torch.no_grad():
        for x, y in split.batches(batch_size, device=model.device):
            mu, logvar = model.encode(x, _cond(model, y))
            mus.append(mu.cpu())
            logvars.append(logvar.cpu())
    return torch.cat(mus), torch.cat(logvars)


def swap_reconstruction_nll(
    model: BaseVAE, split: ImageSplit, seed: int = 0, batch_size: int = 500
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reconstruction NLL of every image from its own posterior mean and from another image's: two ``[N]`` (nats).

    Image n is scored under p(x_n | z = mu_m) with m = a random derangement of the images (seeded; m != n), the
    decoder teacher-forced on x_n's own pixels where it is autoregressive (``likelihood_logits``). If the
    decoder ignores z the two agree; the mean difference is what the code is worth to the decoder.
    """
    check_seed(seed, "swap_reconstruction_nll(seed=...)")
    _check_split(split, "swap_reconstruction_nll()")
    check_fits(model, split, "swap_reconstruction_nll()")
    if len(split) < 2:
        raise ConfigError("swap_reconstruction_nll() needs at least 2 images to swap codes between.")
    mu, labels = encode_split(model, split)  # [N x D] on the CPU
    n = len(split)
    generator = torch.Generator().manual_seed(seed)
    partner = (torch.arange(n) + torch.randint(1, n, (n,), generator=generator)) % n  # never the image itself
    own, swapped = [], []
    with eval_mode(model), torch.no_grad():
        for start, (x, y) in zip(range(0, n, batch_size), split.batches(batch_size, device=model.device)):
            cond = _cond(model, y)
            for codes, out in ((mu[start : start + len(x)], own), (mu[partner[start : start + len(x)]], swapped)):
                logits = model.likelihood_logits(codes.to(model.device), x, cond)
                out.append(reconstruction_nll(logits, x, "bernoulli").cpu())
    return torch.cat(own), torch.cat(swapped)


def latent_usage(
    model: BaseVAE, train: ImageSplit, test: ImageSplit, probe_images: int = 5000, seed: int = 0
) -> LatentUsage:
    """Linear probes of the class (trained on the first ``probe_images`` of ``train``, scored on ``test``;
    features standardised on the training features) from one sample z ~ q(z|x) per image (drawn with ``seed``)
    and from mu, and :func:`swap_reconstruction_nll` on ``test``."""
    check_seed(seed, "latent_usage(seed=...)")
    check_fits(model, test, "latent_usage()")
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if not model.is_variational:
        raise ValueError("latent_usage needs a posterior q(z|x); a deterministic autoencoder has none.")
    train = train.head(probe_images)
    _check_split(train, "latent_usage()")
    _check_split(test, "latent_usage()")
    generator = torch.Generator().manual_seed(seed)
    features = {}
    for which, split in (("train", train), ("test", test)):
        mu, logvar = _encode_stats(model, split)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator)
        features[which] = (mu.numpy(), z.numpy())
    train_y, test_y = train.labels.cpu().numpy(), test.labels.cpu().numpy()

    def probe(index: int) -> float:
        scaler = StandardScaler().fit(features["train"][index])
        fitted = LogisticRegression(max_iter=1000).fit(scaler.transform(features["train"][index]), train_y)
        return float(fitted.score(scaler.transform(features["test"][index]), test_y))

    majority = int(torch.bincount(train.labels.cpu()).argmax())
    own, swapped = swap_reconstruction_nll(model, test, seed=seed)
    return LatentUsage(probe(1), probe(0), float((test.labels.cpu() == majority).float().mean()), own, swapped)


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
    """The standard row of a sweep: ``ELBO``, ``recon``, ``KL``, ``MSE`` and ``active units`` on ``test``
    (nats per image), plus ``ELBO (IWAE images)`` and ``IWAE`` on the first ``iwae_images`` test
    images when ``iwae_k`` is given. The notebooks add their own columns and pass the rows of all
    runs to :func:`sweep_table`."""
    metrics = evaluate(model, test, likelihood, sigma=sigma, seed=seed)
    row = {"ELBO": metrics.elbo, "recon": metrics.recon, "KL": metrics.kl, "MSE": metrics.mse}
    if model.is_variational:
        row["active units"] = active_units(model, test, threshold=active_threshold)[0]
        if iwae_k is not None:
            subset = test.head(iwae_images)
            row["ELBO (IWAE images)"] = evaluate(model, subset, likelihood, sigma=sigma, seed=seed, with_mse=False).elbo
            row["IWAE"] = iwae_log_likelihood(model, subset, k=iwae_k, likelihood=likelihood, seed=seed)
    return row


def sweep_table(rows: Mapping[Any, Mapping[str, Any]], index: str = "run") -> pandas.DataFrame:
    """One row per run of a sweep (``{run: {column: value}}``, e.g. ``{beta: {"ELBO": ..., "KL": ...}}``)
    as a pandas DataFrame with the runs as its index (named ``index``), columns in first-seen order.

    Jupyter shows it as a table; ``.to_markdown()``/``.round(2)`` format it; notebooks build their
    summaries from its cells instead of typing numbers.
    """
    import pandas as pd

    if not rows:
        raise ConfigError("sweep_table() got no runs; pass {run name: {column: value}}.")
    table = pd.DataFrame.from_dict({k: dict(v) for k, v in rows.items()}, orient="index")
    table.index.name = index
    return table

"""Latent diagnostics beyond the ELBO: active units, KL per dimension, whether the code is used, codes vs the prior.

Prior samples decode well only if the *aggregate* posterior q(z) = mean_x q(z|x) covers the prior N(0, I):
:func:`code_norms`, :func:`aggregate_variance` and :func:`fitted_radius` show whether it does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from .config import check_seed
from .data import ImageSplit
from .errors import ConfigError
from .losses import kl_per_dim, reconstruction_nll
from .models import BaseVAE, eval_mode
from .objective import check_fits, check_split


def encode_split(
    model: BaseVAE, split: ImageSplit, batch_size: int = 1000
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """``(mu [N x D], logvar [N x D] or None for an AE, labels [N])`` of every image of ``split``, on the CPU (in
    eval mode; the model's mode is restored)."""
    check_split(split, "encode_split()")
    check_fits(model, split, "encode_split()")
    mus, logvars, labels = [], [], []
    with eval_mode(model):
        for x, y in split.batches(batch_size, device=model.device):
            mu, logvar = model.encode(x, y if model.conditional else None)
            mus.append(mu.cpu())
            logvars.append(logvar.cpu() if logvar is not None else None)
            labels.append(y.cpu())
    return torch.cat(mus), (torch.cat(logvars) if model.is_variational else None), torch.cat(labels)


def active_units(model: BaseVAE, split: ImageSplit, threshold: float = 0.01) -> tuple[int, torch.Tensor]:
    """Active units (Burda et al. 2015): ``(count, variances [D])``, counting the dimensions whose Var_x(E_q[z_i|x])
    exceeds ``threshold``."""
    if len(split) < 2:
        raise ConfigError(f"active_units() needs at least 2 images to measure a variance; the split has {len(split)}.")
    mu, _, _ = encode_split(model, split)
    variances = mu.var(0, unbiased=True)
    return int((variances > threshold).sum()), variances


def kl_per_dimension(model: BaseVAE, split: ImageSplit, batch_size: int = 1000) -> torch.Tensor:
    """Mean KL(q(z_i|x) || N(0, 1)) of each latent dimension over ``split``: ``[D]`` nats."""
    if not model.is_variational:
        raise ValueError("kl_per_dimension needs a posterior q(z|x); a deterministic autoencoder has none.")
    mu, logvar, _ = encode_split(model, split, batch_size)
    return kl_per_dim(mu.double(), logvar.double()).mean(0).float()


@dataclass
class LatentUsage:
    """How much a model's decoder and a linear read-out *use* the code z.

    Attributes:
        probe_accuracy: test accuracy of a logistic-regression probe of the class from one z ~ q(z|x) per image.
        probe_accuracy_mu: the same from mu (the two differ when mu varies with the class far below the noise).
        majority_rate: test accuracy of always answering the most frequent training class (the probe's floor).
        own_nll, swapped_nll: ``[N]`` NLL (nats) of each test image decoded from its own and from another's mu.
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


def swap_reconstruction_nll(
    model: BaseVAE, split: ImageSplit, seed: int = 0, batch_size: int = 500
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bernoulli NLL of every image from its own posterior mean and from another image's: two ``[N]`` (nats).

    Image n is scored under p(x_n | z = mu_m) with m != n drawn at random (seeded), an autoregressive decoder
    teacher-forced on x_n. If the decoder ignores z the two agree.
    """
    check_seed(seed, "swap_reconstruction_nll(seed=...)")
    check_split(split, "swap_reconstruction_nll()")
    check_fits(model, split, "swap_reconstruction_nll()")
    if len(split) < 2:
        raise ConfigError("swap_reconstruction_nll() needs at least 2 images to swap codes between.")
    mu, _, _ = encode_split(model, split)  # [N x D] on the CPU (encode_split checks the split)
    n = len(split)
    generator = torch.Generator().manual_seed(seed)
    partner = (torch.arange(n) + torch.randint(1, n, (n,), generator=generator)) % n  # never the image itself
    own, swapped = [], []
    with eval_mode(model), torch.no_grad():
        for start, (x, y) in zip(range(0, n, batch_size), split.batches(batch_size, device=model.device)):
            cond = y if model.conditional else None
            for codes, out in ((mu[start : start + len(x)], own), (mu[partner[start : start + len(x)]], swapped)):
                logits = model.likelihood_logits(codes.to(model.device), x, cond)
                out.append(reconstruction_nll(logits, x, "bernoulli").cpu())
    return torch.cat(own), torch.cat(swapped)


def latent_usage(
    model: BaseVAE, train: ImageSplit, test: ImageSplit, probe_images: int = 5000, seed: int = 0
) -> LatentUsage:
    """:class:`LatentUsage`: class probes from z ~ q(z|x) (drawn with ``seed``) and from mu, trained on the first
    ``probe_images`` of ``train`` and scored on ``test``, and :func:`swap_reconstruction_nll` on ``test``."""
    check_seed(seed, "latent_usage(seed=...)")
    check_split(test, "latent_usage()")
    check_fits(model, test, "latent_usage()")
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if not model.is_variational:
        raise ValueError("latent_usage needs a posterior q(z|x); a deterministic autoencoder has none.")
    train = train.head(probe_images)
    generator = torch.Generator().manual_seed(seed)
    features = {}
    for which, split in (("train", train), ("test", test)):
        mu, logvar, _ = encode_split(model, split)
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


def code_norms(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    temperatures: tuple[float, ...] = (1.0,),
    n_prior: int | None = None,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Euclidean norms of the codes of real images (``mu``, ``logvar`` ``[N x D]``) and of prior samples, seeded.

    Returns ``{label: norms}`` for ``"posterior mean mu(x)"``, ``"z ~ q(z|x)"`` (one draw per image) and, for each T
    of ``temperatures``, ``"prior, T = <T>"`` (``n_prior`` samples of N(0, T^2 I), default N).
    """
    check_seed(seed, "code_norms(seed=...)")
    gen = torch.Generator().manual_seed(seed)
    mu, logvar = torch.as_tensor(mu).float(), torch.as_tensor(logvar).float()
    z = mu + torch.randn(mu.shape, generator=gen) * torch.exp(0.5 * logvar)
    out = {"posterior mean mu(x)": mu.norm(dim=1), "z ~ q(z|x)": z.norm(dim=1)}
    n = n_prior or mu.shape[0]
    for t in temperatures:
        out[f"prior, T = {t:g}"] = (t * torch.randn(n, mu.shape[1], generator=gen)).norm(dim=1)
    return out


def aggregate_variance(mu: torch.Tensor, logvar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension variance of the aggregate posterior, split by the law of total variance:
    ``(Var_x(mu_j) [D], E_x[sigma_j^2] [D])``; their sum is Var(z_j) under q(z) (1 under the prior)."""
    mu, logvar = torch.as_tensor(mu).float(), torch.as_tensor(logvar).float()
    return mu.var(0, unbiased=True), logvar.exp().mean(0)


def fitted_radius(z: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Radius ``||(z - mean) / std||`` ``[M]`` of codes ``z [M x D]`` in the units of N(mean, diag(std^2)).

    Samples of that Gaussian have radius close to sqrt(D); a much smaller one means the code sits in the middle of
    the cloud, where the Gaussian puts almost no codes.
    """
    z, mean, std = torch.as_tensor(z).float(), torch.as_tensor(mean).float(), torch.as_tensor(std).float()
    if z.shape[-1] != mean.shape[0] or mean.shape != std.shape:
        raise ValueError(f"z {tuple(z.shape)}, mean {tuple(mean.shape)} and std {tuple(std.shape)} need the same D")
    return ((z - mean) / std).norm(dim=-1)


def plot_prior_mismatch(
    norms: Mapping[str, torch.Tensor],
    var_mu: torch.Tensor,
    mean_sigma2: torch.Tensor,
    title: str = "Codes of real faces against the prior",
):
    """Two panels: histograms of the code ``norms`` (from :func:`code_norms`) with the prior's shell sqrt(D), and the
    per-dimension variance of q(z) (``var_mu``, ``mean_sigma2`` ``[D]`` from :func:`aggregate_variance`), its parts
    and their total against the prior's 1, on a log axis. Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    d = len(var_mu)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(13, 5.2))
    hi = max(float(v.max()) for v in norms.values())
    bins = torch.linspace(0, hi * 1.05, 60).numpy()
    for i, (label, values) in enumerate(norms.items()):
        weights = torch.full_like(values, 1.0 / len(values)).numpy()  # each histogram sums to 1
        ax0.hist(  # the first filled, the others outlined: two that coincide both stay visible
            values.numpy(),
            bins=bins,
            weights=weights,
            histtype="stepfilled" if i == 0 else "step",
            alpha=0.35 if i == 0 else 1.0,
            lw=1.8,
            color=f"C{i}",
            label=f"{label} (mean {float(values.mean()):.1f})",
        )
    ax0.axvline(d**0.5, color="k", ls="--", lw=1.2, label=f"prior shell sqrt(D) = {d**0.5:.1f}")
    ax0.set_xlabel("code norm ||z|| (latent units)")
    ax0.set_ylabel("share of the codes per bin")
    ax0.set_title("Norms of codes and of prior samples")
    ax0.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2)
    var_mu, mean_sigma2 = torch.as_tensor(var_mu).float(), torch.as_tensor(mean_sigma2).float()
    order = torch.argsort(var_mu + mean_sigma2, descending=True)
    rank = torch.arange(1, d + 1).numpy()
    tiny = 1e-12  # a log axis cannot show 0: an exactly constant dimension sits at the bottom
    total = (var_mu + mean_sigma2)[order].clamp_min(tiny).numpy()  # a wide band under the parts' markers
    ax1.plot(rank, total, "-", color="0.6", lw=6, alpha=0.6, label="total Var(z_j) under q(z)")
    ax1.plot(rank, var_mu[order].clamp_min(tiny).numpy(), "o", ms=3.5, color="C0", label="part: Var over faces of mu_j")
    ax1.plot(rank, mean_sigma2[order].clamp_min(tiny).numpy(), "s", ms=3.5, color="C1", label="part: mean of sigma_j^2")
    ax1.axhline(1.0, color="k", ls="--", lw=1.2, label="prior: 1 per dimension")
    ax1.set_yscale("log")
    ax1.set_xlabel("latent dimension j, ranked by total variance")
    ax1.set_ylabel("variance of z_j under q(z)\n(latent units², log scale)")
    ax1.set_xlim(0, d + 1)
    ax1.set_title("Spread of the codes per dimension")
    ax1.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    return fig

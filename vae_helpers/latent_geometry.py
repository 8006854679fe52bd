"""Where a VAE's codes lie compared with its prior: the aggregate posterior against N(0, I).

A VAE is trained so that each posterior q(z|x) is close to the prior, but prior samples decode to good
images only if the *aggregate* posterior q(z) = mean_x q(z|x) (the cloud of codes of the training images)
covers the prior. Two quick measurements show whether it does:

* norms: in D dimensions a prior sample has norm close to sqrt(D) (a thin shell); codes of real images
  may sit inside or outside that shell;
* per-dimension variance of q(z), by the law of total variance ``Var_x(mu_j) + E_x[sigma_j^2]``: 1 in
  every dimension if q(z) matched the prior's spread;

and the radius of a prior sample measured in the units of a Gaussian fitted to the codes says whether
the prior sends the decoder where the training codes are.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from .config import check_seed
from .models import BaseVAE, eval_mode
from .validation import check_image_shape, check_pixels


def encode_posteriors(model: BaseVAE, images: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and log-variances of ``images [N x C x H x W]`` (uint8 0..255 or float in [0, 1]):
    ``(mu [N x D], logvar [N x D])`` on the CPU, encoded in eval mode (the model's modes are restored)."""
    images = torch.as_tensor(images)
    check_image_shape(model, images, "encode_posteriors(model, images)")
    if images.is_floating_point():
        check_pixels(images, "encode_posteriors(model, images)")
    mus, logvars = [], []
    with eval_mode(model):
        for i in range(0, len(images), batch_size):
            x = images[i : i + batch_size]
            x = (x.float() / 255.0 if x.dtype == torch.uint8 else x.float()).to(model.device)
            mu, logvar = model.encode(x)[:2]
            mus.append(mu.cpu())
            logvars.append(logvar.cpu())
    return torch.cat(mus), torch.cat(logvars)


def code_norms(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    temperatures: tuple[float, ...] = (1.0,),
    n_prior: int | None = None,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Euclidean norms of the codes of real images and of prior samples.

    Args:
        mu, logvar: ``[N x D]`` posterior parameters of N images.
        temperatures: prior samples ``z ~ N(0, T^2 I)`` are drawn for each T.
        n_prior: how many prior samples per temperature (default N).
        seed: for the posterior and prior draws.

    Returns:
        ``{label: norms [N or n_prior]}``: ``"posterior mean mu(x)"``, ``"z ~ q(z|x)"`` (one draw per image),
        then ``"prior, T = <T>"`` for each temperature.
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
    """Radius of each code in the units of a diagonal Gaussian N(mean, diag(std^2)): ``sqrt(sum_j ((z_j - mean_j) / std_j)^2)``.

    Args:
        z: ``[M x D]`` codes; mean, std: ``[D]`` (e.g. fitted to the codes of the training images).

    Returns:
        ``[M]``. Samples of that Gaussian have radius close to sqrt(D) (its typical shell); a much smaller
        radius means the code sits in the middle of the cloud, where the Gaussian puts almost no codes.
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
    """Two panels: histograms of the code norms with the prior's shell sqrt(D) marked, and the
    per-dimension variance of the aggregate posterior (``Var(mu_j) + E[sigma_j^2]``, stacked, dimensions
    sorted by it) against the prior's 1.

    Args:
        norms: from :func:`code_norms`.
        var_mu, mean_sigma2: ``[D]`` each, from :func:`aggregate_variance`.

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    d = len(var_mu)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(13, 4.2))
    hi = max(float(v.max()) for v in norms.values())
    bins = torch.linspace(0, hi * 1.05, 60).numpy()
    for label, values in norms.items():
        weights = torch.full_like(values, 1.0 / len(values)).numpy()  # each histogram sums to 1
        ax0.hist(
            values.numpy(), bins=bins, weights=weights, alpha=0.55, label=f"{label} (mean {float(values.mean()):.1f})"
        )
    ax0.axvline(d**0.5, color="k", ls="--", lw=1.2, label=f"prior shell sqrt(D) = {d**0.5:.1f}")
    ax0.set_xlabel("code norm ||z|| (latent units)")
    ax0.set_ylabel("share of the codes per bin")
    ax0.set_title("Norms of codes and of prior samples")
    ax0.legend(fontsize=8)
    order = torch.argsort(var_mu + mean_sigma2, descending=True)
    idx = torch.arange(d).numpy()
    ax1.bar(idx, var_mu[order].numpy(), width=1.0, label="Var over faces of mu_j")
    ax1.bar(idx, mean_sigma2[order].numpy(), width=1.0, bottom=var_mu[order].numpy(), label="mean of sigma_j^2")
    ax1.axhline(1.0, color="k", ls="--", lw=1.2, label="prior: 1 per dimension")
    ax1.set_xlabel("latent dimension j (sorted by total variance)")
    ax1.set_ylabel("variance of z_j under q(z) (latent units²)")
    ax1.set_xlim(-0.5, d - 0.5)
    ax1.set_title("Spread of the codes per dimension")
    ax1.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig

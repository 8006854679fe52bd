"""Latent-space figures: codes scattered by class, decoded interpolations, traversals and coordinate sweeps, and the
decoded grid of a 2-D latent. Each returns the ``Figure``; :mod:`vae_helpers.plots` re-exports them."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
from scipy.stats import norm

from .errors import ConfigError
from .models import BaseVAE, eval_mode
from .plot_basics import (
    check_count,
    check_dims,
    check_finite,
    check_latent_code,
    image_grid,
    show_images,
    squeeze_channels,
)


def plot_latent_scatter(
    z: torch.Tensor,
    labels: torch.Tensor,
    method: str = "raw",
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    ax: plt.Axes | None = None,
    max_points: int = 5000,
    seed: int = 0,
) -> plt.Figure:
    """Scatter the first ``max_points`` codes ``[N x D]`` coloured by class: ``"raw"`` (dims 0, 1), ``"pca"`` or ``"tsne"``."""
    if z.dim() != 2 or z.shape[1] < 2:
        raise ConfigError(f"z must be [N x D] latent codes with D >= 2 to scatter, got shape {tuple(z.shape)}.")
    if len(labels) != len(z):
        raise ConfigError(f"labels must have one entry per code: {len(labels)} labels for {len(z)} codes.")
    z = z.detach().cpu().numpy()[:max_points]
    labels = labels.detach().cpu().numpy()[:max_points]
    if method == "raw":
        xy, axis = z[:, :2], ("$z_1$", "$z_2$")
    elif method == "pca":
        from sklearn.decomposition import PCA

        xy, axis = PCA(2, random_state=seed).fit_transform(z), ("PC 1", "PC 2")
    elif method == "tsne":
        from sklearn.manifold import TSNE

        xy, axis = TSNE(2, init="pca", random_state=seed, perplexity=30).fit_transform(z), ("t-SNE 1", "t-SNE 2")
    else:
        raise ValueError(f"method must be 'raw', 'pca' or 'tsne', not {method!r}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 5.5))
    else:
        fig = ax.figure
    names = class_names or [str(c) for c in range(int(labels.max()) + 1)]
    palette = sns.color_palette("tab10", len(names))
    for c, name in enumerate(names):
        mask = labels == c
        ax.scatter(xy[mask, 0], xy[mask, 1], s=4, alpha=0.6, color=palette[c], label=name)
    ax.set_xlabel(axis[0])
    ax.set_ylabel(axis[1])
    ax.set_title(title or f"Latent codes ({method})")
    ax.legend(markerscale=3, fontsize=8, loc="best", framealpha=0.8)
    return fig


def plot_interpolation(
    model: BaseVAE,
    x_a: torch.Tensor,
    x_b: torch.Tensor,
    steps: int = 10,
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Figure:
    """Decode ``steps`` codes on the line between the posterior means of two images ``[C x H x W]`` (in eval mode)."""
    steps = check_count("steps", steps, 2)
    with eval_mode(model):
        z_a = model.encode(x_a.unsqueeze(0).to(model.device))[0]
        z_b = model.encode(x_b.unsqueeze(0).to(model.device))[0]
        t = torch.linspace(0, 1, steps, device=model.device).unsqueeze(1)
        images = torch.sigmoid(model.decode((1 - t) * z_a + t * z_b)).cpu()
    return show_images(
        images, nrow=steps, ax=ax, title=title or f"Interpolation in latent space ({type(model).__name__})"
    )


def _code_rows_figure(
    model: BaseVAE,
    z0: torch.Tensor,
    dims: Sequence[int],
    columns: Sequence[float],
    add: bool,
    column_labels: Sequence[str],
    xlabel: str,
    title: str,
) -> plt.Figure:
    """One row per latent dimension ``d`` in ``dims``, one column per entry of ``columns``: the decode of ``z0``
    ``[1 x D]`` with coordinate ``d`` replaced by ``z0[d] + c`` (``add=True``) or by ``c`` (``add=False``)."""
    shift = torch.tensor(columns, dtype=torch.float32)  # [K]
    rows = []
    with eval_mode(model):
        for d in dims:
            z = z0.repeat(len(columns), 1).to(model.device, torch.float32)  # [K x D]
            z[:, d] = (z[:, d] if add else 0.0) + shift.to(z.device)
            rows.append(torch.sigmoid(model.decode(z)).cpu())  # [K x C x H x W]
    fig, axes = plt.subplots(len(dims), 1, figsize=(0.9 * len(columns) + 1.6, 1.0 * len(dims) + 1.0), squeeze=False)
    h, w = rows[0].shape[-2:]
    padding = 2  # image_grid's default
    centres = [padding + k * (w + padding) + (w - 1) / 2 for k in range(len(columns))]
    for i, (ax, d, row) in enumerate(zip(axes[:, 0], dims, rows)):
        ax.imshow(squeeze_channels(image_grid(row, nrow=len(columns), padding=padding)), cmap="gray", vmin=0, vmax=1)
        ax.set_yticks([])
        start = f"\n(z0: {_signed(float(z0[0, d]), '.2f')})" if add else ""
        ax.set_ylabel(f"z[{d}]{start}", rotation=0, ha="right", va="center")
        ax.set_xticks(centres, column_labels if i == len(dims) - 1 else [])
        ax.tick_params(axis="x", length=0)
        ax.grid(False)
    axes[-1, 0].set_xlabel(xlabel)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _signed(value: float, spec: str | None = None) -> str:
    """``+1.5``, ``−2.0`` (a true minus sign), ``+0.75``: by default one decimal, or two where one would round."""
    if spec is None:
        spec = ".1f" if abs(round(value, 1) - value) < 1e-9 else ".2f"
    return f"{value:+{spec}}".replace("-", "\u2212")


def plot_traversal(
    model: BaseVAE,
    z0: torch.Tensor,
    dims: Sequence[int],
    offsets: Sequence[float] = tuple(np.linspace(-3, 3, 9)),
    title: str = "Latent traversal",
    *,
    values: None = None,
) -> plt.Figure:
    """Decode ``z0`` (``[D]``, e.g. a test image's posterior mean) with ``z0[d] + offset`` in place of ``z0[d]``: a row
    per ``d`` in ``dims``, a column per finite offset (offset 0 is ``z0`` itself). Decodes in eval mode.

    :func:`plot_coordinate_sweep` sets absolute values instead (``values=`` here is a ConfigError).
    """
    if values is not None:
        raise ConfigError(
            "plot_traversal moves each coordinate by offsets from z0 (z0[d] + offset): pass offsets=..., not "
            "values=...; to set coordinates to absolute values use plots.plot_coordinate_sweep(model, z0, dims, values)."
        )
    z0 = check_latent_code(model, z0)
    dims = check_dims(model, dims)
    offsets = check_finite("offsets", offsets)
    return _code_rows_figure(
        model,
        z0,
        dims,
        offsets,
        add=True,
        column_labels=[_signed(v) for v in offsets],
        xlabel="offset added to the starting code's coordinate z0[d]",
        title=title,
    )


def plot_coordinate_sweep(
    model: BaseVAE,
    z0: torch.Tensor,
    dims: Sequence[int],
    values: Sequence[float] = tuple(np.linspace(-3, 3, 9)),
    title: str = "Latent coordinates set to fixed values",
) -> plt.Figure:
    """What a latent slider does: decode ``z0`` (``[D]``) with ``z0[d]`` *set* to each finite value, a row per ``d``
    in ``dims``, a column per value. Decodes in eval mode; :func:`plot_traversal` moves by offsets instead."""
    z0 = check_latent_code(model, z0)
    dims = check_dims(model, dims)
    values = check_finite("values", values)
    return _code_rows_figure(
        model,
        z0,
        dims,
        values,
        add=False,
        column_labels=[_signed(v) for v in values],
        xlabel="value z[d] is set to (other coordinates from z0)",
        title=title,
    )


def plot_manifold(model: BaseVAE, n: int = 20, title: str = "Decoded 2-D latent grid", padding: int = 2) -> plt.Figure:
    """For a 2-D latent: decode an ``n x n`` grid at standard-normal quantiles, so each cell holds equal prior mass.

    ``z_1`` grows to the right, ``z_2`` upwards; ticks at tile centres give the codes. ``padding``: white pixels
    between tiles. Decodes in eval mode (ValueError unless ``model.latent_dim == 2``)."""
    if model.latent_dim != 2:
        raise ValueError(f"plot_manifold needs a 2-D latent space, this model has {model.latent_dim}.")
    n = check_count("n", n, 1)
    padding = check_count("padding", padding, 0)
    values = norm.ppf(np.linspace(0.5 / n, 1 - 0.5 / n, n))
    with eval_mode(model):
        zz = torch.tensor([[x, y] for y in values[::-1] for x in values], dtype=torch.float32, device=model.device)
        images = torch.sigmoid(model.decode(zz)).cpu()
    h, w = images.shape[-2:]
    grid = squeeze_channels(image_grid(images, nrow=n, padding=padding))
    fig, ax = plt.subplots(figsize=(7, 7))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1)
    every = max(1, n // 6)
    x_ticks = padding + np.arange(n) * (w + padding) + (w - 1) / 2
    y_ticks = padding + np.arange(n) * (h + padding) + (h - 1) / 2
    ax.set_xticks(x_ticks[::every], [f"{v:.1f}" for v in values[::every]])
    ax.set_yticks(y_ticks[::every], [f"{v:.1f}" for v in values[::-1][::every]])
    ax.set_xlabel("$z_1$ (cells at standard-normal quantiles)")
    ax.set_ylabel("$z_2$")
    ax.set_title(title)
    ax.grid(False)
    return fig

"""Figures for the course, in one seaborn style.

Every function returns the matplotlib ``Figure`` so a notebook can save it with
:func:`save_figure` (into ``assets/figures/``).  Images are given as pixel means in [0, 1],
``[N x C x H x W]``; apply ``torch.sigmoid`` to decoder logits first (``model.sample`` and
``model.reconstruct`` already do).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
from matplotlib.ticker import MaxNLocator
from scipy.stats import norm

from .config import figure_dir
from .errors import ConfigError
from .models import BaseVAE, eval_mode


def set_style() -> None:
    """The course's plotting style (seaborn ``whitegrid``, readable font sizes)."""
    sns.set_theme(style="whitegrid", context="notebook", rc={"figure.dpi": 100, "axes.titleweight": "bold"})


set_style()


class SavedFigure(type(Path())):  # PosixPath or WindowsPath: Path itself cannot be subclassed before 3.12
    """The path of a figure :func:`save_figure` wrote: a ``Path`` that a notebook does not echo.

    A cell that ends with ``plots.save_figure(fig, ...)`` shows the figure, not
    ``PosixPath('/home/alice/vae-course/assets/figures/...')``: the machine's paths do not belong in
    committed outputs. ``str(path)`` and every ``Path`` method work as usual.
    """

    def _ipython_display_(self) -> None:  # IPython calls this instead of printing the repr; it shows nothing
        return None


def save_figure(fig: plt.Figure, name: str, folder: Path | None = None) -> SavedFigure:
    """Save ``fig`` as ``<figure_dir()>/<name>.png`` (or into ``folder``) and return the path."""
    folder = folder or figure_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = SavedFigure(folder / f"{name}.png")
    fig.savefig(path, bbox_inches="tight", dpi=110)
    return path


def check_count(name: str, value: int, minimum: int) -> int:
    """``value`` as an int, or a :class:`ConfigError` naming the argument and the valid range."""
    if isinstance(value, bool) or not float(value).is_integer() or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_latent_code(model: BaseVAE, z: torch.Tensor, name: str = "z0") -> torch.Tensor:
    """``z`` as a ``[1 x D]`` code for ``model``, or a :class:`ConfigError` saying what ``D`` should be."""
    z = torch.as_tensor(z).detach()
    if z.numel() != model.latent_dim:
        raise ConfigError(
            f"{name} must have the model's {model.latent_dim} latent dimensions, got {z.numel()} "
            f"(shape {tuple(z.shape)})."
        )
    return z.reshape(1, -1)


def _check_dims(model: BaseVAE, dims: Sequence[int], name: str = "dims") -> list[int]:
    """Latent dimension indices, each in ``0 .. D-1``, or a :class:`ConfigError` giving the valid range."""
    dims = [int(d) for d in dims]
    if not dims:
        raise ConfigError(f"{name} must name at least one latent dimension (0 to {model.latent_dim - 1}).")
    for d in dims:
        if not 0 <= d < model.latent_dim:
            raise ConfigError(
                f"{name}: latent dimension {d} is out of range; this model has {model.latent_dim} "
                f"dimensions, numbered 0 to {model.latent_dim - 1}."
            )
    return dims


def _check_finite(name: str, values: Sequence[float]) -> list[float]:
    """``values`` as floats, or a :class:`ConfigError` naming the first NaN or infinite one."""
    values = [float(v) for v in values]
    bad = [v for v in values if not np.isfinite(v)]
    if not values or bad:
        raise ConfigError(f"{name} must be one or more finite numbers, got {bad[0] if bad else 'none'} in {values}.")
    return values


def image_grid(images: torch.Tensor, nrow: int = 10, padding: int = 2) -> np.ndarray:
    """Tile ``[N x C x H x W]`` images in [0, 1] into one ``[H' x W' x C]`` array (white padding)."""
    nrow = check_count("nrow", nrow, 1)
    if images.dim() != 4 or len(images) == 0:
        raise ConfigError(f"images must be a non-empty [N x C x H x W] batch, got shape {tuple(images.shape)}.")
    images = images.detach().float().cpu().clamp(0, 1)
    n, c, h, w = images.shape
    ncol = min(nrow, n)
    nrows = int(np.ceil(n / ncol))
    grid = np.ones((nrows * (h + padding) + padding, ncol * (w + padding) + padding, c), dtype=np.float32)
    for i in range(n):
        r, col = divmod(i, ncol)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top : top + h, left : left + w] = images[i].permute(1, 2, 0).numpy()
    return grid


def show_images(
    images: torch.Tensor, nrow: int = 10, title: str | None = None, ax: plt.Axes | None = None, scale: float = 0.9
) -> plt.Figure:
    """Show images as one grid (grayscale with the plain ``gray`` map: black background, white ink)."""
    grid = image_grid(images, nrow)
    if ax is None:
        fig, ax = plt.subplots(figsize=(scale * grid.shape[1] / 30, scale * grid.shape[0] / 30))
    else:
        fig = ax.figure
    ax.imshow(squeeze_channels(grid), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def plot_reconstructions(
    originals: torch.Tensor,
    reconstructions: Sequence[torch.Tensor] | torch.Tensor,
    labels: Sequence[str] = ("reconstruction",),
    title: str = "Originals and reconstructions",
    show_originals: bool = True,
) -> plt.Figure:
    """Originals in the top row, one row per model's reconstructions below; ``show_originals=False`` leaves the
    originals out (for data whose images may not be redistributed, such as CelebA's photographs)."""
    if isinstance(reconstructions, torch.Tensor):
        reconstructions = [reconstructions]
    rows = [*([originals.cpu()] if show_originals else []), *[r.cpu() for r in reconstructions]]
    names = [*(["original"] if show_originals else []), *labels]
    n = len(originals)
    fig, axes = plt.subplots(len(rows), 1, figsize=(min(1.0 * n, 16), 1.25 * len(rows) + 0.4))
    for ax, row, name in zip(np.atleast_1d(axes), rows, names):
        ax.imshow(squeeze_channels(image_grid(row, nrow=n)), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
        ax.grid(False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def squeeze_channels(grid: np.ndarray) -> np.ndarray:
    """A grid ``[H x W x 1]`` as ``[H x W]`` for ``imshow`` (a colour grid ``[H x W x 3]`` stays as it is)."""
    return grid.squeeze(-1) if grid.shape[-1] == 1 else grid


def plot_history(
    history: dict[str, list[float]], title: str = "Training curves", unit: str = "nats / image"
) -> plt.Figure:
    """Total loss, reconstruction and KL per epoch, train (solid) vs validation (dashed)."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    epochs = history["epoch"]
    for ax, key, name in zip(
        axes, ("loss", "recon", "kl"), ("negative ELBO (loss)", "reconstruction NLL", "KL(q(z|x) || p(z))")
    ):
        ax.plot(epochs, history[f"train_{key}"], "-o", ms=3, label="train")
        ax.plot(epochs, history[f"val_{key}"], "--s", ms=3, label="validation")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(unit)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


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
    """Scatter of latent codes ``[N x D]`` coloured by class: ``"raw"`` (first two dims), ``"pca"`` or ``"tsne"``."""
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
    """Decode straight-line interpolations between the codes (means) of two images ``[C x H x W]``.

    The model is evaluated in eval mode and keeps its own train/eval mode afterwards.
    """
    steps = check_count("steps", steps, 2)
    with eval_mode(model):
        z_a = model.encode(x_a.unsqueeze(0).to(model.device))[0]
        z_b = model.encode(x_b.unsqueeze(0).to(model.device))[0]
        t = torch.linspace(0, 1, steps, device=model.device).unsqueeze(1)
        images = torch.sigmoid(model.decode((1 - t) * z_a + t * z_b)).cpu()
    return show_images(
        images, nrow=steps, ax=ax, title=title or f"Interpolation in latent space ({type(model).__name__})"
    )


def plot_traversal(
    model: BaseVAE,
    z0: torch.Tensor,
    dims: Sequence[int],
    values: Sequence[float] = tuple(np.linspace(-3, 3, 9)),
    title: str = "Latent traversal",
) -> plt.Figure:
    """One row per latent dimension in ``dims``: ``z0`` with that coordinate set to each of ``values``.

    The model is evaluated in eval mode and keeps its own train/eval mode afterwards.
    """
    z0 = _check_latent_code(model, z0)
    dims = _check_dims(model, dims)
    values = _check_finite("values", values)
    rows = []
    with eval_mode(model):
        for d in dims:
            z = z0.repeat(len(values), 1).to(model.device, torch.float32)
            z[:, d] = torch.tensor(values, dtype=z.dtype, device=z.device)
            rows.append(torch.sigmoid(model.decode(z)).cpu())
    fig, axes = plt.subplots(len(dims), 1, figsize=(0.9 * len(values) + 1, 1.0 * len(dims) + 0.6), squeeze=False)
    for ax, d, row in zip(axes[:, 0], dims, rows):
        ax.imshow(squeeze_channels(image_grid(row, nrow=len(values))), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(f"z[{d}]", rotation=0, ha="right", va="center")
        ax.grid(False)
    axes[-1, 0].set_xlabel("value: " + "  ".join(f"{v:+.1f}" for v in values))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_manifold(model: BaseVAE, n: int = 20, title: str = "Decoded 2-D latent grid") -> plt.Figure:
    """For a 2-D latent: decode an ``n x n`` grid spaced by ``norm.ppf`` so each cell holds equal prior mass.

    The model is evaluated in eval mode and keeps its own train/eval mode afterwards.
    """
    if model.latent_dim != 2:
        raise ValueError(f"plot_manifold needs a 2-D latent space, this model has {model.latent_dim}.")
    n = check_count("n", n, 1)
    values = norm.ppf(np.linspace(0.5 / n, 1 - 0.5 / n, n))
    with eval_mode(model):
        zz = torch.tensor([[x, y] for y in values[::-1] for x in values], dtype=torch.float32, device=model.device)
        images = torch.sigmoid(model.decode(zz)).cpu()
    grid = squeeze_channels(image_grid(images, nrow=n, padding=0))
    fig, ax = plt.subplots(figsize=(7, 7))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1)
    cell = grid.shape[0] / n
    every = max(1, n // 6)
    ticks = (np.arange(n) + 0.5) * cell
    ax.set_xticks(ticks[::every], [f"{v:.1f}" for v in values[::every]])
    ax.set_yticks(ticks[::every], [f"{v:.1f}" for v in values[::-1][::every]])
    ax.set_xlabel("$z_1$ (cells at standard-normal quantiles)")
    ax.set_ylabel("$z_2$")
    ax.set_title(title)
    ax.grid(False)
    return fig

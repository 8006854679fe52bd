"""What every course figure shares: the seaborn style (set on import), :func:`save_figure`, image grids and the
argument checks; :mod:`vae_helpers.plots` re-exports the public names."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch

from .config import figure_dir
from .errors import ConfigError
from .models import BaseVAE


def set_style() -> None:
    """The course's plotting style (seaborn ``whitegrid``, readable font sizes)."""
    sns.set_theme(style="whitegrid", context="notebook", rc={"figure.dpi": 100, "axes.titleweight": "bold"})


set_style()


class SavedFigure(type(Path())):  # PosixPath or WindowsPath: Path itself cannot be subclassed before 3.12
    """The ``Path`` :func:`save_figure` returns; a notebook does not echo it, so no local path lands in committed outputs."""

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


def check_latent_code(model: BaseVAE, z: torch.Tensor, name: str = "z0") -> torch.Tensor:
    """``z`` as a ``[1 x D]`` code for ``model``, or a :class:`ConfigError` saying what ``D`` should be."""
    z = torch.as_tensor(z).detach()
    if z.numel() != model.latent_dim:
        raise ConfigError(
            f"{name} must have the model's {model.latent_dim} latent dimensions, got {z.numel()} "
            f"(shape {tuple(z.shape)})."
        )
    return z.reshape(1, -1)


def check_dims(model: BaseVAE, dims: Sequence[int], name: str = "dims") -> list[int]:
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


def check_finite(name: str, values: Sequence[float]) -> list[float]:
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


def squeeze_channels(grid: np.ndarray) -> np.ndarray:
    """A grid ``[H x W x 1]`` as ``[H x W]`` for ``imshow`` (a colour grid ``[H x W x 3]`` stays as it is)."""
    return grid.squeeze(-1) if grid.shape[-1] == 1 else grid


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

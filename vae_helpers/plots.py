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


def _off_scale_first(series: Sequence[Sequence[float]]) -> tuple[float, float] | None:
    """The y-limits that leave out the first epoch of each series when that point lies far outside the rest.

    ``series``: curves over the same epochs (e.g. train and validation), each ``[E]`` with ``E >= 3``. A first point
    is "far" when it lies more than the whole range of the later points beyond them, i.e. drawing it would squeeze
    the later epochs into less than half of the panel. Returns ``(low, high)`` set from epoch 2 onward (with a 5%
    margin, and taking in the first points that are not far), or ``None`` when no first point is far.
    """
    rest = np.concatenate([np.asarray(v[1:], dtype=float) for v in series])
    lo, hi = float(rest.min()), float(rest.max())
    span = max(hi - lo, 1e-12 * max(abs(lo), abs(hi), 1.0))
    firsts = [float(v[0]) for v in series]
    far = [f > hi + span or f < lo - span for f in firsts]
    if not any(far):
        return None
    kept = [f for f, is_far in zip(firsts, far) if not is_far]
    lo, hi = min([lo, *kept]), max([hi, *kept])
    margin = 0.05 * (hi - lo or span)
    return lo - margin, hi + margin


def _format_value(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def plot_history(
    history: dict[str, list[float]],
    title: str = "Training curves",
    unit: str = "nats / image",
    clip_first_epoch: bool | None = None,
) -> plt.Figure:
    """Total loss, reconstruction and KL per epoch, train (solid) vs validation (dashed).

    Args:
        history: ``{"epoch": [E], "train_loss": [E], "val_loss": [E], "train_recon": ..., "val_recon": ...,
            "train_kl": ..., "val_kl": ...}`` as :func:`vae_helpers.training.fit` records it.
        title: the figure's title.
        unit: the y-axis label of every panel.
        clip_first_epoch: ``None`` (default): in each panel whose first-epoch value lies far outside the later
            epochs (more than their whole range beyond them), set the y-limits from epoch 2 onward so the later
            epochs fill the panel. ``True``: do so in every panel; ``False``: never. A first point left off the
            scale is drawn as a triangle on the panel's edge (pointing the way it went) and its value is given
            in the legend. Needs 3 or more epochs; with fewer, nothing is clipped.

    Returns:
        The matplotlib ``Figure`` (three panels).
    """
    if clip_first_epoch not in (None, True, False):
        raise ConfigError(f"clip_first_epoch must be None (automatic), True or False, got {clip_first_epoch!r}.")
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    epochs = history["epoch"]
    for ax, key, name in zip(
        axes, ("loss", "recon", "kl"), ("negative ELBO (loss)", "reconstruction NLL", "KL(q(z|x) || p(z))")
    ):
        curves = {"train": history[f"train_{key}"], "validation": history[f"val_{key}"]}
        ax.plot(epochs, curves["train"], "-o", ms=3, label="train")
        ax.plot(epochs, curves["validation"], "--s", ms=3, label="validation")
        limits = None
        if clip_first_epoch is not False and len(epochs) >= 3:
            limits = _off_scale_first(list(curves.values()))
            if limits is None and clip_first_epoch:
                rest = np.concatenate([np.asarray(v[1:], dtype=float) for v in curves.values()])
                margin = 0.05 * (float(rest.max() - rest.min()) or 1.0)
                limits = (float(rest.min()) - margin, float(rest.max()) + margin)
        if limits is not None:
            ax.set_ylim(*limits)
            for (label, values), colour in zip(curves.items(), ("C0", "C1")):
                first = float(values[0])
                if limits[0] <= first <= limits[1]:
                    continue
                above = first > limits[1]
                ax.plot(
                    epochs[0],
                    limits[1] if above else limits[0],
                    "^" if above else "v",
                    ms=9,
                    color=colour,
                    clip_on=False,
                    zorder=5,
                    label=f"{label}, epoch {epochs[0]}: {_format_value(first)} (off scale)",
                )
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(unit)
        ax.legend(fontsize=8 if limits is not None else None)
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
    """``+1.5``, ``−2.0`` (a true minus sign), ``+0.0``; by default one decimal, or two where one would round
    (``+0.75``)."""
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
    """Move one coordinate of a code at a time: one row per latent dimension ``d`` in ``dims``, one column per
    offset, each tile the decode of ``z0`` with ``z0[d]`` replaced by ``z0[d] + offset`` (the other coordinates
    kept). The column of offset 0 is the decode of ``z0`` itself.

    Args:
        model: a VAE with ``D = model.latent_dim`` latent dimensions.
        z0: ``[D]`` (or ``[1 x D]``) the starting code, e.g. the posterior mean of a test image.
        dims: latent dimensions to move, each in ``0 .. D-1`` (one row each).
        offsets: ``[K]`` finite offsets added to ``z0[d]`` (one column each, labelled ``+0.0``, ``−2.0`` ...).
        title: the figure's title.

    Returns:
        The matplotlib ``Figure``: ``len(dims)`` rows of ``K`` decoded images ``[C x H x W]``, each row labelled
        with its dimension and the starting value ``z0[d]``.

    The model is evaluated in eval mode and keeps its own train/eval mode afterwards. To set coordinates to
    absolute values instead (what a latent slider does), see :func:`plot_coordinate_sweep`.
    """
    if values is not None:
        raise ConfigError(
            "plot_traversal moves each coordinate by offsets from z0 (z0[d] + offset): pass offsets=..., not "
            "values=...; to set coordinates to absolute values use plots.plot_coordinate_sweep(model, z0, dims, values)."
        )
    z0 = _check_latent_code(model, z0)
    dims = _check_dims(model, dims)
    offsets = _check_finite("offsets", offsets)
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
    """What a latent slider does: one row per latent dimension ``d`` in ``dims``, one column per value, each
    tile the decode of ``z0`` with coordinate ``d`` *set* to that value (the other coordinates kept).

    Args:
        model: a VAE with ``D = model.latent_dim`` latent dimensions.
        z0: ``[D]`` (or ``[1 x D]``) the code whose other coordinates are kept.
        dims: latent dimensions to set, each in ``0 .. D-1`` (one row each).
        values: ``[K]`` finite absolute values of ``z[d]`` (one column each).
        title: the figure's title.

    Returns:
        The matplotlib ``Figure``: ``len(dims)`` rows of ``K`` decoded images ``[C x H x W]``.

    The model is evaluated in eval mode and keeps its own train/eval mode afterwards. To move coordinates by
    offsets from ``z0`` instead, see :func:`plot_traversal`.
    """
    z0 = _check_latent_code(model, z0)
    dims = _check_dims(model, dims)
    values = _check_finite("values", values)
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
    """For a 2-D latent: decode an ``n x n`` grid spaced by ``norm.ppf`` so each cell holds equal prior mass.

    Args:
        model: a VAE with ``model.latent_dim == 2``.
        n: tiles per side (``n * n`` decoded images ``[C x H x W]``).
        title: the figure's title.
        padding: white pixels between neighbouring tiles (0 for none), so each decoded image reads on its own.

    Returns:
        The matplotlib ``Figure``: ``z_1`` grows to the right, ``z_2`` upwards; ticks at the tiles' centres give
        the code of that row or column.

    The model is evaluated in eval mode and keeps its own train/eval mode afterwards.
    """
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

"""The course's figures: reconstructions and training curves here, and every figure function of
:mod:`.plot_basics` and :mod:`.plots_latent` (and ``sns``) re-exported.

Each function returns the ``Figure`` (save it with :func:`save_figure`). Images are pixel means in [0, 1],
``[N x C x H x W]``: apply ``torch.sigmoid`` to decoder logits (``model.sample`` and ``model.reconstruct`` already do).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
from matplotlib.ticker import MaxNLocator

from .errors import ConfigError
from .plot_basics import (
    SavedFigure,
    check_count,
    image_grid,
    save_figure,
    set_style,
    show_images,
    squeeze_channels,
)
from .plots_latent import (
    plot_coordinate_sweep,
    plot_interpolation,
    plot_latent_scatter,
    plot_manifold,
    plot_traversal,
)

__all__ = [
    "SavedFigure",
    "check_count",
    "image_grid",
    "plot_coordinate_sweep",
    "plot_history",
    "plot_interpolation",
    "plot_latent_scatter",
    "plot_manifold",
    "plot_reconstructions",
    "plot_traversal",
    "save_figure",
    "set_style",
    "show_images",
    "sns",
    "squeeze_channels",
]


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


def _off_scale_first(series: Sequence[Sequence[float]]) -> tuple[float, float] | None:
    """Y-limits (5% margin) leaving out each ``[E >= 3]`` series' first point when it lies more than the later points'
    whole range beyond them; None when no first point does. ``series``: curves over the same epochs."""
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
    """Three panels, total loss, reconstruction and KL per epoch: train solid, validation dashed.

    Args:
        history: ``[E]`` lists ``epoch``, ``train_loss``, ``val_loss``, ``train_recon``, ``val_recon``, ``train_kl``,
            ``val_kl``, as :func:`vae_helpers.training.fit` records them.
        unit: the y-axis label.
        clip_first_epoch: ``None``: scale the y-axis to epochs 2 on in panels whose first point lies far off;
            ``True``: in every panel; ``False``: never. A clipped point is an edge triangle, its value in the legend.
            Needs 3 or more epochs.
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
                    label=f"{label}, epoch {epochs[0]:g}: {_format_value(first)} (off scale)",
                )
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(unit)
        ax.legend(fontsize=8 if limits is not None else None)
    fig.suptitle(title)
    fig.tight_layout()
    return fig

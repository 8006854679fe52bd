"""Attribute vectors in a VAE's latent space ("latent arithmetic", as in White 2016 and Larsen et al. 2016).

For a binary attribute *a* (CelebA's ``Smiling``, ``Eyeglasses``, ...) and posterior means
``mu(x)`` of labelled images, the attribute vector is

    v_a = mean{ mu(x) : x has a } - mean{ mu(x) : x does not have a }      ([D])

and an edit moves a code along it: ``z' = z + alpha * v_a``. ``alpha = 1`` adds the whole average
difference, ``alpha = -1`` removes it, and ``alpha = 0`` is the unedited code.

Everything here works on plain tensors (codes ``[N x D]`` and a 0/1 or -1/+1 attribute table
``[N x A]``) so that it is tested on synthetic codes whose answer is known; the notebook gets the
codes from :func:`vae_helpers.evaluation.encode_split`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from .errors import ConfigError
from .models import BaseVAE, eval_mode


@dataclass
class AttributeDirection:
    """One attribute vector and the statistics behind it.

    Attributes:
        name: the attribute's name (e.g. ``"Smiling"``).
        vector: ``[D]`` mean code with the attribute minus mean code without it.
        mean_with: ``[D]`` mean code of the images that have the attribute.
        mean_without: ``[D]`` mean code of the images that do not.
        n_with: how many images have the attribute.
        n_without: how many do not.
    """

    name: str
    vector: torch.Tensor
    mean_with: torch.Tensor
    mean_without: torch.Tensor
    n_with: int
    n_without: int

    @property
    def norm(self) -> float:
        """Euclidean length of :attr:`vector` (latent units; the prior has unit variance per dimension)."""
        return float(self.vector.norm())

    @property
    def fraction(self) -> float:
        """Share of the images that have the attribute."""
        return self.n_with / max(1, self.n_with + self.n_without)


def _binary(attributes: torch.Tensor) -> torch.Tensor:
    """A 0/1 or -1/+1 attribute table ``[N x A]`` as booleans (True = has the attribute)."""
    attributes = torch.as_tensor(attributes)
    values = set(torch.unique(attributes).tolist())
    if not values <= {0, 1} and not values <= {-1, 1}:
        raise ValueError(f"attributes must be 0/1 or -1/+1 (CelebA's file format); found values {sorted(values)[:10]}")
    return attributes > 0


def attribute_directions(
    codes: torch.Tensor,
    attributes: torch.Tensor,
    attribute_names: Sequence[str],
    which: Sequence[str] | None = None,
    min_count: int = 1,
) -> dict[str, AttributeDirection]:
    """Attribute vectors (mean code with minus mean code without) for each attribute in ``which``.

    Args:
        codes: ``[N x D]`` latent codes, usually posterior means ``mu(x)``.
        attributes: ``[N x A]`` attribute table, 0/1 (as ``ImageSplit.labels`` holds CelebA) or -1/+1.
        attribute_names: the ``A`` column names.
        which: attributes to compute (default: all ``A``).
        min_count: an attribute needs at least this many images on *each* side, otherwise a
            ``ValueError`` says how many there are (a mean over 0 or 2 faces is no direction).

    Returns:
        ``{name: AttributeDirection}`` in the order of ``which``.
    """
    codes = torch.as_tensor(codes).detach().float().cpu()
    if codes.dim() != 2:
        raise ValueError(f"codes must be [N x D], got shape {tuple(codes.shape)}")
    bad_rows = torch.nonzero(~torch.isfinite(codes).all(1)).flatten()
    if len(bad_rows):
        raise ValueError(
            f"codes have {int((~torch.isfinite(codes)).sum())} NaN or infinite entries (rows "
            f"{bad_rows[:10].tolist()}); a mean over them is NaN. Encode with a model that trained "
            f"without diverging."
        )
    has = _binary(attributes).cpu()
    if has.dim() != 2 or has.shape[0] != codes.shape[0] or has.shape[1] != len(attribute_names):
        raise ValueError(
            f"attributes must be [N x A] = [{codes.shape[0]} x {len(attribute_names)}] to match the codes "
            f"and names, got shape {tuple(has.shape)}"
        )
    names = list(attribute_names)
    result: dict[str, AttributeDirection] = {}
    for name in which if which is not None else names:
        if name not in names:
            raise KeyError(f"Unknown attribute {name!r}. Valid names: {', '.join(names)}")
        mask = has[:, names.index(name)]
        n_with, n_without = int(mask.sum()), int((~mask).sum())
        if min(n_with, n_without) < max(1, min_count):
            raise ValueError(
                f"Attribute {name!r}: {n_with} images with it and {n_without} without; need at least "
                f"{max(1, min_count)} on each side. Use more images (full mode) or another attribute."
            )
        mean_with, mean_without = codes[mask].mean(0), codes[~mask].mean(0)
        result[name] = AttributeDirection(name, mean_with - mean_without, mean_with, mean_without, n_with, n_without)
    return result


def apply_direction(z: torch.Tensor, direction: torch.Tensor, strengths: Sequence[float]) -> torch.Tensor:
    """Codes moved along ``direction`` by each strength: ``z + alpha * direction``.

    Args:
        z: ``[D]`` one code or ``[N x D]`` several.
        direction: ``[D]`` (an :attr:`AttributeDirection.vector`).
        strengths: the ``S`` values of alpha.

    Returns:
        ``[N x S x D]`` (``N = 1`` for a single code): row ``i``, column ``j`` is ``z[i] + strengths[j] * direction``.
    """
    z = torch.as_tensor(z)
    z = z.unsqueeze(0) if z.dim() == 1 else z
    direction = torch.as_tensor(direction, dtype=z.dtype, device=z.device).reshape(-1)
    if z.shape[-1] != direction.shape[0]:
        raise ValueError(f"z has {z.shape[-1]} latent dimensions but the direction has {direction.shape[0]}")
    alpha = torch.as_tensor([float(a) for a in strengths], dtype=z.dtype, device=z.device)  # [S]
    if not len(alpha) or not torch.isfinite(alpha).all():
        bad = [a for a in alpha.tolist() if not torch.isfinite(torch.tensor(a))]
        raise ConfigError(
            f"strengths must be one or more finite numbers, got {bad[0] if bad else 'none'} in {alpha.tolist()}."
        )
    return z.unsqueeze(1) + alpha.view(1, -1, 1) * direction.view(1, 1, -1)


def decode_edits(model: BaseVAE, z: torch.Tensor, direction: torch.Tensor, strengths: Sequence[float]) -> torch.Tensor:
    """Decode every edited code: ``[N x S x C x H x W]`` pixel means in [0, 1] (decoded in eval mode; the
    model keeps its own train/eval mode)."""
    edited = apply_direction(z, direction, strengths).to(model.device)  # [N x S x D]
    n, s, d = edited.shape
    with eval_mode(model):
        images = torch.sigmoid(model.decode(edited.reshape(n * s, d))).cpu()
    return images.view(n, s, *images.shape[1:])


def as_vectors(directions: Mapping[str, AttributeDirection]) -> dict[str, torch.Tensor]:
    """``{name: vector [D]}``: the plain-tensor form that widgets take."""
    return {name: d.vector for name, d in directions.items()}


def plot_attribute_grid(
    model: BaseVAE,
    z: torch.Tensor,
    directions: Mapping[str, AttributeDirection],
    strengths: Sequence[float],
    title: str = "Attribute vectors added at several strengths",
):
    """One panel per attribute: rows are faces, columns are strengths alpha (``z + alpha * v``).

    Args:
        z: ``[N x D]`` codes of the faces to edit.
        directions: from :func:`attribute_directions`.
        strengths: the column values of alpha; the column at alpha = 0 is the unedited reconstruction.

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    from .plots import image_grid

    if not directions:
        raise ConfigError("directions is empty: pass at least one attribute direction (see attribute_directions).")
    z = torch.as_tensor(z)
    z = z.unsqueeze(0) if z.dim() == 1 else z
    n, s = z.shape[0], len(strengths)
    cols = 2 if len(directions) > 1 else 1
    rows = -(-len(directions) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(0.95 * s * cols + 0.6, rows * (0.95 * n + 1.0) + 0.5), squeeze=False)
    for ax in axes.flat[len(directions) :]:
        ax.set_axis_off()
    for ax, (name, direction) in zip(axes.flat, directions.items()):
        images = decode_edits(model, z, direction.vector, strengths)  # [N x S x C x H x W]
        grid = image_grid(images.reshape(n * s, *images.shape[2:]), nrow=s)
        ax.imshow(grid.squeeze(-1) if grid.shape[-1] == 1 else grid, interpolation="nearest")
        h = images.shape[-2] + 2
        ax.set_xticks([2 + (i + 0.5) * h - 1 for i in range(s)], [f"{a:+g}" for a in strengths])
        ax.set_yticks([])
        ax.set_xlabel("strength alpha in z + alpha v")
        ax.set_title(
            f"{name}  (|v| = {direction.norm:.2f}; {direction.n_with:,} with / {direction.n_without:,} without)",
            fontsize=10,
        )
        ax.grid(False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig

"""Attribute vectors in a VAE's latent space (White 2016; Larsen et al. 2016), and a CNN that judges attributes.

The vector of a binary attribute a is ``v_a = mean{mu(x) : x has a} - mean{mu(x) : x lacks a}`` (``[D]``); an edit
moves a code along it, ``z' = z + alpha * v_a``. Functions take plain tensors: codes ``[N x D]`` and a 0/1 or -1/+1
attribute table ``[N x A]``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_torch_save
from .errors import ConfigError
from .models import BaseVAE, eval_mode


@dataclass
class AttributeDirection:
    """One attribute ``vector = mean_with - mean_without`` (each ``[D]``) and the image counts behind it."""

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
    """``{name: AttributeDirection}`` for each attribute in ``which`` (default: all), in that order.

    ``codes [N x D]`` are usually posterior means; ``attributes [N x A]`` is a 0/1 or -1/+1 table with the columns
    ``attribute_names``. Raises ValueError for mismatched shapes, non-finite codes or fewer than ``min_count``
    images on either side of an attribute, KeyError for an unknown name.
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
    """Codes ``z`` (``[D]`` or ``[N x D]``) moved along ``direction [D]`` by each of the S ``strengths`` alpha.

    Returns ``[N x S x D]`` (N = 1 for a single code) holding ``z[i] + strengths[j] * direction``. Raises ValueError
    if the D differ, ConfigError for no or non-finite strengths.
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
    model keeps its own train/eval mode). Decoded 100 codes at a time, so memory does not grow with N x S."""
    edited = apply_direction(z, direction, strengths).to(model.device)  # [N x S x D]
    n, s, d = edited.shape
    with eval_mode(model):
        images = torch.cat([torch.sigmoid(model.decode(codes)).cpu() for codes in edited.reshape(n * s, d).split(100)])
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
    """One panel per attribute: rows are the faces ``z [N x D]``, columns the ``strengths`` alpha (0: unedited);
    returns the matplotlib Figure."""
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


class AttributeCNN(torch.nn.Module):
    """A small multi-label CNN for 64x64 RGB faces: one logit per attribute (about 60k parameters by default).

    Four stride-2 3x3 conv-BatchNorm-ReLU blocks, global average pooling and a linear head. It sees only pixels, so
    it judges decoded images independently of the VAE's codes.
    """

    def __init__(self, num_attributes: int, channels: Sequence[int] = (16, 32, 64, 64)) -> None:
        super().__init__()
        if num_attributes < 1:
            raise ConfigError(f"num_attributes must be at least 1, got {num_attributes}.")
        layers: list[torch.nn.Module] = []
        c_in = 3
        for c in channels:
            layers += [
                torch.nn.Conv2d(c_in, c, 3, stride=2, padding=1, bias=False),
                torch.nn.BatchNorm2d(c),
                torch.nn.ReLU(inplace=True),
            ]
            c_in = c
        self.features = torch.nn.Sequential(*layers)
        self.head = torch.nn.Linear(c_in, num_attributes)
        self.num_attributes = num_attributes
        self.channels = tuple(int(c) for c in channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N x 3 x H x W]`` pixels in [0, 1] -> ``[N x A]`` logits (``x - 0.5`` centres the input)."""
        return self.head(self.features(x - 0.5).mean(dim=(2, 3)))


def _as_float_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 or float 0..1 ``[N x 3 x H x W]`` -> float32 in [0, 1]."""
    images = torch.as_tensor(images)
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be [N x 3 x H x W], got shape {tuple(images.shape)}")
    return images.float() / 255.0 if images.dtype == torch.uint8 else images.float()


def train_attribute_judge(
    images: torch.Tensor,
    labels: torch.Tensor,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    flip: bool = True,
    channels: Sequence[int] = (16, 32, 64, 64),
) -> AttributeCNN:
    """Train an :class:`AttributeCNN` on the CPU (Adam, one binary cross-entropy per attribute), returned in eval mode.

    ``images [N x 3 x H x W]`` are uint8 0..255 or float in [0, 1]; ``labels [N x A]`` are 0/1 or -1/+1, only the
    columns to learn. ``seed`` sets the initial weights and batch order (the global RNG is left as it was); ``flip``
    mirrors each image left-right with probability 1/2.
    """
    x_all = torch.as_tensor(images)
    y_all = _binary(torch.as_tensor(labels)).float()
    if y_all.dim() != 2 or y_all.shape[0] != x_all.shape[0]:
        raise ValueError(f"labels must be [N x A] with N = {x_all.shape[0]}, got shape {tuple(y_all.shape)}")
    if epochs < 1 or batch_size < 1:
        raise ConfigError(f"epochs and batch_size must be at least 1, got {epochs} and {batch_size}.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        judge = AttributeCNN(y_all.shape[1], channels)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(judge.parameters(), lr=lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    judge.train()
    for _ in range(epochs):
        order = torch.randperm(len(x_all), generator=gen)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            x, y = _as_float_images(x_all[idx]), y_all[idx]
            if flip:
                mirror = torch.rand(len(idx), generator=gen) < 0.5
                x = torch.where(mirror.view(-1, 1, 1, 1), x.flip(-1), x)
            opt.zero_grad()
            loss_fn(judge(x), y).backward()
            opt.step()
    return judge.eval()


@torch.no_grad()
def judge_probabilities(judge: AttributeCNN, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """``[N x A]`` probabilities that each image has each attribute (judge in eval mode; its mode is restored)."""
    images = torch.as_tensor(images)
    if len(images) == 0:
        return torch.zeros(0, judge.num_attributes)
    device = next(judge.parameters()).device
    with eval_mode(judge):
        out = [
            torch.sigmoid(judge(_as_float_images(images[i : i + batch_size]).to(device))).cpu()
            for i in range(0, len(images), batch_size)
        ]
    return torch.cat(out)


@dataclass
class JudgeScore:
    """How well a judge does on labelled images for one attribute (threshold 0.5).

    Attributes:
        majority: accuracy of always answering the more common label (the bar to beat).
        tpr, fpr: shares of the images with and without the attribute that are judged positive.
    """

    accuracy: float
    majority: float
    tpr: float
    fpr: float
    n_with: int
    n_without: int


def score_judge(probabilities: torch.Tensor, labels: torch.Tensor, names: Sequence[str]) -> dict[str, JudgeScore]:
    """``{name: JudgeScore}`` from ``probabilities`` and 0/1 or -1/+1 ``labels``, both ``[N x A]`` with columns
    ``names``."""
    has = _binary(torch.as_tensor(labels))
    said = torch.as_tensor(probabilities) > 0.5
    if has.shape != said.shape or has.shape[1] != len(names):
        raise ValueError(
            f"probabilities {tuple(said.shape)} and labels {tuple(has.shape)} must both be [N x {len(names)}]"
        )
    result = {}
    for a, name in enumerate(names):
        pos, n = has[:, a], has.shape[0]
        n_with = int(pos.sum())
        share = n_with / max(1, n)
        result[name] = JudgeScore(
            accuracy=float((said[:, a] == pos).float().mean()),
            majority=max(share, 1 - share),
            tpr=float(said[pos, a].float().mean()) if n_with else float("nan"),
            fpr=float(said[~pos, a].float().mean()) if n_with < n else float("nan"),
            n_with=n_with,
            n_without=n - n_with,
        )
    return result


def load_or_train_judge(
    path: str | os.PathLike, images: torch.Tensor, labels: torch.Tensor, **settings: Any
) -> tuple[AttributeCNN, bool]:
    """``(judge, trained)``: the judge saved at ``path`` if it was trained with these ``settings`` on labels of the
    same size and counts (``trained`` False), else one trained by :func:`train_attribute_judge` and saved there.

    A judge trained on CelebA belongs in the git-ignored ``build/`` folder, never in the repository.
    """
    has = _binary(torch.as_tensor(labels))
    key = {"settings": dict(sorted(settings.items())), "n": int(has.shape[0]), "counts": has.sum(0).tolist()}
    key["settings"] = {k: list(v) if isinstance(v, tuple) else v for k, v in key["settings"].items()}
    path = Path(path)
    if path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved.get("key") == key:
            judge = AttributeCNN(has.shape[1], saved["channels"])
            judge.load_state_dict(saved["state"])
            return judge.eval(), False
    judge = train_attribute_judge(images, labels, **settings)
    atomic_torch_save({"key": key, "channels": list(judge.channels), "state": judge.state_dict()}, path)
    return judge, True

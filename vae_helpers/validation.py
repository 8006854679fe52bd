"""Checks of a public function's arguments, each raising a :class:`ConfigError` that names the fix, where the
mistake would otherwise surface deep inside torch or give a finite, wrong number.
"""

from __future__ import annotations

from typing import Any

import torch

from .data.containers import ImageDataset, ImageSplit
from .errors import ConfigError


def check_pixels(x: Any, where: str) -> None:
    """Refuse images that are not floats in [0, 1] (``x`` ``[N x C x H x W]``), the range every loss scores."""
    if not isinstance(x, torch.Tensor):
        raise ConfigError(f"{where}: the images must be a torch tensor of pixels in [0, 1], got {type(x).__name__}.")
    if not x.is_floating_point():
        raise ConfigError(
            f"{where}: the images are {x.dtype} (pixels 0..255, as stored on disk); the losses and models take "
            "floats in [0, 1]. Convert them first: x.float() / 255 (ImageSplit.batches and float_images() do this for you)."
        )
    if x.numel() == 0:
        return
    low, high = (float(v) for v in torch.aminmax(x.detach()))
    if low < 0.0 or high > 1.0:
        looks_like_bytes = high > 1.0 and low >= 0.0
        kind = "0..255 values" if looks_like_bytes else "values outside [0, 1]"
        fix = "Divide by 255 (x / 255)." if looks_like_bytes else "Map them into [0, 1], e.g. (x + 1) / 2 for [-1, 1]."
        raise ConfigError(
            f"{where}: the images hold pixel values in [{low:.2f}, {high:.2f}], {kind}, but the course's losses and models take "
            f"pixels in [0, 1] (outside it they give a finite, meaningless number). {fix}"
        )


def check_split(split: Any, where: str) -> None:
    """Refuse what is not one split of images (an :class:`~vae_helpers.data.ImageSplit`), saying which to pass."""
    if isinstance(split, ImageSplit):
        return
    if isinstance(split, ImageDataset):
        raise ConfigError(
            f"{where} scores one split of images, not the whole dataset: pass data.test (or data.val, data.train)."
        )
    if isinstance(split, torch.Tensor):
        raise ConfigError(
            f"{where} takes an ImageSplit (e.g. data.test), not a bare tensor of images: wrap uint8 images "
            "[N x C x H x W] as ImageSplit(images, labels)."
        )
    raise ConfigError(f"{where} takes an ImageSplit (e.g. data.test), got {type(split).__name__}.")

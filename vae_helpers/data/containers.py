"""In-memory datasets: :class:`ImageSplit` (one split as uint8 tensors) and :class:`ImageDataset` (three splits).

Batches index the uint8 tensor, so an epoch does no per-item PIL or Python work. Also the dataset and class names
and the seeded 90/10 train/validation split (:func:`split_train_val`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..config import display_path
from ..errors import ConfigError

DATASET_NAMES: tuple[str, ...] = ("mnist", "fashion-mnist", "celeba")

MNIST_CLASSES = [str(d) for d in range(10)]
FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
#: Fraction of the official training set held out for validation, and the fixed seed of that split.
VAL_FRACTION = 0.1
SPLIT_SEED = 0


@dataclass
class ImageSplit:
    """One split in memory: ``images`` ``uint8 [N x C x H x W]`` (0..255), ``labels`` ``int64 [N]`` classes or
    ``int64 [N x A]`` 0/1 attributes (CelebA). An empty split (``N == 0``) is valid."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ConfigError(
                f"ImageSplit: images must be uint8 [N x C x H x W] (pixels 0..255), got {self.images.dtype} "
                f"{tuple(self.images.shape)}. Convert float pixels in [0, 1] with (x * 255).round().to(torch.uint8); "
                "add the channel axis of grey images with x.unsqueeze(1)."
            )
        if len(self.labels) != len(self.images):
            raise ConfigError(
                f"ImageSplit: {len(self.images)} images but {len(self.labels)} labels; give one label per image."
            )

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def device(self) -> torch.device:
        return self.images.device

    def to(self, device: torch.device | str) -> ImageSplit:
        """Copy of this split on ``device`` (a no-op when already there)."""
        return ImageSplit(self.images.to(device), self.labels.to(device))

    def head(self, n: int | None) -> ImageSplit:
        """The first ``n`` items (all of them for ``None``; an empty split for 0)."""
        if n is None or n >= len(self):
            return self
        if n < 0:
            raise ConfigError(f"head(n): n must be 0 or more (or None for the whole split), got {n}.")
        return ImageSplit(self.images[:n], self.labels[:n])

    def float_images(self, index: torch.Tensor | slice | None = None) -> torch.Tensor:
        """Images as ``float32 [n x C x H x W]`` in [0, 1]."""
        images = self.images if index is None else self.images[index]
        return images.float().div_(255.0)

    def batches(
        self,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        drop_last: bool = False,
        binarize: bool = False,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(x, y)`` batches, ``x`` float32 ``[B x C x H x W]`` in [0, 1]; an empty split yields none.

        Args:
            shuffle: a fresh permutation on every call, drawn from ``generator`` (CPU; ``None``: the global RNG).
            device: where batches go (default: where the split lives).
            binarize: dynamic binarization: each pixel sampled as Bernoulli(x) on every call, from ``generator``.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}.")
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        order = order.to(self.images.device)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            idx = order[start : start + batch_size]
            x = self.images[idx]
            y = self.labels[idx]
            if device is not None:
                x = x.to(device, non_blocking=True)
                y = y.to(device, non_blocking=True)
            x = x.float().div_(255.0)
            if binarize:
                noise = torch.rand(x.shape, generator=generator).to(x.device)
                x = (noise < x).float()
            yield x, y


@dataclass
class ImageDataset:
    """A dataset's train / val / test splits; ``val`` is a fixed 10% of the official training set.

    ``class_names``: label names (CelebA: the 40 attributes); ``source``: the folder or file read; ``note``: what a
    reader should know about this copy (a fallback, a subset)."""

    name: str
    train: ImageSplit
    val: ImageSplit
    test: ImageSplit
    class_names: list[str]
    source: Path
    note: str = ""
    attribute_names: list[str] = field(default_factory=list)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        c, h, w = self.train.images.shape[1:]
        return int(c), int(h), int(w)

    def subset(self, train: int | None = None, val: int | None = None, test: int | None = None) -> ImageDataset:
        """The first ``train`` / ``val`` / ``test`` items of each split (``None`` keeps a split whole, 0 empties it).

        Train and val are in a seeded random order, so their heads are random, class-mixed subsets."""
        return replace(self, train=self.train.head(train), val=self.val.head(val), test=self.test.head(test))

    def full_training_set(self) -> ImageDataset:
        """Train on train + val and monitor on the test set (pytorch/examples' protocol): no early stopping with it."""
        train = ImageSplit(
            torch.cat([self.train.images, self.val.images]), torch.cat([self.train.labels, self.val.labels])
        )
        return replace(self, train=train, val=self.test)

    def to(self, device: torch.device | str) -> ImageDataset:
        """Copy of the dataset with every split on ``device``."""
        return replace(self, train=self.train.to(device), val=self.val.to(device), test=self.test.to(device))

    def summary(self) -> str:
        c, h, w = self.image_shape
        text = (
            f"{self.name}: train {len(self.train):,} / val {len(self.val):,} / test {len(self.test):,} "
            f"images of {c}x{h}x{w} from {display_path(self.source)}"
        )
        return text + (f"\nNote: {self.note}" if self.note else "")


def split_train_val(images: np.ndarray, labels: np.ndarray) -> tuple[ImageSplit, ImageSplit]:
    """Seeded 90/10 split of an official training set (``[N x H x W]`` or ``[N x C x H x W]``), in a fixed random order."""
    generator = torch.Generator().manual_seed(SPLIT_SEED)
    order = torch.randperm(len(images), generator=generator)
    n_val = int(round(len(images) * VAL_FRACTION))
    images_t = torch.from_numpy(np.ascontiguousarray(images))
    labels_t = torch.from_numpy(labels.astype(np.int64))
    if images_t.dim() == 3:
        images_t = images_t.unsqueeze(1)
    val_idx, train_idx = order[:n_val], order[n_val:]
    return ImageSplit(images_t[train_idx].contiguous(), labels_t[train_idx]), ImageSplit(
        images_t[val_idx].contiguous(), labels_t[val_idx]
    )

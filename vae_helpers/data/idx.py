"""IDX files (MNIST, Fashion-MNIST): reading one file, finding the four in a folder, building the dataset.

Every failed check is a :class:`CorruptDataError` naming the file, what is wrong and the fix."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np
import torch

from ..errors import CorruptDataError
from .containers import FASHION_MNIST_CLASSES, MNIST_CLASSES, ImageDataset, ImageSplit, split_train_val

#: IDX file stems shared by MNIST and Fashion-MNIST.
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
#: Folder of each IDX dataset inside a data root (torchvision's layout: ``<root>/<folder>/raw/``).
IDX_FOLDER = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
#: Image size of MNIST-style data.
IDX_IMAGE_SIZE = (28, 28)
#: Official training-label counts per class: they tell MNIST and Fashion-MNIST files apart.
OFFICIAL_TRAIN_COUNTS = {
    "mnist": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "fashion-mnist": [6000] * 10,
}
_PRETTY = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
_REFETCH = "Delete it and fetch again (see data/README.md; `python -m vae_helpers.data` reports what it finds)."
_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _what_it_is(head: bytes) -> str:
    """Name a common non-IDX payload from its first bytes (an HTML error page, a Git LFS pointer, a zip)."""
    text = head[:200].lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<")):
        return "an HTML/XML page (a failed download: an error, quota or login page), not data"
    if text.startswith(b"version https://git-lfs"):
        return "a Git LFS pointer, not the data (run `git lfs pull` in the repository it came from)"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (unzip it first)"
    if head.startswith(b"\x1f\x8b"):
        return "gzip data in a file whose name does not end in .gz (add .gz to its name)"
    return ""


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read a raw or gzipped (``.gz``) IDX file into an array, checking the magic number and size against its header."""
    path = Path(path)
    is_gz = path.suffix == ".gz"
    opener = gzip.open if is_gz else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError, zlib.error) as err:  # cut short: EOFError; garbage: zlib.error or BadGzipFile
        what = ""
        if is_gz:
            with open(path, "rb") as raw:
                what = _what_it_is(raw.read(200))
        raise CorruptDataError(
            f"{path}: cannot be read as {'gzip' if is_gz else 'IDX'} ({type(err).__name__}: {err})"
            + (f"; it is {what}" if what else "; the download was cut short or damaged")
            + f". {_REFETCH}"
        ) from err
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        what = _what_it_is(data[:200])
        raise CorruptDataError(
            f"{path}: not an IDX file (header bytes {data[:4].hex(' ') or 'empty'}; expected 00 00 <type> <ndim>)"
            + (f"; it is {what}" if what else "")
            + f". {_REFETCH}"
        )
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    ndim = data[3]
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise CorruptDataError(
            f"{path}: header cut short ({len(data)} bytes, expected at least {header_size}). {_REFETCH}"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header_size + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise CorruptDataError(
            f"{path}: truncated or corrupt IDX file: header says shape {shape} so {expected:,} bytes are "
            f"expected, but the file has {len(data):,}. Delete it and fetch a fresh copy."
        )
    return np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape).astype(dtype.newbyteorder("="))


def find_idx(folder: Path) -> dict[str, Path] | None:
    """Map each of :data:`IDX_FILES` to an existing raw or ``.gz`` file in ``folder``, or None if any is missing."""
    found = {}
    for key, stem in IDX_FILES.items():
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            return None
    return found


def _check_pair(name: str, images: np.ndarray, labels: np.ndarray, image_path: Path, label_path: Path) -> None:
    """One split's images and labels must be MNIST-style: ``uint8 [N x 28 x 28]`` and ``N`` labels in 0..9."""
    h, w = IDX_IMAGE_SIZE
    if images.ndim != 3 or images.dtype != np.uint8 or images.shape[1:] != (h, w):
        found = "x".join(map(str, images.shape[1:])) if images.ndim == 3 else f"shape {images.shape}"
        raise CorruptDataError(
            f"{image_path}: expected {_PRETTY[name]} images of {h}x{w} uint8 pixels ([N x {h} x {w}]), found "
            f"{found} {images.dtype}. This is not the official file: replace it with the official "
            f"{image_path.name.removesuffix('.gz')} (see data/README.md)."
        )
    if labels.ndim != 1:
        raise CorruptDataError(
            f"{label_path}: expected one label per image ([N]), found shape {labels.shape} (an image file in the place of "
            f"a label file?). Replace it with the official {label_path.name.removesuffix('.gz')}."
        )
    if len(labels) != len(images):
        raise CorruptDataError(
            f"{label_path}: {len(labels):,} labels but {image_path.name} holds {len(images):,} images (expected the same "
            "count: files from two different downloads or splits are mixed). Replace both with the official files."
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise CorruptDataError(
            f"{label_path}: labels must be 0..9, found {int(labels.min())}..{int(labels.max())}. "
            f"Replace it with the official {label_path.name.removesuffix('.gz')}."
        )


def idx_dataset(name: str, files: dict[str, Path], source: Path, note: str = "") -> ImageDataset:
    """Read and check the four IDX files of ``"mnist"`` or ``"fashion-mnist"`` into an :class:`ImageDataset`."""
    arrays = {key: read_idx(path) for key, path in files.items()}
    for split in ("train", "test"):
        _check_pair(
            name,
            arrays[f"{split}_images"],
            arrays[f"{split}_labels"],
            files[f"{split}_images"],
            files[f"{split}_labels"],
        )
    if len(arrays["train_images"]) == 0:
        raise CorruptDataError(f"{files['train_images']}: holds 0 training images. {_REFETCH}")
    counts = np.bincount(arrays["train_labels"].astype(np.int64), minlength=10).tolist()
    for other, official in OFFICIAL_TRAIN_COUNTS.items():
        if other != name and counts == official:
            raise CorruptDataError(
                f"{files['train_labels']}: these are {_PRETTY[other]}'s training labels (its exact class counts), but the "
                f"folder {source} is read as {_PRETTY[name]}. Move these files to <root>/{IDX_FOLDER[other]}/raw/ and put "
                f"the {_PRETTY[name]} files in <root>/{IDX_FOLDER[name]}/raw/."
            )
    train, val = split_train_val(arrays["train_images"], arrays["train_labels"])
    test = ImageSplit(
        torch.from_numpy(np.ascontiguousarray(arrays["test_images"])).unsqueeze(1),
        torch.from_numpy(arrays["test_labels"].astype(np.int64)),
    )
    classes = MNIST_CLASSES if name == "mnist" else FASHION_MNIST_CLASSES
    return ImageDataset(name, train, val, test, list(classes), source, note)

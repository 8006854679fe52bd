"""CelebA in the official layout, with any number of its images present: JPEG decoding, the decode cache and
:func:`load_celeba`.

Each partition is decoded once and saved as one ``.pt`` file, named by a hash of the resolved image folder, every
image's name, size and mtime, and the crop and size, so another copy of CelebA or a changed image never gets old
faces. Writes are atomic; a cache that cannot be written is skipped with a :class:`CacheWarning`.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_torch_save
from ..config import display_path
from ..errors import CacheWarning, CorruptDataError, DataNotFoundError, IncompleteCelebAWarning
from .celeba_annotations import celeba_present_by_split, read_celeba_annotations
from .celeba_folder import CELEBA_HOWTO, celeba_image_dir, find_celeba_root, layout_hint
from .containers import ImageDataset, ImageSplit
from .roots import not_found, repo_paths

#: ``(width, height)`` of the official aligned-and-cropped images.
ALIGNED_SIZE = (178, 218)
#: At most this many file names are printed in one message (the count is always given).
_SHOW = 20
_CACHE_FORMAT = 2


def _decode_face(path: Path, crop: int, size: int) -> np.ndarray:
    """JPEG -> CenterCrop(crop) -> antialiased Resize(size) -> uint8 ``[3 x size x size]``.

    Raises OSError or SyntaxError (PIL) for a damaged file, ValueError for an image smaller than ``crop``."""
    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB")  # forces the full decode, so a truncated file fails here
        w, h = img.size
        if w < crop or h < crop:
            raise ValueError(
                f"{w}x{h} pixels, smaller than the {crop}x{crop} crop (the aligned images are "
                f"{ALIGNED_SIZE[0]}x{ALIGNED_SIZE[1]})"
            )
        left, top = (w - crop) // 2, (h - crop) // 2
        img = img.crop((left, top, left + crop, top + crop)).resize((size, size), Image.BICUBIC, reducing_gap=None)
        return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1).copy()


def decode_faces(image_dir: Path, names: list[str], crop: int, size: int) -> tuple[torch.Tensor | None, list[str]]:
    """Decode ``names`` in parallel: ``(uint8 [N x 3 x size x size], [])``, or ``(None, broken)`` with every
    undecodable image as ``"<name> (<reason>)"``."""

    def one(name: str) -> np.ndarray | str:
        try:
            return _decode_face(image_dir / name, crop, size)
        except (
            OSError,
            ValueError,
            SyntaxError,
        ) as err:  # PIL: OSError (truncated, unidentified), SyntaxError (bad header)
            return f"{name} ({err})"

    workers = min(8, (os.cpu_count() or 1) * 2)
    with ThreadPoolExecutor(workers) as pool:  # PIL releases the GIL while decoding
        decoded = list(pool.map(one, names))
    broken = [d for d in decoded if isinstance(d, str)]
    if broken:
        return None, broken
    return (torch.from_numpy(np.stack(decoded)) if decoded else torch.zeros(0, 3, size, size, dtype=torch.uint8)), []


def broken_images_error(image_dir: Path, broken: list[str], total: int) -> CorruptDataError:
    """The :class:`CorruptDataError` naming every undecodable image (its ``files`` attribute holds all the paths)."""
    shown = "\n  ".join(broken[:_SHOW]) + (f"\n  ... and {len(broken) - _SHOW:,} more" if len(broken) > _SHOW else "")
    error = CorruptDataError(
        f"{image_dir}: {len(broken):,} of {total:,} CelebA images cannot be decoded (damaged or truncated JPEGs):\n"
        f"  {shown}\nHow to fix: extract img_align_celeba.zip again, or delete these files (only the images present "
        "are used)."
    )
    error.files = [image_dir / b.split(" ", 1)[0] for b in broken]  # type: ignore[attr-defined]
    return error


def cache_path(cache_dir: Path, image_dir: Path, names: list[str], crop: int, size: int) -> Path:
    """The cache file for these images (its name hashes the folder, crop, size and each image's name, size, mtime)."""
    digest = hashlib.sha1(f"v{_CACHE_FORMAT}|{Path(image_dir).resolve()}|{crop}|{size}".encode())
    for name in names:
        st = (image_dir / name).stat()
        digest.update(f"|{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return Path(cache_dir) / f"celeba_c{crop}_s{size}_{len(names)}_{digest.hexdigest()[:16]}.pt"


def _read_cache(path: Path, image_dir: Path, names: list[str], size: int) -> torch.Tensor | None:
    """The cached images when ``path`` holds exactly these images from this folder, else None (then it is rebuilt)."""
    if not path.is_file():
        return None
    try:
        entry = torch.load(path, weights_only=True)
    except Exception:  # a damaged cache file is simply rebuilt
        return None
    if (
        not isinstance(entry, dict)
        or entry.get("source") != str(Path(image_dir).resolve())
        or entry.get("names") != names
    ):
        return None
    images = entry.get("images")
    if (
        not isinstance(images, torch.Tensor)
        or images.dtype != torch.uint8
        or tuple(images.shape) != (len(names), 3, size, size)
    ):
        return None
    return images


def _celeba_split(
    folder: Path,
    names: list[str],
    attrs: np.ndarray,
    index: dict[str, int],
    crop: int,
    size: int,
    cache_dir: Path | None,
) -> ImageSplit | list[str]:
    """One partition's split, decoded or read from the cache (none for ``cache_dir=None``), or its undecodable images."""
    labels = (
        torch.from_numpy(np.stack([attrs[index[n]] for n in names]).astype(np.int64))
        if names
        else torch.zeros(0, attrs.shape[1] if attrs.ndim == 2 else 40, dtype=torch.int64)
    )
    image_dir = celeba_image_dir(folder)
    if not names:
        return ImageSplit(torch.zeros(0, 3, size, size, dtype=torch.uint8), labels)
    path = cache_path(cache_dir, image_dir, names, crop, size) if cache_dir is not None else None
    if path is not None:
        cached = _read_cache(path, image_dir, names, size)
        if cached is not None:
            return ImageSplit(cached, labels)
    images, broken = decode_faces(image_dir, names, crop, size)
    if broken:
        return broken
    if path is not None:
        entry = {
            "format": _CACHE_FORMAT,
            "source": str(Path(image_dir).resolve()),
            "names": list(names),
            "images": images,
        }
        try:
            atomic_torch_save(entry, path)
        except OSError as err:
            warnings.warn(
                f"CelebA decode cache {path.parent} cannot be written ({type(err).__name__}: {err}); going on without "
                "it, so the JPEGs are decoded again next time. Free disk space or make the folder writable, or pass "
                "load_celeba(cache_dir=<a writable folder>).",
                CacheWarning,
                stacklevel=4,
            )
    return ImageSplit(images, labels)


def load_celeba(
    root: Path | None = None,
    size: int = 64,
    crop: int = 148,
    max_per_split: int | None = None,
    cache_dir: Path | None = None,
) -> ImageDataset:
    """CelebA split by the official partition, using only the rows whose image exists; ``labels``: 40 attributes as 0/1.

    Args:
        root: a folder containing ``celeba/`` (default: search the roots of :mod:`.roots`).
        max_per_split: decode only the first images of each partition (fast mode).
        cache_dir: where decoded partitions are cached (default: the repo's ``data/cache/``).

    Raises:
        DataNotFoundError: no CelebA folder, no image present, or none of the training partition.
        CorruptDataError: an annotation line or an image is damaged (the message names the file and the fix).
    """
    if root is None:
        folder, searched = find_celeba_root()
        if folder is None:
            raise not_found("celeba", searched, CELEBA_HOWTO)
    else:
        folder = Path(root) / "celeba"
        if not (folder / "list_attr_celeba.txt").is_file():
            hint = layout_hint(folder)
            raise not_found("celeba", [str(folder) + (f" -- found but unusable: {hint}" if hint else "")], CELEBA_HOWTO)
    filenames, attr_names, attrs, partition = read_celeba_annotations(folder)
    by_split = celeba_present_by_split(folder, filenames, partition)
    kept = [n for p in (0, 1, 2) for n in by_split[p]]
    if not kept:
        raise DataNotFoundError(
            f"CelebA: {folder / 'img_align_celeba'} holds none of the {len(filenames):,} images named in "
            f"list_attr_celeba.txt.\nHow to fix: {CELEBA_HOWTO}"
        )
    if not by_split[0]:
        raise DataNotFoundError(
            f"CelebA: {folder / 'img_align_celeba'} holds {len(kept):,} images, but none of the training partition "
            "(0 in list_eval_partition.txt), so there is nothing to train on. Extract the training images too "
            "(000001.jpg to 162770.jpg in the official split)."
        )
    missing = len(filenames) - len(kept)
    if missing:
        warnings.warn(
            f"CelebA at {display_path(folder)}: {len(kept):,} of {len(filenames):,} annotated images are present "
            f"({missing:,} missing); using the {len(kept):,} present.",
            IncompleteCelebAWarning,
            stacklevel=3,
        )
    index = {n: i for i, n in enumerate(filenames)}
    if cache_dir is None:
        cache_dir = repo_paths()[1] / "cache"
    selected = [by_split[p][:max_per_split] if max_per_split else by_split[p] for p in (0, 1, 2)]
    splits = [_celeba_split(folder, names, attrs, index, crop, size, cache_dir) for names in selected]
    broken = [name for split in splits if isinstance(split, list) for name in split]
    if broken:  # every damaged image of every split, in one message
        raise broken_images_error(celeba_image_dir(folder), broken, sum(map(len, selected)))
    note = f"{len(kept):,} of {len(filenames):,} CelebA images present" + (
        f"; at most {max_per_split} per split decoded" if max_per_split else ""
    )
    return ImageDataset(
        "celeba", *splits, class_names=list(attr_names), source=folder, note=note, attribute_names=list(attr_names)
    )

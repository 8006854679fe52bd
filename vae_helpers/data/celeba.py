"""CelebA in the official layout, with any number of its images present.

Reading order: :func:`find_celeba_root` (the search chain of :mod:`.sources`), :func:`read_celeba_annotations`
(``list_attr_celeba.txt`` and ``list_eval_partition.txt``, checked line by line), :func:`celeba_present_by_split`
(the rows whose image exists, by official partition), then :func:`load_celeba` decodes each partition's JPEGs
(CenterCrop 148, Resize 64) into a uint8 tensor.

The decode cache: each decoded partition is saved as one ``.pt`` file in ``cache_dir`` (default ``data/cache/`` in
the repo). Its name is a hash of what it was built from: the resolved image folder, every image's name, size and
mtime, and the crop and size, so another copy of CelebA, or a changed image, never gets old faces. The file also
records its source folder and image names, checked on load. Writes are atomic (a unique temporary file, then
``os.replace``), so a reader never sees a half-written file even with two writers; a cache that cannot be written
(read-only, disk full) is skipped with a :class:`CacheWarning`.
"""

from __future__ import annotations

import csv
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
from .containers import ImageDataset, ImageSplit
from .roots import not_found, repo_paths, search_roots

CELEBA_HOWTO = (
    "How to get CelebA: download 'Align&Cropped Images' (img_align_celeba.zip) plus list_attr_celeba.txt and "
    "list_eval_partition.txt from the official site https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html "
    "(Google Drive / Baidu links) or a well-known mirror such as the Kaggle dataset 'jessicali9530/celeba-dataset'. "
    "torchvision's CelebA(download=True) uses Google Drive and often fails with a quota or HTML-page error "
    "(torchvision issues #1920, #3708, #8501). Lay it out as <root>/celeba/img_align_celeba/000001.jpg ... plus "
    "<root>/celeba/list_attr_celeba.txt and <root>/celeba/list_eval_partition.txt, then set VAE_DATA_DIR=<root> "
    "or put it in the repo's data/. CelebA is for non-commercial research only."
)
#: Official partition codes in ``list_eval_partition.txt``.
PARTITIONS = {0: "train", 1: "valid", 2: "test"}
#: Size of the official aligned-and-cropped images.
ALIGNED_SIZE = (178, 218)
#: At most this many file names are printed in one message (the count is always given).
_SHOW = 20
_CACHE_FORMAT = 2


# --------------------------------------------------------------------------------------------------------------
# Finding the folder
# --------------------------------------------------------------------------------------------------------------
def celeba_image_dir(folder: Path) -> Path:
    """``folder/img_align_celeba``, or the Kaggle mirror's nested ``img_align_celeba/img_align_celeba`` when the
    images are only there."""
    images = Path(folder) / "img_align_celeba"
    nested = images / "img_align_celeba"
    if nested.is_dir() and not any(images.glob("*.jpg")):
        return nested
    return images


def _layout_hint(folder: Path) -> str:
    """What is wrong with a ``celeba/`` folder that is not usable as it is (empty when nothing useful can be said)."""
    if not folder.is_dir():
        return ""
    hints = []
    if (folder / "list_attr_celeba.csv").is_file() and not (folder / "list_attr_celeba.txt").is_file():
        hints.append(
            "it holds the Kaggle mirror's CSV files: convert them with "
            f"`python -c \"from vae_helpers.data import celeba_txt_from_csv; celeba_txt_from_csv('{folder}')\"`"
        )
    if (folder / "img_align_celeba.zip").is_file() and not (folder / "img_align_celeba").is_dir():
        hints.append(f"img_align_celeba.zip is not extracted: `cd {folder} && unzip img_align_celeba.zip`")
    return "; ".join(hints)


def find_celeba_root() -> tuple[Path | None, list[str]]:
    """Return the first ``celeba/`` folder holding images and annotation files, plus the places searched."""
    searched = []
    for label, root in search_roots():
        folder = root / "celeba"
        hint = _layout_hint(folder)
        searched.append(
            f"{label}: {folder} (needs img_align_celeba/*.jpg, list_attr_celeba.txt, list_eval_partition.txt)"
            + (f" -- found but unusable: {hint}" if hint else "")
        )
        if (
            (folder / "list_attr_celeba.txt").is_file()
            and (folder / "list_eval_partition.txt").is_file()
            and (folder / "img_align_celeba").is_dir()
        ):
            return folder, searched
    return None, searched


def celeba_instructions() -> str:
    """Multi-line, printable instructions for getting CelebA and where to put it (the places searched, in order).

    Same facts as :data:`CELEBA_HOWTO` (which ends the one-line error message), laid out for a notebook cell.
    """
    roots = search_roots()
    if not any(label == "$VAE_DATA_DIR" for label, _ in roots):
        roots.insert(0, ("$VAE_DATA_DIR", Path("<not set>")))
    places = "\n".join(f"     {i}. {label}: {root / 'celeba'}" for i, (label, root) in enumerate(roots, 1))
    return (
        "CelebA was not found. It is never downloaded automatically: it is large (1.4 GB of images) and licensed for\n"
        "non-commercial research only.\n"
        "1. Get it from the official site https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (Google Drive or Baidu links:\n"
        "   'Align&Cropped Images' -> img_align_celeba.zip, and the annotation files list_attr_celeba.txt and\n"
        "   list_eval_partition.txt), or from the well-known Kaggle mirror 'jessicali9530/celeba-dataset'\n"
        "   (`kaggle datasets download -d jessicali9530/celeba-dataset`). The mirror nests the images one level deeper\n"
        "   (img_align_celeba/img_align_celeba/*.jpg: move them up one level) and ships the annotations as CSV: convert them\n"
        "   with `python -c \"from vae_helpers.data import celeba_txt_from_csv; celeba_txt_from_csv('<root>/celeba')\"`.\n"
        "   torchvision's CelebA(download=True) fetches from Google Drive and often fails with a quota or HTML-page error\n"
        "   (torchvision issues #1920, #3708, #8501), so download by hand.\n"
        "2. Lay it out as the official download (any number of images works; only the rows whose image is present are used):\n"
        "     <root>/celeba/img_align_celeba/000001.jpg, 000002.jpg, ...\n"
        "     <root>/celeba/list_attr_celeba.txt\n"
        "     <root>/celeba/list_eval_partition.txt\n"
        "   (list_bbox_celeba.txt and list_landmarks_align_celeba.txt are not needed.)\n"
        "3. Make <root>/celeba one of these folders, searched in this order:\n"
        f"{places}\n"
        "   e.g. `export VAE_DATA_DIR=/path/to/root` before starting Jupyter, or put celeba/ in the repo's data/.\n"
        "Licence: CelebA is available for non-commercial research purposes only; never commit its images, or weights\n"
        "trained on it, to a repository."
    )


# --------------------------------------------------------------------------------------------------------------
# Annotation files
# --------------------------------------------------------------------------------------------------------------
def celeba_txt_from_csv(folder: str | os.PathLike) -> tuple[Path, Path]:
    """Write the official ``list_attr_celeba.txt`` / ``list_eval_partition.txt`` from the Kaggle mirror's CSV files.

    The Kaggle dataset 'jessicali9530/celeba-dataset' holds ``list_attr_celeba.csv`` (``image_id,<40 attributes>``,
    values -1/1) and ``list_eval_partition.csv`` (``image_id,partition``): the same table as the official files.

    Returns:
        The two paths written in ``folder``.
    """
    folder = Path(folder)
    with open(folder / "list_attr_celeba.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], [r for r in rows[1:] if r]
    if header[0] != "image_id" or any(len(r) != len(header) for r in body):
        raise CorruptDataError(
            f"{folder / 'list_attr_celeba.csv'}: expected the Kaggle layout 'image_id,<attributes>' "
            f"with {len(header)} fields on every row."
        )
    attr_path, part_path = folder / "list_attr_celeba.txt", folder / "list_eval_partition.txt"
    lines = [str(len(body)), " ".join(header[1:])] + [" ".join(r) for r in body]
    attr_path.write_text("\n".join(lines) + "\n")
    with open(folder / "list_eval_partition.csv", newline="") as handle:
        parts = [r for r in list(csv.reader(handle))[1:] if r]
    part_path.write_text("\n".join(f"{name} {int(p)}" for name, p in parts) + "\n")
    return attr_path, part_path


def _annotation_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DataNotFoundError(
            f"CelebA: {path} is missing (the annotation files are needed with the images).\nHow to fix: {CELEBA_HOWTO}"
        )
    try:
        return path.read_text().splitlines()
    except UnicodeDecodeError as err:
        raise CorruptDataError(
            f"{path}: not a text file ({err}). Delete it and fetch the official file again."
        ) from err


def read_partition(path: Path) -> dict[str, int]:
    """``list_eval_partition.txt`` as ``{filename: 0 | 1 | 2}``; a malformed line is a :class:`CorruptDataError`."""
    partition = {}
    for lineno, line in enumerate(_annotation_lines(path), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in {"0", "1", "2"}:
            raise CorruptDataError(
                f"{path}, line {lineno}: expected '<image>.jpg <partition>' with partition 0 (train), 1 (valid) or "
                f"2 (test), found {line.strip()!r}. Fetch the official list_eval_partition.txt again."
            )
        partition[parts[0]] = int(parts[1])
    return partition


def _first_bad_attribute_line(path: Path, body: list[tuple[int, str]], names: list[str]) -> None:
    """Raise the :class:`CorruptDataError` naming the first malformed row of ``list_attr_celeba.txt``."""
    for lineno, line in body:
        row = line.split()
        if len(row) != len(names) + 1:
            raise CorruptDataError(
                f"{path}, line {lineno}: {len(row)} columns, expected {len(names) + 1} (the image name and "
                f"{len(names)} attributes). Fetch the official list_attr_celeba.txt again."
            )
        for attribute, value in zip(names, row[1:]):
            if value not in {"1", "-1"}:
                raise CorruptDataError(
                    f"{path}, line {lineno}: attribute {attribute} is {value!r}; every value must be 1 or -1. "
                    "Fetch the official list_attr_celeba.txt again."
                )
    raise CorruptDataError(
        f"{path}: the attribute table does not parse. Fetch the official list_attr_celeba.txt again."
    )


def read_celeba_annotations(folder: Path) -> tuple[list[str], list[str], np.ndarray, dict[str, int]]:
    """Parse the official annotation files.

    Returns:
        ``(filenames, attribute_names, attributes int8 [R x 40] in {0, 1}, partition by filename)``.

    Raises:
        CorruptDataError: a header, row or value is malformed (the message names the file and line).
    """
    path = Path(folder) / "list_attr_celeba.txt"
    lines = _annotation_lines(path)
    try:
        n_rows = int(lines[0])
        names = lines[1].split()
    except (IndexError, ValueError) as err:
        raise CorruptDataError(
            f"{path}: not the official format ({err}): line 1 must be the row count and line 2 the "
            "attribute names. Fetch the official file again."
        ) from err
    body = [(i, line) for i, line in enumerate(lines[2:], 3) if line.strip()]
    if len(body) != n_rows:
        raise CorruptDataError(
            f"{path}: header announces {n_rows:,} rows of {len(names)} attributes, "
            f"found {len(body):,} rows. Fetch a fresh copy."
        )
    # Fast path (about 0.3 s for the 202,599 official rows): all tokens at once; the slow per-line check below runs
    # only when the table does not parse, to name the first bad line.
    width = len(names) + 1
    tokens = "\n".join(line for _, line in body).split()
    filenames = tokens[0::width]
    del tokens[0::width]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # older NumPy warns where newer raises ValueError
            values = np.fromstring(" ".join(tokens), dtype=np.int8, sep=" ") if tokens else np.zeros(0, np.int8)
    except (ValueError, DeprecationWarning):  # a token that is not an integer
        values = None
    if (
        values is None
        or len(filenames) != len(body)
        or len(values) != len(body) * len(names)
        or not np.isin(values, (-1, 1)).all()
    ):
        _first_bad_attribute_line(path, body, names)
    attrs = (values.reshape(len(body), len(names)) > 0).astype(np.int8)
    partition = read_partition(Path(folder) / "list_eval_partition.txt")
    return filenames, names, attrs, partition


def celeba_present_by_split(folder: Path, filenames: list[str], partition: dict[str, int]) -> dict[int, list[str]]:
    """Image names present in ``folder/img_align_celeba``, grouped by official partition (0 train, 1 valid, 2 test).

    Raises:
        CorruptDataError: present images have no line in ``list_eval_partition.txt`` (the message names them).
    """
    present = {p.name for p in celeba_image_dir(folder).glob("*.jpg")}
    by_split: dict[int, list[str]] = {0: [], 1: [], 2: []}
    unassigned = []
    for name in filenames:
        if name in present:
            if name in partition:
                by_split[partition[name]].append(name)
            else:
                unassigned.append(name)
    if unassigned:
        raise CorruptDataError(
            f"{Path(folder) / 'list_eval_partition.txt'}: {len(unassigned):,} images present on disk have no partition "
            f"line (first: {', '.join(unassigned[:5])}), so their split is unknown. Fetch the official "
            "list_eval_partition.txt (202,599 lines) again."
        )
    return by_split


# --------------------------------------------------------------------------------------------------------------
# Decoding and the decode cache
# --------------------------------------------------------------------------------------------------------------
def _decode_face(path: Path, crop: int, size: int) -> np.ndarray:
    """JPEG -> CenterCrop(crop) -> Resize(size) (antialiased) -> uint8 ``[3 x size x size]``.

    Raises OSError (or PIL's UnidentifiedImageError) for a damaged file and ValueError for an image smaller than ``crop``.
    """
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
    """Decode ``names`` in parallel into ``uint8 [N x 3 x size x size]``.

    Returns:
        ``(images, broken)``: ``broken`` lists every image that cannot be decoded as ``"<name> (<reason>)"``; then
        ``images`` is None.
    """

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
    """The cache file for these images: named by a hash of the resolved folder, each image's name, size and mtime,
    and the crop and size."""
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
    """Decode (or load from cache) one partition's images; ``cache_dir=None`` decodes without a cache.

    Returns the split, or the list of images that cannot be decoded (see :func:`decode_faces`).
    """
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
    """CelebA from the official layout, using only the rows whose image file exists.

    Images are CenterCrop(``crop``) then Resize(``size``), decoded once and cached as a uint8
    tensor in ``cache_dir`` (default: the repo's ``data/cache``), so later runs skip JPEG decoding.
    Splits follow ``list_eval_partition.txt`` (0 train, 1 valid, 2 test). ``labels`` holds the
    40 attributes as 0/1, named by ``attribute_names``.

    Args:
        root: a folder containing ``celeba/`` (default: the search order of :mod:`.sources`).
        max_per_split: decode only the first images of each partition (fast mode).
        cache_dir: where decoded tensors are cached (see the module docstring).

    Raises:
        DataNotFoundError: no CelebA folder, no image present, or no image of the training partition present.
        CorruptDataError: an annotation line or an image is damaged (the message names the file and the fix).
    """
    if root is None:
        folder, searched = find_celeba_root()
        if folder is None:
            raise not_found("celeba", searched, CELEBA_HOWTO)
    else:
        folder = Path(root) / "celeba"
        if not (folder / "list_attr_celeba.txt").is_file():
            hint = _layout_hint(folder)
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

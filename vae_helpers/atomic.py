"""Write a file so that a reader never sees half of it: :func:`atomic_write`.

The bytes go to a unique temporary file beside the target, are fsynced, then renamed over it (:func:`os.replace`):
a crash leaves the previous file; of two writers, the last rename wins and their bytes never mix.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch

# Read once (only setting it reads it): finished files get the umask's permissions, not mkstemp's owner-only ones.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(handle)`` on a temporary file beside ``path`` (folder created), then rename it over ``path``.
    On any failure or interrupt the temporary file is removed, ``path`` is unchanged and the error propagates."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda handle: handle.write(data))


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save(obj)`` to ``path`` atomically; save only tensors and plain values, for ``weights_only`` loads."""
    atomic_write(path, lambda handle: torch.save(obj, handle))


__all__ = ["atomic_write", "atomic_write_bytes", "atomic_torch_save"]

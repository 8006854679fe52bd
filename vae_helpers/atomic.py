"""One way to write a file so that a reader never sees half of it: :func:`atomic_write`.

The bytes go to a temporary file with a unique name in the target's folder, are flushed to disk
(``fsync``), and the temporary file is then renamed over the target with :func:`os.replace`, which is
atomic on POSIX and Windows file systems. A crash or Ctrl-C during the write leaves the previous file
untouched; two processes writing the same target never mix their bytes (each has its own temporary
file, the last rename wins). Checkpoints, caches, the model zoo and the attribute judge all save through it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch

# The process's umask, read once (os.umask can only be read by setting it): a finished file gets the permissions
# any other new file would get (mkstemp makes its temporary file readable by its owner only).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(handle)`` on a unique temporary file beside ``path``, then rename it over ``path``.

    The folder is created if needed. On any failure (an ``OSError`` such as a full disk, an error inside
    ``write``, an interrupt) the temporary file is removed and the error propagates; ``path`` is unchanged.
    """
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
    """``torch.save(obj)`` to ``path`` atomically (see :func:`atomic_write`). Save only tensors and plain
    values (dicts, lists, numbers, strings), so the file loads with ``torch.load(..., weights_only=True)``."""
    atomic_write(path, lambda handle: torch.save(obj, handle))


__all__ = ["atomic_write", "atomic_write_bytes", "atomic_torch_save"]

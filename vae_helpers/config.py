"""Run-wide settings: fast mode, device choice, seeding and project paths.

This is the *only* module that reads the ``VAE_FAST`` switch.  Notebooks call
:func:`fast_mode` / :func:`pick` in their single ``parameters`` cell, so CI (which
sets ``VAE_FAST=1``) and papermill (which can override that cell) both shrink a run
through the same door.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from .errors import ConfigError

T = TypeVar("T")

#: Root of the repository (the folder holding ``pyproject.toml``).
REPO_ROOT: Path = Path(__file__).resolve().parent.parent
#: Figures and small checkpoints produced by the notebooks.
ASSETS_DIR: Path = REPO_ROOT / "assets"
#: The repo's own data folder (a download cache; never committed).
REPO_DATA_DIR: Path = REPO_ROOT / "data"

_TRUE = {"1", "true", "yes", "on"}


def display_path(path: str | Path) -> str:
    """``path`` as a reader should see it in a notebook's output: relative to the course folder.

    Committed outputs must not carry the machine that ran them (``/home/alice/...``): a path inside
    the repository is shown relative to it (``assets/figures/x.png``), one beside it relative to it
    (``../shared/data/celeba``), one in the home folder with ``~``; anything else unchanged. Error
    messages keep absolute paths, which a reader may need to act on.
    """
    path = Path(path)
    try:
        resolved = path.expanduser().resolve()
    except OSError:  # an unreadable path is shown as given
        return str(path)
    for base, prefix in ((REPO_ROOT, ""), (REPO_ROOT.parent, "../"), (Path.home(), "~/")):
        if resolved == base and prefix == "":
            return "."
        if resolved.is_relative_to(base):
            return prefix + resolved.relative_to(base).as_posix()
    return str(path)


def fast_mode() -> bool:
    """True when ``VAE_FAST`` is set to 1/true/yes/on (CI sets it).

    Read at call time, not import time, so a test or a notebook can flip it.
    """
    return os.environ.get("VAE_FAST", "0").strip().lower() in _TRUE


#: Set to 1 by the maintainer's course runner with ``--in-place`` (its kernels inherit it): only then do the
#: notebooks' figures go into the tracked ``assets/figures/``.
COURSE_FIGURES_ENV = "VAE_UPDATE_COURSE_FIGURES"


def figure_dir() -> Path:
    """Where :func:`vae_helpers.plots.save_figure` writes: ``build/figures`` for a learner's full run,
    ``build/figures-fast`` in fast mode (CI, tests), both git-ignored, so a learner's run or an autograde never
    overwrites the course's committed figures; ``assets/figures`` only when ``VAE_UPDATE_COURSE_FIGURES=1``
    (``python -m vae_helpers.tools.course --in-place``, which refreshes the committed full-run outputs)."""
    if fast_mode():
        return REPO_ROOT / "build" / "figures-fast"
    if os.environ.get(COURSE_FIGURES_ENV, "0").strip().lower() in _TRUE:
        return ASSETS_DIR / "figures"
    return REPO_ROOT / "build" / "figures"


def in_ci() -> bool:
    """True under continuous integration (``CI=true``): missing data must fail, never skip."""
    return os.environ.get("CI", "").strip().lower() in _TRUE


def pick(full: T, fast: T) -> T:
    """Return ``fast`` in fast mode and ``full`` otherwise.

    Example (a notebook's parameters cell)::

        EPOCHS = pick(full=50, fast=2)
    """
    return fast if fast_mode() else full


def get_device(prefer: str | None = None) -> torch.device:
    """Pick the training device: ``cuda``, then ``mps``, then ``cpu``.

    Args:
        prefer: force a device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``). The
            ``VAE_DEVICE`` environment variable does the same without code changes.
    """
    choice = prefer or os.environ.get("VAE_DEVICE")
    if choice:
        where = f"get_device({prefer!r})" if prefer else f"VAE_DEVICE={choice!r}"
        try:
            device = torch.device(choice)
        except RuntimeError as err:
            raise ConfigError(f"{where} is not a device name: use 'cpu', 'cuda', 'cuda:1' or 'mps' ({err}).") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(
                f"{where} asks for a CUDA GPU, but torch sees none here. Unset it (the course then "
                "picks the best device itself) or set it to 'cpu'."
            )
        if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ConfigError(f"{where} asks for Apple's MPS, which is not available here. Unset it or use 'cpu'.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def threads_label(threads: int) -> str:
    """``"1 thread"``, ``"2 threads"``: how reports name a thread count."""
    return f"{threads} thread{'s' if threads != 1 else ''}"


def describe_device(device: torch.device) -> str:
    """Human-readable device name, e.g. ``'cuda (NVIDIA H100 80GB HBM3)'`` or ``'cpu (2 threads)'``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({threads_label(torch.get_num_threads())})"
    return device.type


def seed_everything(seed: int, deterministic: bool = True) -> torch.Generator:
    """Seed every random number generator the course uses, in one call.

    Sets Python's ``random``, NumPy's global generator, torch's CPU generator and every
    CUDA device's generator.  With ``deterministic=True`` it also sets
    ``torch.backends.cudnn.deterministic = True`` and ``cudnn.benchmark = False``
    (spelled exactly so: a misspelt attribute would be silently created and do nothing).

    Returns:
        A fresh ``torch.Generator`` seeded with ``seed``, for code that wants its own
        stream (batch order, for example) independent of the global one.
    """
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)  # also seeds every CUDA device
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bfloat16 matrix products natively (so bf16 can be faster than float32).

    CUDA: ``torch.cuda.is_bf16_supported()``. x86 CPUs: AVX512-BF16 or AMX tiles (``torch.cpu``'s
    cpuinfo checks). Note ``torch.ops.mkldnn._is_mkldnn_bf16_supported()`` is *not* this test: oneDNN
    reports bf16 "support" on any AVX512-BW/VL/DQ CPU, where it emulates the products (slower than
    float32). ARM CPUs: oneDNN's check, which there means the BF16 extension. Other devices: False.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    import platform

    if platform.machine().lower() in ("x86_64", "amd64", "i686", "x86"):
        cpu = torch.cpu
        return bool(
            getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
            or getattr(cpu, "_is_amx_tile_supported", lambda: False)()
        )
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())

"""Run-wide settings: fast mode, device choice, seeding and project paths.

Every on/off switch (``VAE_FAST``, ``CI``, ``VAE_OFFLINE``, a notebook's ``TRAIN``) is read by :func:`parse_switch`.
Notebooks call :func:`fast_mode` / :func:`pick` in their ``parameters`` cell, so CI (``VAE_FAST=1``) and papermill
shrink a run the same way.
"""

from __future__ import annotations

import os
import random
from importlib import resources
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from .errors import ConfigError

T = TypeVar("T")

_PACKAGE_PARENT = Path(__file__).resolve().parent.parent
#: The course folder, where ``build/`` and data go: the clone (with ``pyproject.toml``), else the working folder.
REPO_ROOT: Path = _PACKAGE_PARENT if (_PACKAGE_PARENT / "pyproject.toml").is_file() else Path.cwd().resolve()
#: Figures and small checkpoints produced by the notebooks.
ASSETS_DIR: Path = REPO_ROOT / "assets"
#: Package data (the zoo's weights, the feature classifier), found through importlib.resources as installed.
PACKAGE_DATA_DIR: Path = Path(str(resources.files(__package__) / "assets"))
#: The repo's own data folder (a download cache; never committed).
REPO_DATA_DIR: Path = REPO_ROOT / "data"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_SPELLINGS = "1/0, true/false, yes/no, on/off (any case)"


def parse_switch(value: object, setting: str, allow_none: bool = False) -> bool | None:
    """An on/off setting as a bool: ``True``/``False``, 1/0, or a string such as ``"false"`` or ``"On"`` (from
    papermill or the environment). With ``allow_none``, ``None`` or ``"none"`` gives ``None``; any other value is a
    :class:`ConfigError` naming ``setting``."""
    if allow_none and (value is None or (isinstance(value, str) and value.strip().lower() == "none")):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
    also = ", or None" if allow_none else ""
    raise ConfigError(f"{setting}={value!r} is not an on/off value: use True or False, or one of {_SPELLINGS}{also}.")


def env_switch(name: str, default: bool = False) -> bool:
    """The on/off environment variable ``name`` through :func:`parse_switch` (unset or empty: ``default``)."""
    raw = os.environ.get(name, "")
    if not raw.strip():
        return default
    try:
        return bool(parse_switch(raw, name))
    except ConfigError:
        raise ConfigError(
            f"{name}={raw!r} (environment variable) is not an on/off value: set it to one of {_SPELLINGS}, "
            f"or unset it (`unset {name}`) for the default ({'on' if default else 'off'})."
        ) from None


def display_path(path: str | Path) -> str:
    """``path`` as a notebook's output shows it, with no local absolute path: relative to the course folder (with
    ``../`` beside it, ``~/`` in the home folder), else unchanged. Error messages keep absolute paths."""
    path = Path(path)
    # Normalised *without* following links first, so a linked data folder shows where the reader put it; the
    # resolved path is the fallback, for a course folder that is itself reached through a link.
    absolute = Path(os.path.normpath(Path.cwd() / path.expanduser()))
    candidates = [absolute]
    try:
        candidates.append(absolute.resolve())
    except OSError:  # an unreadable path is matched as given
        pass
    for candidate in candidates:
        for base, prefix in ((REPO_ROOT, ""), (REPO_ROOT.parent, "../"), (Path.home(), "~/")):
            if candidate == base and prefix == "":
                return "."
            if candidate.is_relative_to(base):
                return prefix + candidate.relative_to(base).as_posix()
    return str(path)


def fast_mode() -> bool:
    """True when ``VAE_FAST`` is on (CI sets it), read at each call; a value like ``2`` is a :class:`ConfigError`."""
    return env_switch("VAE_FAST")


#: Set by ``python -m vae_helpers.tools.course --in-place``: only then do figures go into ``assets/figures/``.
COURSE_FIGURES_ENV = "VAE_UPDATE_COURSE_FIGURES"


def figure_dir() -> Path:
    """Where :func:`vae_helpers.plots.save_figure` writes: ``build/figures-fast`` in fast mode, else the committed
    ``assets/figures`` when :data:`COURSE_FIGURES_ENV` is on, else the git-ignored ``build/figures``."""
    if fast_mode():
        return REPO_ROOT / "build" / "figures-fast"
    if os.environ.get(COURSE_FIGURES_ENV, "0").strip().lower() in _TRUE:
        return ASSETS_DIR / "figures"
    return REPO_ROOT / "build" / "figures"


def in_ci() -> bool:
    """True under continuous integration (``CI=true``): missing data must fail, never skip."""
    return env_switch("CI")


def pick(full: T, fast: T) -> T:
    """Return ``fast`` in fast mode and ``full`` otherwise, e.g. ``EPOCHS = pick(full=50, fast=2)``."""
    return fast if fast_mode() else full


def get_device(prefer: str | None = None) -> torch.device:
    """Pick the training device: ``cuda``, then ``mps``, then ``cpu``. ``prefer``, else ``$VAE_DEVICE``, forces one
    (``"cpu"``, ``"cuda:1"``, ``"mps"``, any case; ``"auto"`` picks); a bad or absent one is a :class:`ConfigError`."""
    given = prefer or os.environ.get("VAE_DEVICE") or ""
    choice = given.strip().lower()
    if choice and choice != "auto":  # "auto" (or unset) picks the best device below
        where = f"get_device({prefer!r})" if prefer else f"VAE_DEVICE={given!r}"
        try:
            device = torch.device(choice)
        except RuntimeError:
            raise ConfigError(
                f"{where} is not a device name: use 'cpu', 'cuda', 'cuda:1', 'mps' or 'auto' (the best one here)."
            ) from None
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
    """Seed Python's, NumPy's and torch's global generators (``deterministic``: cuDNN too); return a fresh
    ``torch.Generator`` seeded with ``seed``, a stream of its own (e.g. for the batch order)."""
    check_seed(seed, f"seed_everything(seed={seed!r})")
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


def check_seed(seed: object, setting: str) -> int:
    """``seed`` if it is a whole number (not a bool, a string or None); else a :class:`ConfigError` naming ``setting``."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(
            f"{setting}: the seed must be a whole number such as 0 or 1234, got {seed!r} ({type(seed).__name__}). "
            "Write seed=0, not seed='0' or seed=None: the same seed gives the same run."
        )
    return seed


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bfloat16 matrix products natively (so bf16 can be faster than float32); on x86,
    AVX512-BF16 or AMX, not oneDNN's check, which is also true where it only emulates bf16."""
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

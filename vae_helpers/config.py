"""Run-wide settings: fast mode, device choice, seeding and project paths.

Every on/off switch (``VAE_FAST``, ``CI``, ``VAE_OFFLINE`` in the environment; ``TRAIN`` in the notebooks'
parameters cells, which papermill may hand over as a string) is read by :func:`parse_switch`: it accepts the
spellings people use and refuses anything else by name. This is the *only* module that reads ``VAE_FAST``.  Notebooks call
:func:`fast_mode` / :func:`pick` in their single ``parameters`` cell, so CI (which
sets ``VAE_FAST=1``) and papermill (which can override that cell) both shrink a run
through the same door.
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
#: The course folder: the repository (the folder holding ``pyproject.toml``) when the package runs from a clone;
#: when it is installed (``pip install .``, the student kit) the folder the notebooks run in, so that ``build/``
#: (figures, checkpoints, caches) and downloaded data land beside the notebooks, never inside site-packages.
REPO_ROOT: Path = _PACKAGE_PARENT if (_PACKAGE_PARENT / "pyproject.toml").is_file() else Path.cwd().resolve()
#: Figures and small checkpoints produced by the notebooks.
ASSETS_DIR: Path = REPO_ROOT / "assets"
#: Data the package itself reads (the zoo's weights, the feature classifier): package data, found through
#: importlib.resources so that an installed package (``pip install .``, not only ``-e``) finds it too.
PACKAGE_DATA_DIR: Path = Path(str(resources.files(__package__) / "assets"))
#: The repo's own data folder (a download cache; never committed).
REPO_DATA_DIR: Path = REPO_ROOT / "data"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_SPELLINGS = "1/0, true/false, yes/no, on/off (any case)"


def parse_switch(value: object, setting: str, allow_none: bool = False) -> bool | None:
    """An on/off setting as a bool: ``True``/``False``, 1/0, or a string such as ``"false"`` or ``"On"``.

    A string is what papermill passes for ``-p TRAIN false`` and what an environment variable holds; a plain
    ``bool("False")`` would be True. ``allow_none``: ``None`` (or the string ``"none"``) is a third state and
    comes back as ``None``.

    Raises:
        ConfigError: any other value, naming ``setting``, the value and the accepted spellings.
    """
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
    """``path`` as a reader should see it in a notebook's output: relative to the course folder.

    Committed outputs must not carry the machine that ran them (``/home/alice/...``): a path inside
    the repository is shown relative to it (``assets/figures/x.png``), one beside it relative to it
    (``../shared/data/celeba``), one in the home folder with ``~``; anything else unchanged. Error
    messages keep absolute paths, which a reader may need to act on.
    """
    path = Path(path)
    # Made absolute and normalised (".." removed) *without* following symbolic links first: a data folder reached
    # through a link inside the course folder is shown where the reader put it, not where the link points. The
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
    """True when ``VAE_FAST`` is set to 1/true/yes/on (CI sets it); 0/false/no/off or unset: False.

    Any other value is a :class:`ConfigError` (``VAE_FAST=2`` must not quietly mean a full-size run).
    Read at call time, not import time, so a test or a notebook can flip it.
    """
    return env_switch("VAE_FAST")


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
    return env_switch("CI")


def pick(full: T, fast: T) -> T:
    """Return ``fast`` in fast mode and ``full`` otherwise.

    Example (a notebook's parameters cell)::

        EPOCHS = pick(full=50, fast=2)
    """
    return fast if fast_mode() else full


def get_device(prefer: str | None = None) -> torch.device:
    """Pick the training device: ``cuda``, then ``mps``, then ``cpu``.

    Args:
        prefer: force a device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``; any case; ``"auto"`` picks).
            The ``VAE_DEVICE`` environment variable does the same without code changes.
    """
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
    """Seed every random number generator the course uses, in one call.

    Sets Python's ``random``, NumPy's global generator, torch's CPU generator and every
    CUDA device's generator.  With ``deterministic=True`` it also sets
    ``torch.backends.cudnn.deterministic = True`` and ``cudnn.benchmark = False``
    (spelled exactly so: a misspelt attribute would be silently created and do nothing).

    Returns:
        A fresh ``torch.Generator`` seeded with ``seed``, for code that wants its own
        stream (batch order, for example) independent of the global one.
    """
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

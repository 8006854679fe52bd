"""The zoo's weights files: safetensors (loading one never runs code) with the model's record as JSON metadata.

Also the loading of the float16 weights (written by :mod:`vae_helpers.tools.weights`) and the checks of a file against
its manifest entry and recipe.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from . import __version__
from .atomic import atomic_write_bytes
from .config import display_path
from .errors import CheckpointError
from .models import BaseVAE
from .run_state import FitResult
from .zoo_recipes import recipe, recipe_record

#: Version of the weights file format (safetensors with JSON metadata); files of a newer version are refused.
FILE_FORMAT = 2
SUFFIX = ".safetensors"
#: Keys every manifest entry must have (what :func:`~vae_helpers.zoo.load` reads).
ENTRY_KEYS = ("file", "sha256", "model", "epochs_run")
RETRAIN_HINT = "retrain it with `make weights NAMES={name}` (python -m vae_helpers.tools.weights {name})"


def write_file(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
    """Write ``tensors`` and ``metadata`` (JSON-able values) to ``path`` as safetensors, atomically."""
    tensors = {key: value.detach().cpu().contiguous() for key, value in tensors.items()}
    data = safetensors_bytes(tensors, metadata={key: json.dumps(value) for key, value in metadata.items()})
    atomic_write_bytes(path, data)


def read_file(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(tensors, metadata)`` of a weights file; a foreign, cut or damaged file raises :class:`CheckpointError`."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            raw = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        metadata = {key: json.loads(value) for key, value in raw.items()}
    except (SafetensorError, OSError, ValueError) as err:  # ValueError: metadata that is not JSON
        raise CheckpointError(
            f"{path} is not a readable vae_helpers weights file (safetensors with JSON metadata): {err}. "
            "Restore it (git checkout, or reinstall vae_helpers) or retrain it with `make weights`."
        ) from err
    return tensors, metadata


def sha256(path: Path) -> str:
    """Hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_metadata(name: str, model: BaseVAE, run: FitResult, packed: list[str]) -> dict[str, Any]:
    """What a weights file records besides its tensors: plain data only, stored as JSON strings."""
    return {
        "format": FILE_FORMAT,
        "package_version": __version__,
        "name": name,
        "model_class": type(model).__name__,
        "model_config": model.config(),
        "recipe": recipe_record(recipe(name)),
        "packed": packed,
        "training": {
            "history": run.history,
            "best_epoch": run.best_epoch,
            "best_val": run.best_val,
            "stopped": run.stopped,
            "device": run.device,
        },
    }


def load_stored(model: BaseVAE, stored: dict[str, torch.Tensor], packed: list[str]) -> None:
    """Load stored tensors into ``model`` (inverse of ``tools.weights.state_to_store``): masks come from the model,
    and each ``packed`` weight is scattered back into the zeros its mask leaves."""
    state = model.state_dict()
    full = {}
    for key, target in state.items():
        if key.endswith("mask"):
            full[key] = target
        elif key in packed:
            weight = torch.zeros_like(target)
            weight[state[key.rsplit(".", 1)[0] + ".mask"].bool()] = stored[key].to(target.dtype)
            full[key] = weight
        else:
            full[key] = stored[key].to(target.dtype)
    model.load_state_dict(full)


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over the tensors' names, dtypes, shapes and bytes (the retrain cache's check, which has no manifest)."""
    digest = hashlib.sha256()
    for key in sorted(tensors):
        value = tensors[key].detach().cpu().contiguous()
        digest.update(f"{key}|{value.dtype}|{tuple(value.shape)}|".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def restore_hint(path: Path) -> str:
    """How to get a committed zoo file back: ``git checkout`` in a clone, or reinstall the package."""
    return f"`git checkout -- {display_path(path)}` in a clone of the course, or reinstall vae_helpers"


def check_entry(name: str, info: Any, manifest: Path) -> None:
    """Raise :class:`CheckpointError` unless ``info`` is a dict with every key of :data:`ENTRY_KEYS`."""
    if not isinstance(info, dict):
        raise CheckpointError(
            f"The zoo manifest's entry {name!r} ({manifest}) is {type(info).__name__}, not a JSON object: restore "
            f"the manifest ({restore_hint(manifest)}), or {RETRAIN_HINT.format(name=name)}."
        )
    missing = [key for key in ENTRY_KEYS if key not in info]
    if missing:
        raise CheckpointError(
            f"The zoo manifest's entry {name!r} ({manifest}) lacks {', '.join(map(repr, missing))} (every entry needs "
            f"{', '.join(ENTRY_KEYS)}): the manifest was edited by hand or cut. Restore it "
            f"({restore_hint(manifest)}), or {RETRAIN_HINT.format(name=name)}, which rewrites the entry."
        )


def check_record(name: str, info: dict[str, Any], path: Path, metadata: dict[str, Any], manifest: Path) -> None:
    """Raise :class:`CheckpointError` unless the file's record (format, name, config) fits the entry and the recipe."""
    fix = f"Restore the manifest and the file ({restore_hint(manifest)}), or {RETRAIN_HINT.format(name=name)}."
    if metadata.get("format", 0) > FILE_FORMAT:
        raise CheckpointError(
            f"{path} has zoo format {metadata['format']}; this package reads {FILE_FORMAT}. "
            "Update the course (git pull, then make setup)."
        )
    recorded = metadata.get("name")
    if recorded != name:
        raise CheckpointError(
            f"The zoo manifest's entry {name!r} points at {path.name}, but that file holds {recorded!r}: the manifest "
            f"was edited or mixed up, and loading it would give another model under this name. {fix}"
        )
    config = metadata.get("model_config")
    wanted = recipe(name).model
    if (
        config != info["model"]
        or metadata.get("model_class") != wanted["name"]
        or any(config.get(key) != value for key, value in wanted.items())
    ):
        raise CheckpointError(
            f"{path.name} records the model {metadata.get('model_class')!r} {config}, but the manifest entry "
            f"{name!r} says {info['model']} and its recipe {wanted}: they must agree. {fix}"
        )

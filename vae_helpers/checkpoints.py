"""Safe checkpoints: atomic writes, ``weights_only`` loads (opening one never runs code), clear messages.

A checkpoint is a dict of tensors and plain values: ``format``, ``package_version``, ``model_config``,
``model_state`` (the *best* weights) and, from fit, ``best_epoch``, ``best_val``, ``history``, ``train_config``
and ``resume`` (last weights, optimiser, counters and RNG state).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .atomic import atomic_torch_save
from .errors import CheckpointError, CheckpointNotFoundError
from .models import BaseVAE, build_model

CHECKPOINT_FORMAT = 1


def save_checkpoint(
    path: str | os.PathLike, model: BaseVAE, state: dict[str, torch.Tensor] | None = None, **extra: Any
) -> None:
    """Write ``model``'s config with its weights (or ``state``) plus ``extra`` fields to ``path``, atomically: a
    failed write leaves the old file (an ``OSError`` becomes a :class:`CheckpointError`)."""
    state = model.state_dict() if state is None else state
    payload = {
        "format": CHECKPOINT_FORMAT,
        "package_version": __version__,
        "model_config": model.config(),
        "model_state": {k: v.detach().cpu() for k, v in state.items()},
        **extra,
    }
    path = Path(path)
    try:
        atomic_torch_save(payload, path)
    except OSError as err:  # disk full, read-only folder, no permission
        previous = "The previous file there is untouched." if path.exists() else "Nothing was written."
        raise CheckpointError(
            f"Could not write the checkpoint {path}: {err.strerror or err}. {previous} Free disk "
            "space or choose a writable folder (checkpoint=...), then run again."
        ) from err


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint dict with ``weights_only=True``; clear errors for missing, empty, damaged,
    foreign and newer-format files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(f"No checkpoint at {path}. Train the model first (fit(..., checkpoint=...)).")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(
            f"Checkpoint {path} is empty (0 bytes): a save was cut off before it began, or the file "
            "was created by hand. Delete it and train again."
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, bad pickle, or a file with code in it
        first_line = (str(err).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(
            f"Checkpoint {path} ({size:,} bytes) is truncated, corrupt or not a safe weights-only "
            f"checkpoint ({type(err).__name__}: {first_line}). Delete it and train again."
        ) from err
    if not isinstance(payload, dict) or "model_state" not in payload or "model_config" not in payload:
        raise CheckpointError(
            f"{path} is not a course checkpoint (no model_state/model_config); it may be a bare "
            "state_dict: load that with model.load_state_dict(torch.load(path, weights_only=True))."
        )
    version = payload.get("format")
    if version is None:
        raise CheckpointError(
            f"{path} has model_state and model_config but no `format` field, so it was not written by "
            "save_checkpoint or fit(..., checkpoint=...) (perhaps a dict saved by hand with torch.save). Save it "
            "with vae_helpers.checkpoints.save_checkpoint(path, model), or load its weights yourself with "
            "model.load_state_dict(torch.load(path, weights_only=True)['model_state'])."
        )
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(
            f"{path} has format {version!r}, but a course checkpoint's format is a whole number (this vae_helpers "
            f"writes {CHECKPOINT_FORMAT}): the file was edited or written by other code. Save it again with "
            "vae_helpers.checkpoints.save_checkpoint(path, model), or retrain the model."
        )
    if version > CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"Checkpoint {path} has format {version!r}, written by vae_helpers "
            f"{payload.get('package_version', '?')}; this vae_helpers ({__version__}) reads format "
            f"{CHECKPOINT_FORMAT} and older. Update the course (git pull, then make setup), or "
            "retrain the model with this version."
        )
    return payload


def load_into(
    model: BaseVAE, state: dict[str, torch.Tensor], saved_config: dict[str, Any], path: str | os.PathLike = ""
) -> None:
    """Load ``state`` into ``model``, naming every mismatch if the architectures differ."""
    current = model.state_dict()
    problems = []
    for key in sorted(set(state) | set(current)):
        if key not in current:
            problems.append(f"  {key}: in the checkpoint, not in the model")
        elif key not in state:
            problems.append(f"  {key}: in the model, not in the checkpoint")
        elif tuple(state[key].shape) != tuple(current[key].shape):
            problems.append(f"  {key}: checkpoint {list(state[key].shape)} vs model {list(current[key].shape)}")
    if problems:
        raise CheckpointError(
            f"Checkpoint {path} does not fit this model.\n"
            f"  saved from: {saved_config}\n  model is:   {model.config()}\n"
            + "\n".join(problems[:12])
            + ("\n  ..." if len(problems) > 12 else "")
            + "\nBuild the model with the saved config (load_checkpoint(path) does this) or retrain."
        )
    model.load_state_dict(state)


def load_checkpoint(
    path: str | os.PathLike, model: BaseVAE | None = None, device: torch.device | str | None = None
) -> tuple[BaseVAE, dict[str, Any]]:
    """Load the best weights of a checkpoint; returns ``(model, checkpoint dict)``, the model in eval mode.

    ``model`` (same architecture) is loaded into if given, else rebuilt from the saved config; ``device``: move it.
    """
    payload = read_checkpoint(path)
    if model is None:
        try:
            model = build_model(payload["model_config"])
        except (TypeError, ValueError) as err:
            raise CheckpointError(
                f"Cannot rebuild the model saved in {path} from its config {payload['model_config']}: {err}"
            ) from err
    load_into(model, payload["model_state"], payload["model_config"], path)
    if device is not None:
        model.to(device)
    return model.eval(), payload

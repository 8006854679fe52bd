"""What :func:`vae_helpers.training.fit` keeps between epochs (:class:`TrainState`), saves and resumes from a
checkpoint, prints (:class:`EpochLog`) and returns (:class:`FitResult`).
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from .checkpoints import load_into, read_checkpoint, save_checkpoint
from .config import describe_device, display_path, get_device
from .errors import CheckpointError, CheckpointNotFoundError, TrainingDivergedError
from .evaluation import Metrics
from .models import BaseVAE

#: The per-epoch lists of :attr:`FitResult.history` (nats per image, seconds).
HISTORY_KEYS = ("epoch", "beta", "train_loss", "train_recon", "train_kl", "val_loss", "val_recon", "val_kl", "seconds")
#: Settings that define the objective: a resumed run must use the same values (see :meth:`TrainState.load`).
OBJECTIVE_FIELDS = ("batch_size", "beta", "free_bits", "likelihood", "sigma", "binarize")


@dataclass
class FitResult:
    """What :func:`fit` returns: per-epoch ``history`` under :data:`HISTORY_KEYS`, ``best_epoch`` (1-based; the
    model holds its weights) and its validation loss ``best_val``, where it trained (``device``), and ``stopped``:
    ``"completed"``, ``"early_stopping"``, ``"interrupted"`` or ``"loaded"`` (from :func:`load_finished_run`).
    """

    history: dict[str, list[float]]
    best_epoch: int
    best_val: float
    stopped: str
    device: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds_per_epoch(self) -> float:
        s = self.history["seconds"]
        return sum(s) / max(1, len(s))


@dataclass
class TrainState:
    """Everything about a run that is not the model or the optimiser: ``epoch`` (epochs completed), ``best_epoch``
    (1-based; 0: none yet), ``stale`` (epochs since the last improvement, compared with ``patience``) and
    ``saved_epoch`` (what the checkpoint on disk holds; ``None``: none written or loaded)."""

    best_weights: dict[str, torch.Tensor]
    epoch: int = 0
    best_epoch: int = 0
    best_val: float = math.inf
    stale: int = 0
    history: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in HISTORY_KEYS})
    saved_epoch: int | None = None

    @classmethod
    def start(cls, model: BaseVAE) -> TrainState:
        return cls(best_weights=copy.deepcopy(model.state_dict()))

    def end_epoch(self, epoch: int, train: dict[str, float], val: Metrics, seconds: float, model: BaseVAE) -> None:
        """Record epoch ``epoch`` (0-based) in the history; keep the weights if its validation loss is the best."""
        row = {
            "epoch": epoch + 1,
            "beta": train["beta"],
            "train_loss": train["loss"],
            "train_recon": train["recon"],
            "train_kl": train["kl"],
            "val_loss": val.loss,
            "val_recon": val.recon,
            "val_kl": val.kl,
            "seconds": seconds,
        }
        for key in HISTORY_KEYS:
            self.history[key].append(float(row[key]))
        self.epoch = epoch + 1
        if val.loss < self.best_val:
            self.best_val, self.best_epoch, self.stale = val.loss, self.epoch, 0
            self.best_weights = copy.deepcopy(model.state_dict())
        else:
            self.stale += 1

    def interrupted_message(self, checkpoint: str | os.PathLike | None) -> str:
        """What an interrupt keeps, and where a checkpoint is (never one that was not written)."""
        if self.saved_epoch is not None:
            where = f"the checkpoint {checkpoint} holds epoch {self.saved_epoch}; fit(..., resume=True) continues there"
        elif checkpoint is not None:
            where = f"no checkpoint was written yet (one is written at the end of each epoch, to {checkpoint})"
        else:
            where = "no checkpoint was set"
        return (
            f"\nInterrupted during epoch {self.epoch + 1}: keeping the best weights "
            f"(epoch {self.best_epoch or 'none: the initial weights'}); {where}."
        )

    def explained(self, err: TrainingDivergedError, checkpoint: str | os.PathLike | None) -> TrainingDivergedError:
        """The divergence error completed with what was kept."""
        kept = (
            f"The last good checkpoint ({checkpoint}, epoch {self.saved_epoch}) is intact."
            if self.saved_epoch
            else "No checkpoint was set."
            if checkpoint is None
            else "No checkpoint was written yet."
        )
        return TrainingDivergedError(f"{err} The model was reset to its best weights (epoch {self.best_epoch}). {kept}")

    def save(
        self,
        path: str | os.PathLike,
        model: BaseVAE,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        settings: dict[str, Any],
    ) -> None:
        """Save the best weights (what :func:`~vae_helpers.checkpoints.load_checkpoint` loads) and the resume state."""
        save_checkpoint(
            path,
            model,
            state=self.best_weights,
            best_epoch=self.best_epoch,
            best_val=self.best_val,
            history=self.history,
            train_config=settings,
            resume={
                "model_state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                "optimizer_state": optimizer.state_dict(),
                "epoch": self.epoch,
                "stale": self.stale,
                "generator_state": generator.get_state(),
                "torch_rng_state": torch.get_rng_state(),
            },
        )
        self.saved_epoch = self.epoch

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        model: BaseVAE,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        settings: dict[str, Any],
    ) -> TrainState:
        """Restore a run from its checkpoint into ``model``, ``optimizer``, ``generator`` and torch's global RNG.

        ``settings`` is ``TrainConfig.to_dict()``: its ``lr`` replaces the saved one, ``epochs`` and ``patience`` may
        change, and the :data:`OBJECTIVE_FIELDS` must match the saved run (else a :class:`CheckpointError`).
        """
        if not Path(path).is_file():
            raise CheckpointNotFoundError(
                f"resume=True but there is no checkpoint at {path}; train once without resume."
            )
        payload = read_checkpoint(path)
        resume = payload.get("resume")
        if not isinstance(resume, dict) or not {"model_state", "optimizer_state", "epoch"} <= set(resume):
            raise CheckpointError(
                f"Checkpoint {path} holds weights but no resume state (it was saved by save_checkpoint "
                "or another tool, not by fit). Load its weights with load_checkpoint(path), or "
                "start a new run with resume=False and another checkpoint path."
            )
        saved = payload.get("train_config") or {}
        now = settings
        differs = [
            f"{k}: checkpoint {saved[k]!r}, now {now[k]!r}"
            for k in OBJECTIVE_FIELDS
            if k in saved and saved[k] != now[k] and not _is_function_beta(saved[k], now[k])
        ]
        if differs:
            raise CheckpointError(
                f"Cannot resume {path} with a different objective: " + "; ".join(differs) + ". "
                "Resume with the saved settings, or start a new run (resume=False) with another "
                "checkpoint path."
            )
        load_into(model, payload["model_state"], payload["model_config"], path)
        state = cls(
            best_weights=copy.deepcopy(model.state_dict()),
            epoch=int(resume["epoch"]),
            best_epoch=int(payload["best_epoch"]),
            best_val=float(payload["best_val"]),
            stale=int(resume.get("stale", 0)),
            history={k: list(v) for k, v in payload["history"].items()},
            saved_epoch=int(resume["epoch"]),
        )
        load_into(model, resume["model_state"], payload["model_config"], path)
        optimizer.load_state_dict(resume["optimizer_state"])
        saved_lr = optimizer.param_groups[0]["lr"]
        for group in optimizer.param_groups:
            group["lr"] = settings["lr"]
        if saved_lr != settings["lr"] and settings["progress"]:
            print(
                f"Resuming {display_path(path)} at epoch {state.epoch} with lr={settings['lr']:g} (the saved run used lr={saved_lr:g})."
            )
        generator.set_state(resume["generator_state"])
        torch.set_rng_state(resume["torch_rng_state"])
        return state


class EpochLog:
    """What :func:`fit` shows: a progress bar and one line per epoch (both off with ``TrainConfig(progress=False)``)."""

    def __init__(self, model: BaseVAE, config: Any, device: torch.device, start: int) -> None:
        self.config = config
        self.bar = tqdm(
            total=config.epochs,
            initial=start,
            unit="epoch",
            disable=not config.progress,
            desc=f"{type(model).__name__} on {describe_device(device)}",
        )
        if start >= config.epochs and config.progress:
            print(f"Nothing to train: the run already has {start} of {config.epochs} epochs.")

    def epoch(self, state: TrainState, train: dict[str, float], val: Metrics) -> None:
        self.bar.update(1)
        if self.config.progress:
            self.bar.set_postfix(train=f"{train['loss']:.2f}", val=f"{val.loss:.2f}")
            tqdm.write(
                f"epoch {state.epoch:3d}/{self.config.epochs}  train {train['loss']:8.2f} (recon "
                f"{train['recon']:7.2f}, KL {train['kl']:6.2f})  val {val.loss:8.2f}  beta "
                f"{train['beta']:.2f}  {state.history['seconds'][-1]:.1f}s"
            )

    def close(self) -> None:
        self.bar.close()


def load_finished_run(
    path: str | os.PathLike, model: BaseVAE, config: Any, device: torch.device | str | None = None
) -> FitResult | None:
    """The run at ``path``, loaded into ``model`` (best weights, eval mode), if fit wrote it with the settings of
    ``config`` (a TrainConfig; ``progress`` aside); else ``None``, so the caller trains again."""
    if not Path(path).is_file():
        return None
    payload = read_checkpoint(path)
    saved = {k: v for k, v in (payload.get("train_config") or {}).items() if k != "progress"}
    if saved != {k: v for k, v in config.to_dict().items() if k != "progress"}:
        print(f"{display_path(path)} was trained with other settings; training again.")
        return None
    load_into(model, payload["model_state"], payload["model_config"], path)
    model.to(get_device(str(device) if device is not None else None)).eval()
    return FitResult(
        {k: list(v) for k, v in payload["history"].items()},
        int(payload["best_epoch"]),
        float(payload["best_val"]),
        "loaded",
        f"{describe_device(model.device)} (loaded from {display_path(path)})",
    )


def _is_function_beta(*values: Any) -> bool:
    """A schedule function is stored by its repr, which names a memory address: it cannot be compared."""
    return any(isinstance(v, dict) and "function" in v for v in values)

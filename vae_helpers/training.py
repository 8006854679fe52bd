"""One training loop for every model in the course: :func:`fit`.

Read it top to bottom: :class:`TrainConfig` (every setting, validated in one place), the
objective of one batch (:func:`make_objective`), :func:`train_step` (the 5 lines every PyTorch
training loop has), :func:`train_epoch`, :class:`TrainState` (best weights, patience, history and
the random state, saved to and loaded from a checkpoint), and :func:`fit`, the epoch loop.

Failure handling: a non-finite training or validation loss stops training with the epoch and
step and a suggestion; a KeyboardInterrupt (Jupyter's "interrupt kernel") stops cleanly and keeps
the best weights; ``fit(..., resume=True)`` continues from the checkpoint with the history kept,
using the learning rate it is given; an existing checkpoint is never overwritten silently.
"""

from __future__ import annotations

import copy
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from tqdm.auto import tqdm

from .checkpoints import load_into, read_checkpoint, save_checkpoint
from .config import describe_device, display_path, get_device, native_bf16, seed_everything
from .data import ImageDataset, ImageSplit
from .errors import (
    CheckpointError,
    CheckpointNotFoundError,
    ConfigError,
    PerformanceWarning,
    TrainingDivergedError,
)
from .evaluation import LossFn, Metrics, check_fits, check_loss_terms, evaluate
from .losses import LIKELIHOODS, Beta, KLSchedule, Likelihood, LossTerms, check_beta, model_objective
from .models import BaseVAE
from .validation import check_fit_arguments, check_train_config

__all__ = [
    "TrainConfig",
    "FitResult",
    "TrainState",
    "fit",
    "train_model",
    "train_step",
    "train_epoch",
    "make_objective",
    "make_optimizer",
    "steps_per_epoch",
    "TrainingDivergedError",
    "LossFn",
    "HISTORY_KEYS",
]

Precision = Literal["fp32", "bf16", "auto"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "auto")
HISTORY_KEYS = ("epoch", "beta", "train_loss", "train_recon", "train_kl", "val_loss", "val_recon", "val_kl", "seconds")
#: Settings that define the objective: a resumed run must use the same values (see :meth:`TrainState.load`).
OBJECTIVE_FIELDS = ("batch_size", "beta", "free_bits", "likelihood", "sigma", "binarize")


@dataclass
class TrainConfig:
    """Settings of :func:`fit`, each validated when the config is made (a :class:`ConfigError` names it).

    Attributes:
        epochs: passes over the training split (>= 1).
        batch_size: images per step (128, as in pytorch/examples).
        lr: Adam learning rate (> 0).
        beta: the KL weight, in one way only: a number (>= 0; 1 gives the ELBO), a
            :class:`~vae_helpers.losses.KLSchedule` (linear warm-up, cyclical), or any function
            ``step -> beta`` of the 0-based optimisation step (a KL-annealing schedule of your own).
            Validation and early stopping use :attr:`validation_beta` (the number, a KLSchedule's
            plateau, or 1 for a function).
        free_bits: nats per latent dimension that are not penalised (0 disables).
        likelihood: ``"bernoulli"`` (BCE with logits) or ``"gaussian"``.
        sigma: standard deviation of the Gaussian likelihood (> 0).
        binarize: dynamic binarization of training batches (resampled every epoch).
        patience: stop after this many epochs without a validation improvement (None: never).
        seed: passed to :func:`seed_everything` at the start (and used for batch order).
        progress: show a tqdm bar and one line per epoch.
        precision: ``"fp32"`` (default) or ``"bf16"``: mixed precision for the *training* forward
            pass. With ``"bf16"`` the model's ``encode`` and decoder run under
            ``torch.autocast(dtype=torch.bfloat16)`` (matrix products in bfloat16 with float32
            accumulation), their outputs are cast back to float32, and the sampling of z, the
            reconstruction sum over pixels, the KL and the optimiser (weights and Adam moments)
            stay float32; validation is float32. Worth it on CPUs with native bfloat16
            (AVX512-BF16 / AMX: the 128 x 784 x 400 products of the MLP VAE run about 3.5x faster on 2 cores) and on
            CUDA GPUs that support it; on other devices (MPS) fit warns and trains in float32.
            Only fit's built-in objective supports it (not ``loss_fn``). ``"auto"``: ``"bf16"`` only
            where the device computes bfloat16 natively (:func:`vae_helpers.config.native_bf16`) *and*
            the benchmark measured a gain, else ``"fp32"``: CUDA GPUs with bf16, and AVX512-BF16/AMX
            CPUs (on a 2-core AVX512-BF16 EPYC, quiet: the MLP VAE's step 1.21-1.25x faster and its
            10-epoch run 1.20x at +0.07 nats of test loss, the conv VAE's step 1.58x). Emulated bf16
            (CPUs without it) ran 10x slower, so it is never chosen there.
            ``python -m vae_helpers.tools.bench steps`` measures both on a machine.
    """

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    beta: Beta = 1.0
    free_bits: float = 0.0
    likelihood: Likelihood = "bernoulli"
    sigma: float = 1.0
    binarize: bool = False
    patience: int | None = None
    seed: int = 0
    progress: bool = True
    precision: Precision = "fp32"

    def __post_init__(self) -> None:
        check_train_config(self)
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"TrainConfig.{name}={value!r}: it must be a whole number >= 1.")
        if self.patience is not None and (
            isinstance(self.patience, bool) or not isinstance(self.patience, int) or self.patience < 1
        ):
            raise ConfigError(
                f"TrainConfig.patience={self.patience!r}: use a whole number >= 1, or None to never stop early."
            )
        for name in ("lr", "sigma"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"TrainConfig.{name}={value!r}: it must be a finite number > 0.")
        if not isinstance(self.free_bits, (int, float)) or not math.isfinite(self.free_bits) or self.free_bits < 0:
            raise ConfigError(
                f"TrainConfig.free_bits={self.free_bits!r}: nats per dimension, a finite number >= 0 "
                "(0 disables free bits)."
            )
        if not callable(self.beta):
            check_beta(self.beta, "TrainConfig.beta")
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"TrainConfig.likelihood={self.likelihood!r}; use one of {', '.join(LIKELIHOODS)}.")
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"Unknown precision {self.precision!r}; use 'fp32' (default), 'bf16' "
                "(bfloat16 autocast for the training forward pass) or 'auto' (bf16 where the hardware has it natively)."
            )

    def beta_at(self, step: int) -> float:
        """The KL weight at optimisation step ``step`` (0-based); a schedule's bad value is a ConfigError."""
        if not callable(self.beta):
            return float(self.beta)
        return check_beta(self.beta(step), f"TrainConfig.beta (a schedule) at step {step}")

    @property
    def validation_beta(self) -> float:
        """The KL weight of the validation loss: the number itself, a :class:`KLSchedule`'s plateau, or 1
        (the ELBO) for a schedule function, which declares no plateau."""
        if isinstance(self.beta, KLSchedule):
            return self.beta.final_beta
        return 1.0 if callable(self.beta) else float(self.beta)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the checkpoint (a schedule function is stored by its ``repr``)."""
        values = asdict(self)
        if isinstance(self.beta, KLSchedule):
            values["beta"] = {"schedule": asdict(self.beta)}
        elif callable(self.beta):
            values["beta"] = {"function": repr(self.beta)}
        return values


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimisation steps in one epoch (the last batch may be smaller): what a KL schedule counts in."""
    return math.ceil(n_train / batch_size)


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes:
        history: per-epoch lists under :data:`HISTORY_KEYS` (nats per image, seconds).
        best_epoch: epoch (1-based) with the lowest validation loss; the model holds its weights.
        best_val: that validation loss.
        stopped: ``"completed"``, ``"early_stopping"`` or ``"interrupted"``.
        device: where it trained.
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


# --------------------------------------------------------------------------------------------
# One batch, one step, one epoch
# --------------------------------------------------------------------------------------------
#: The objective of one batch: ``objective(model, x, y, beta) -> LossTerms``.
Objective = Callable[[BaseVAE, torch.Tensor, torch.Tensor, float], LossTerms]


def make_objective(
    config: TrainConfig, loss_fn: LossFn | None = None, autocast_dtype: torch.dtype | None = None
) -> Objective:
    """The batch objective :func:`fit` trains with: ``loss_fn`` (checked) if given, else the negative
    ELBO of :func:`~vae_helpers.losses.model_objective` with the config's likelihood and free bits."""
    if loss_fn is not None:
        return lambda model, x, y, beta: check_loss_terms(loss_fn(model, x, y, beta), len(x))
    return lambda model, x, y, beta: model_objective(
        model, x, y, beta, config.likelihood, config.free_bits, config.sigma, autocast_dtype=autocast_dtype
    )


def train_step(
    model: BaseVAE,
    optimizer: torch.optim.Optimizer,
    objective: Objective,
    x: torch.Tensor,
    y: torch.Tensor,
    beta: float,
) -> LossTerms:
    """One optimisation step on the batch ``x`` ``[B x C x H x W]`` (labels ``y`` ``[B]``)."""
    terms = objective(model, x, y, beta)  # encode, sample z, decode, score: loss = recon + beta * KL
    optimizer.zero_grad(set_to_none=True)
    terms.loss.backward()
    optimizer.step()
    return terms


def train_epoch(
    model: BaseVAE,
    split: ImageSplit,
    optimizer: torch.optim.Optimizer,
    objective: Objective,
    config: TrainConfig,
    epoch: int,
    generator: torch.Generator,
    device: torch.device,
) -> dict[str, float]:
    """One pass over ``split`` in shuffled batches: mean loss, recon and KL (nats per image) and the last beta.

    Raises :class:`TrainingDivergedError` at the first non-finite loss (checked without a device
    sync on every step: each step on the CPU, every 50 steps on a GPU, and at the end).
    """
    model.train()
    n_steps = steps_per_epoch(len(split), config.batch_size)
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    first_bad = torch.full((), -1, dtype=torch.long, device=device)
    beta = math.nan
    batches = split.batches(
        config.batch_size, shuffle=True, generator=generator, device=device, binarize=config.binarize
    )
    for step, (x, y) in enumerate(batches):
        beta = config.beta_at(epoch * n_steps + step)
        terms = train_step(model, optimizer, objective, x, y, beta)
        loss = terms.loss.detach()
        first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss), step, first_bad)
        sums += torch.stack([loss, terms.recon.detach(), terms.kl.detach()]).double() * len(x)
        if device.type == "cpu" or step % 50 == 49 or step == n_steps - 1:
            bad_step = int(first_bad.item())
            if bad_step >= 0:
                raise TrainingDivergedError(
                    f"The loss became NaN or infinite at epoch {epoch + 1}, step {bad_step + 1} (lr={config.lr:g}). "
                    f"Lower the learning rate (try lr={config.lr / 10:g}) or check the inputs are in [0, 1]."
                )
    loss, recon, kl = (sums / len(split)).tolist()
    return {"loss": loss, "recon": recon, "kl": kl, "beta": beta}


def uses_channels_last(model: BaseVAE, device: torch.device) -> bool:
    """Train a model with 2-D convolutions in the channels-last layout on CPU: oneDNN's convolutions run
    faster on NHWC (the conv VAE's step 1.21x faster on a 2-core EPYC, ``python -m vae_helpers.tools.bench
    steps``). Only the layout changes, not the arithmetic, so results differ by float32 rounding alone."""
    return device.type == "cpu" and _has_convolutions(model)


def _has_convolutions(model: nn.Module) -> bool:
    return any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in model.modules())


def _channels_last_inputs(objective: Objective) -> Objective:
    def channels_last_objective(model: BaseVAE, x: torch.Tensor, y: torch.Tensor, beta: float) -> LossTerms:
        return objective(model, x.contiguous(memory_format=torch.channels_last), y, beta)

    return channels_last_objective


def _match_optimizer_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give each optimiser state tensor its parameter's memory layout. Adam's fused kernel walks the
    parameter, its gradient and its moments as flat memory, so moments saved from a contiguous run and
    resumed into a channels-last one (or back) would update the wrong elements."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            state = optimizer.state.get(param, {})
            for key, value in state.items():
                if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                    state[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def make_optimizer(model: BaseVAE, lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam with the fused kernel where torch has one (CPU and CUDA): one pass over each parameter
    instead of several elementwise ops, about 13% faster per epoch for the MLP VAE on 2 CPU cores."""
    if device.type in ("cpu", "cuda"):
        try:
            return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
        except (RuntimeError, TypeError, ValueError):
            pass
    return torch.optim.Adam(model.parameters(), lr=lr)


def autocast_dtype(
    config: TrainConfig, device: torch.device, loss_fn: LossFn | None, model: BaseVAE | None = None
) -> torch.dtype | None:
    """The autocast dtype for ``config.precision`` on ``device`` (``None``: plain float32).

    ``"auto"`` is bf16 where the device computes it natively and fit's own objective runs (see
    :class:`TrainConfig`); ``model`` is not needed for the choice (kept for callers that pass it)."""
    if config.precision == "fp32":
        return None
    if config.precision == "auto":
        return torch.bfloat16 if loss_fn is None and native_bf16(device) else None
    if loss_fn is not None:
        raise ConfigError(
            "precision='bf16' applies to fit's built-in objective only: a custom loss_fn would run its "
            "sums and KL under autocast in bfloat16. Use precision='fp32' with loss_fn."
        )
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"precision='bf16': {describe_device(device)} has no bfloat16 support; use precision='fp32'.")
    if device.type not in ("cpu", "cuda"):
        warnings.warn(
            f"precision='bf16' is only used on CPU and CUDA; training in float32 on {device.type}.",
            PerformanceWarning,
            stacklevel=3,
        )
        return None
    if device.type == "cpu" and not native_bf16(device):  # oneDNN's own check is true for emulated bf16 too
        warnings.warn(
            "precision='bf16': this CPU has no native bfloat16 (AVX512-BF16/AMX), so bf16 matrix "
            "products are emulated and likely slower than float32.",
            PerformanceWarning,
            stacklevel=3,
        )
    return torch.bfloat16


# --------------------------------------------------------------------------------------------
# The state of a run: what early stopping, checkpoints and resume need
# --------------------------------------------------------------------------------------------
@dataclass
class TrainState:
    """Everything about a run that is not the model or the optimiser.

    Attributes:
        epoch: epochs completed.
        best_epoch: the epoch (1-based) of the best validation loss so far (0: none yet).
        best_val: that loss.
        stale: epochs since the last improvement (early stopping compares it with ``patience``).
        best_weights: a copy of the model's weights at ``best_epoch``.
        history: per-epoch lists under :data:`HISTORY_KEYS`.
        saved_epoch: the epoch the checkpoint on disk holds (``None``: none written or loaded).
    """

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
        config: TrainConfig,
    ) -> None:
        """Write the best weights (what :func:`~vae_helpers.checkpoints.load_checkpoint` returns) plus
        what resuming needs: the last weights, the optimiser, the counters and the random state."""
        save_checkpoint(
            path,
            model,
            state=self.best_weights,
            best_epoch=self.best_epoch,
            best_val=self.best_val,
            history=self.history,
            train_config=config.to_dict(),
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
        config: TrainConfig,
    ) -> TrainState:
        """Restore a run from its checkpoint into ``model``, ``optimizer`` and ``generator``.

        The resumed run uses ``config``: its learning rate replaces the saved optimiser's (the
        troubleshooting advice after a divergence is to lower it and resume), and ``epochs`` and
        ``patience`` may change. Settings that define the objective (:data:`OBJECTIVE_FIELDS`)
        must match the saved run, or a :class:`CheckpointError` names each one that differs.
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
        now = config.to_dict()
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
            group["lr"] = config.lr
        if saved_lr != config.lr and config.progress:
            print(
                f"Resuming {display_path(path)} at epoch {state.epoch} with lr={config.lr:g} (the saved run used lr={saved_lr:g})."
            )
        generator.set_state(resume["generator_state"])
        torch.set_rng_state(resume["torch_rng_state"])
        return state


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------
def fit(
    model: BaseVAE,
    data: ImageDataset,
    config: TrainConfig | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    device: torch.device | str | None = None,
    loss_fn: LossFn | None = None,
    overwrite: bool = False,
) -> FitResult:
    """Train ``model`` on ``data.train``, validating on ``data.val`` after each epoch.

    Args:
        model: any :class:`BaseVAE` (an :class:`AE` is trained on reconstruction alone).
        data: an :class:`ImageDataset` (see :func:`vae_helpers.data.load_dataset`).
        config: a :class:`TrainConfig` (defaults: 10 epochs, batch 128, Adam 1e-3, beta 1).
        checkpoint: file to hold the best weights and the resume state (written atomically
            after every epoch); ``None`` keeps everything in memory.
        resume: continue from ``checkpoint`` (its weights, optimiser, history and epoch count).
        device: default :func:`get_device` (cuda, then mps, then cpu).
        loss_fn: optional objective ``loss_fn(model, x, y, beta) -> LossTerms`` replacing the built-in
            one (``config.likelihood``, ``free_bits`` and ``sigma`` are then ignored); used by the
            exercises of notebook 07 so that the students' own loss is what trains the model.
        overwrite: allow a new run (``resume=False``) to replace an existing ``checkpoint`` file.
            Without it fit refuses, so an earlier run is never lost by accident.

    Returns:
        A :class:`FitResult`; ``model`` ends holding the best validation weights, in eval mode.

    Raises:
        ConfigError: a model that is not a course model, one split instead of the dataset, a config that is not a
            TrainConfig; an empty training or validation split, ``bf16`` with a ``loss_fn``, a bad ``loss_fn`` result.
        CheckpointError: ``checkpoint`` exists and neither ``resume`` nor ``overwrite`` is set; resume problems.
        TrainingDivergedError: the loss became NaN/inf (the checkpoint on disk is left as it was).
    """
    check_fit_arguments(model, data, config)
    config = config or TrainConfig()
    device = get_device(str(device) if device is not None else None)  # a typo or a missing GPU is named here
    _check_splits(data)
    check_fits(model, data.train, "fit()")
    if checkpoint is not None and not resume and Path(checkpoint).exists() and not overwrite:
        raise CheckpointError(
            f"{checkpoint} already holds a checkpoint; fit would overwrite that run. Pass "
            "resume=True to continue it, overwrite=True to replace it, or choose another path."
        )
    objective = make_objective(config, loss_fn, autocast_dtype(config, device, loss_fn, model))
    generator = seed_everything(config.seed)
    model.to(device).train()
    if uses_channels_last(model, device):
        model.to(memory_format=torch.channels_last)
        objective = _channels_last_inputs(objective)
    data = _place_data(data, device)
    optimizer = make_optimizer(model, config.lr, device)
    state = TrainState.load(checkpoint, model, optimizer, generator, config) if resume else TrainState.start(model)
    _match_optimizer_layouts(optimizer)
    log = _EpochLog(model, config, device, state.epoch)

    stopped = "completed"
    try:
        for epoch in range(state.epoch, config.epochs):
            started = time.perf_counter()
            train = train_epoch(model, data.train, optimizer, objective, config, epoch, generator, device)
            val = validate(model, data.val, config, loss_fn, epoch)
            state.end_epoch(epoch, train, val, time.perf_counter() - started, model)
            if checkpoint is not None:
                state.save(checkpoint, model, optimizer, generator, config)
            log.epoch(state, train, val)
            if config.patience is not None and state.stale >= config.patience:
                stopped = "early_stopping"
                break
    except KeyboardInterrupt:
        stopped = "interrupted"
        print(state.interrupted_message(checkpoint))
    except TrainingDivergedError as err:
        model.load_state_dict(state.best_weights)  # never leave NaN weights in the caller's model
        raise state.explained(err, checkpoint) from None
    except BaseException:
        model.load_state_dict(state.best_weights)
        raise
    finally:
        log.close()
        model.to(memory_format=torch.contiguous_format)  # what every other function expects
    model.load_state_dict(state.best_weights)
    model.eval()
    return FitResult(state.history, state.best_epoch, state.best_val, stopped, describe_device(device))


def validate(model: BaseVAE, split: ImageSplit, config: TrainConfig, loss_fn: LossFn | None, epoch: int) -> Metrics:
    """The validation loss after ``epoch``: the training objective at :attr:`TrainConfig.validation_beta`,
    z seeded (so epochs compare like with like); a NaN or infinite value stops training."""
    val = evaluate(
        model,
        split,
        config.likelihood,
        sigma=config.sigma,
        beta=config.validation_beta,
        free_bits=config.free_bits,
        loss_fn=loss_fn,
        with_mse=False,
    )
    if not math.isfinite(val.loss):
        raise TrainingDivergedError(
            f"The validation loss became NaN or infinite after epoch {epoch + 1} "
            f"(lr={config.lr:g}). Lower the learning rate (try lr={config.lr / 10:g})."
        )
    return val


class _EpochLog:
    """The progress bar and one line per epoch (both off with ``progress=False``)."""

    def __init__(self, model: BaseVAE, config: TrainConfig, device: torch.device, start: int) -> None:
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
    path: str | os.PathLike, model: BaseVAE, config: TrainConfig, device: torch.device | str | None = None
) -> FitResult | None:
    """The run a checkpoint holds, loaded into ``model`` (best weights, eval mode), if ``path`` exists and was
    written by :func:`fit` with these same settings (``config.to_dict()`` without ``progress``); else ``None``.

    For models that are never committed (CelebA, notebook 08): the notebook reuses what the user trained
    before, and trains again when a setting changed (e.g. a fast-mode checkpoint met by a full run)."""
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


def train_model(
    build: Callable[[], BaseVAE], data: ImageDataset, config: TrainConfig, **fit_kwargs: Any
) -> tuple[BaseVAE, FitResult]:
    """Seed, build, fit: the course's pattern for one run of a sweep, so the initial weights depend on
    ``config.seed`` alone (not on what ran before). ``fit_kwargs`` go to :func:`fit`.

    Example::

        models[d], runs[d] = train_model(lambda: MLPVAE(latent_dim=d), data, TrainConfig(epochs=30))
    """
    seed_everything(config.seed)
    model = build()
    return model, fit(model, data, config, **fit_kwargs)


def _is_function_beta(*values: Any) -> bool:
    """A schedule function is stored by its repr, which names a memory address: it cannot be compared."""
    return any(isinstance(v, dict) and "function" in v for v in values)


def _check_splits(data: ImageDataset) -> None:
    for name in ("train", "val"):
        if len(getattr(data, name)) == 0:
            raise ConfigError(
                f"fit needs images in data.{name}, but it has 0 (did a subset(...) ask for {name}=0?). "
                "The training split is what it learns from; the validation split picks the best epoch "
                "and drives early stopping."
            )


def _place_data(data: ImageDataset, device: torch.device) -> ImageDataset:
    """Put the uint8 tensors on the training device if they fit; otherwise batches are copied per step."""
    if data.train.device == device:
        return data
    try:
        return data.to(device)
    except RuntimeError:  # out of device memory: stream batches from host memory instead
        return data

"""One training loop for every model in the course: :func:`fit`.

Read it top to bottom, as pytorch/examples' ``main.py``: :class:`TrainConfig` (every setting, validated when it
is made; the checks, with those of fit's arguments, are in :mod:`vae_helpers.fit_checks`), the objective of one
batch (:func:`make_objective`), :func:`train_step` (the 5 lines every PyTorch training loop has),
:func:`train_epoch`, :func:`validate`, and :func:`fit`, the epoch loop. What a run keeps between epochs (best
weights, patience, history, checkpoints and resume) is :class:`~vae_helpers.run_state.TrainState`; the optional
speed-ups (bf16, channels-last, fused Adam) are applied in one call from :mod:`vae_helpers.speed`.

Failure handling: a non-finite training or validation loss stops training with the epoch and
step and a suggestion; a KeyboardInterrupt (Jupyter's "interrupt kernel") stops cleanly and keeps
the best weights; ``fit(..., resume=True)`` continues from the checkpoint with the history kept,
using the learning rate it is given; an existing checkpoint is never overwritten silently.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch

from . import speed
from .config import describe_device, get_device, seed_everything
from .data import ImageDataset, ImageSplit
from .errors import TrainingDivergedError
from .evaluation import LossFn, Metrics, check_loss_terms, evaluate
from .fit_checks import check_fit_arguments, check_new_checkpoint, check_splits, check_train_config
from .losses import Beta, KLSchedule, Likelihood, LossTerms, check_beta
from .models import BaseVAE
from .objective import check_fits, model_objective
from .run_state import HISTORY_KEYS, EpochLog, FitResult, TrainState, load_finished_run
from .speed import Objective, Precision

__all__ = [
    "TrainConfig",
    "FitResult",
    "TrainState",
    "fit",
    "train_model",
    "train_step",
    "train_epoch",
    "make_objective",
    "steps_per_epoch",
    "TrainingDivergedError",
    "LossFn",
    "HISTORY_KEYS",
    "load_finished_run",
    "validate",
]


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
        precision: ``"fp32"`` (default), ``"bf16"`` (bfloat16 autocast for the training forward pass) or
            ``"auto"`` (bf16 where the device computes it natively); see :mod:`vae_helpers.speed`. Only fit's
            built-in objective supports bf16 (not ``loss_fn``).
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


# --------------------------------------------------------------------------------------------
# One batch, one step, one epoch, one validation
# --------------------------------------------------------------------------------------------
def make_objective(config: TrainConfig, loss_fn: LossFn | None = None) -> Objective:
    """The batch objective :func:`fit` trains with: ``loss_fn`` (checked) if given, else the negative
    ELBO of :func:`~vae_helpers.objective.model_objective` with the config's likelihood and free bits."""
    if loss_fn is not None:
        return lambda model, x, y, beta: check_loss_terms(loss_fn(model, x, y, beta), len(x))
    return lambda model, x, y, beta: model_objective(
        model, x, y, beta, config.likelihood, config.free_bits, config.sigma
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
            exercises of notebooks 08 and 09 so that the students' own loss is what trains the model.
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
    check_fit_arguments(model, data, config, TrainConfig)
    config = config or TrainConfig()
    device = get_device(str(device) if device is not None else None)  # a typo or a missing GPU is named here
    check_splits(data)
    check_fits(model, data.train, "fit()")
    check_new_checkpoint(checkpoint, resume, overwrite)
    objective = make_objective(config, loss_fn)
    generator = seed_everything(config.seed)
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    settings = config.to_dict()  # what the checkpoint stores, and what a resumed run must match
    state = TrainState.load(checkpoint, model, optimizer, generator, settings) if resume else TrainState.start(model)
    log = EpochLog(model, config, device, state.epoch)

    stopped = "completed"
    speedups = speed.accelerated(model, data, objective, optimizer, config, device, custom_loss=loss_fn is not None)
    try:
        with speedups as (data, objective):
            for epoch in range(state.epoch, config.epochs):
                started = time.perf_counter()
                train = train_epoch(model, data.train, optimizer, objective, config, epoch, generator, device)
                val = validate(model, data.val, config, loss_fn, epoch)
                state.end_epoch(epoch, train, val, time.perf_counter() - started, model)
                if checkpoint is not None:
                    state.save(checkpoint, model, optimizer, generator, settings)
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
    model.load_state_dict(state.best_weights)
    model.eval()
    return FitResult(state.history, state.best_epoch, state.best_val, stopped, describe_device(device))


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

"""One training loop for every model in the course: :func:`fit`.

Read it top to bottom: :class:`TrainConfig`, :func:`train_step`, :func:`train_epoch`, :func:`validate`, :func:`fit`.
The run's state is in :mod:`vae_helpers.run_state`, the optional speed-ups in :mod:`vae_helpers.speed`.
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
        beta: the KL weight: a number (1 gives the ELBO), a :class:`~vae_helpers.losses.KLSchedule`, or a function
            ``step -> beta`` of the 0-based optimisation step. Validation uses :attr:`validation_beta`.
        free_bits: nats per latent dimension that are not penalised (0 disables).
        likelihood: ``"bernoulli"`` (BCE with logits) or ``"gaussian"`` (standard deviation ``sigma``).
        binarize: dynamic binarization of training batches (resampled every epoch).
        patience: stop after this many epochs without a validation improvement (None: never).
        seed: for :func:`seed_everything` at the start and for the batch order.
        precision: ``"fp32"``, ``"bf16"`` (bfloat16 autocast of the training forward pass) or ``"auto"`` (bf16
            where the device has it natively); bf16 needs fit's built-in objective (no ``loss_fn``).
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
        """The KL weight of the validation loss: the number, a :class:`KLSchedule`'s plateau, or 1 for a function."""
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


def make_objective(config: TrainConfig, loss_fn: LossFn | None = None) -> Objective:
    """The batch objective of :func:`fit`: ``loss_fn`` (checked) if given, else the config's negative ELBO."""
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
    """One shuffled pass over ``split``: mean loss, recon and KL (nats per image) and the last beta. Raises
    :class:`TrainingDivergedError` at the first non-finite loss (checked each step on CPU, else every 50 and last)."""
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
    """Train ``model`` on ``data.train``, keeping the weights of its best epoch on ``data.val``.

    Args:
        checkpoint: file for the best weights and the resume state, written atomically after every epoch.
        resume: continue from ``checkpoint`` (weights, optimiser, history, epoch count) with ``config.lr``.
        loss_fn: ``loss_fn(model, x, y, beta) -> LossTerms`` replacing the built-in objective.
        overwrite: let a new run replace an existing ``checkpoint`` file.

    Returns:
        A :class:`FitResult`; ``model`` ends with the best weights, in eval mode (also after a KeyboardInterrupt).

    Raises:
        ConfigError: a bad argument, setting or device, an empty split, or images the model was not built for.
        CheckpointError: ``checkpoint`` exists and neither ``resume`` nor ``overwrite`` is set; resume problems.
        TrainingDivergedError: the loss became NaN/inf (the model gets its best weights; the file is left as it was).
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
    """Seed, build, fit (``fit_kwargs`` go to :func:`fit`), so the initial weights depend on ``config.seed`` alone."""
    seed_everything(config.seed)
    model = build()
    return model, fit(model, data, config, **fit_kwargs)

"""Checks of what :func:`vae_helpers.training.fit` is given: TrainConfig's fields, the model, the dataset, the
checkpoint path. Each raises a :class:`ConfigError` (:class:`CheckpointError` for the checkpoint) naming the fix.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from .config import check_seed
from .data import ImageDataset, ImageSplit
from .errors import CheckpointError, ConfigError
from .losses import LIKELIHOODS, check_beta
from .models import BaseVAE
from .speed import PRECISIONS


def check_train_config(config: Any) -> None:
    """Every field of a :class:`~vae_helpers.training.TrainConfig`, one after another: the first wrong one is named."""
    check_seed(config.seed, f"TrainConfig.seed={config.seed!r}")
    for name in ("binarize", "progress"):
        value = getattr(config, name)
        if not isinstance(value, bool):
            raise ConfigError(
                f"TrainConfig.{name}={value!r}: use True or False (a string such as 'False' would count as on)."
            )
    for name in ("epochs", "batch_size"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"TrainConfig.{name}={value!r}: it must be a whole number >= 1.")
    if config.patience is not None and (
        isinstance(config.patience, bool) or not isinstance(config.patience, int) or config.patience < 1
    ):
        raise ConfigError(
            f"TrainConfig.patience={config.patience!r}: use a whole number >= 1, or None to never stop early."
        )
    for name in ("lr", "sigma"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"TrainConfig.{name}={value!r}: it must be a finite number > 0.")
    if not isinstance(config.free_bits, (int, float)) or not math.isfinite(config.free_bits) or config.free_bits < 0:
        raise ConfigError(
            f"TrainConfig.free_bits={config.free_bits!r}: nats per dimension, a finite number >= 0 "
            "(0 disables free bits)."
        )
    if not callable(config.beta):
        check_beta(config.beta, "TrainConfig.beta")
    if config.likelihood not in LIKELIHOODS:
        raise ConfigError(f"TrainConfig.likelihood={config.likelihood!r}; use one of {', '.join(LIKELIHOODS)}.")
    if config.precision not in PRECISIONS:
        raise ConfigError(
            f"Unknown precision {config.precision!r}; use 'fp32' (default), 'bf16' "
            "(bfloat16 autocast for the training forward pass) or 'auto' (bf16 where the hardware has it natively)."
        )


def check_fit_arguments(model: Any, data: Any, config: Any, config_type: type) -> None:
    """What :func:`~vae_helpers.training.fit` needs: a course model, the whole dataset and a TrainConfig (or None);
    ``config_type`` is :class:`~vae_helpers.training.TrainConfig` (passed in: that module imports this one)."""
    if not isinstance(model, BaseVAE):
        raise ConfigError(
            f"fit(model, data, config): model must be a course model (a BaseVAE subclass such as MLPVAE or "
            f"ConvVAE, with encode and decode), got {type(model).__name__}."
        )
    if isinstance(data, ImageSplit):
        raise ConfigError(
            "fit(model, data, config) takes the whole dataset (an ImageDataset, e.g. load_dataset('fashion-mnist')), "
            "not data.train: it trains on data.train and picks the best epoch on data.val. Pass data itself "
            "(data.subset(train=...) for fewer images)."
        )
    if not isinstance(data, ImageDataset):
        raise ConfigError(
            "fit(model, data, config): data must be an ImageDataset (e.g. load_dataset('fashion-mnist')), "
            f"got {type(data).__name__}."
        )
    if config is not None and not isinstance(config, config_type):
        example = ", ".join(f"{k}={v!r}" for k, v in config.items()) if isinstance(config, dict) else "epochs=3"
        raise ConfigError(
            f"fit(model, data, config): config must be a TrainConfig, got {type(config).__name__}. Write "
            f"TrainConfig({example}) (TrainConfig(**settings) for a dict): it checks every setting when it is made."
        )


def check_splits(data: ImageDataset) -> None:
    """Refuse a dataset whose training or validation split is empty."""
    for name in ("train", "val"):
        if len(getattr(data, name)) == 0:
            raise ConfigError(
                f"fit needs images in data.{name}, but it has 0 (did a subset(...) ask for {name}=0?). "
                "The training split is what it learns from; the validation split picks the best epoch "
                "and drives early stopping."
            )


def check_new_checkpoint(checkpoint: str | os.PathLike | None, resume: bool, overwrite: bool) -> None:
    """Refuse to start a new run over an existing ``checkpoint`` unless ``overwrite`` (or ``resume``) says so."""
    if checkpoint is not None and not resume and Path(checkpoint).exists() and not overwrite:
        raise CheckpointError(
            f"{checkpoint} already holds a checkpoint; fit would overwrite that run. Pass "
            "resume=True to continue it, overwrite=True to replace it, or choose another path."
        )

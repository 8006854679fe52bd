"""Optional speed-ups for :func:`vae_helpers.training.fit`, applied in one call (:func:`accelerated`).

None of them changes what is computed, only how fast: float32 rounding aside, a run is the same without them.

* precision: ``TrainConfig(precision="bf16")`` runs the encoder and decoder of the *training* forward pass under
  ``torch.autocast`` in bfloat16 (matrix products in bfloat16, float32 accumulation); their outputs come back as
  float32 (:func:`vae_helpers.objective.forward_pass`), so z, the sums over pixels, the KL, the weights and Adam's
  moments stay float32, and validation is float32. ``"auto"`` picks bf16 only where the device computes it
  natively (:func:`vae_helpers.config.native_bf16`): emulated bf16 is much slower than float32;
* channels-last: models with 2-D convolutions train in the NHWC layout on CPU, where oneDNN's convolutions are
  faster; the model comes back in the default layout;
* data placement: the uint8 images move to the training device once, if they fit, instead of once per batch;
* Adam's fused kernel (CPU and CUDA): one pass over each parameter instead of several elementwise ops.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Literal

import torch
from torch import nn

from .config import describe_device, native_bf16
from .data import ImageDataset
from .errors import ConfigError, PerformanceWarning
from .losses import LossTerms
from .models import BaseVAE

#: ``TrainConfig.precision``: float32 throughout, bfloat16 autocast for the training forward pass, or bf16 where the
#: device computes it natively.
Precision = Literal["fp32", "bf16", "auto"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "auto")
#: The objective of one batch: ``objective(model, x, y, beta) -> LossTerms``.
Objective = Callable[[BaseVAE, torch.Tensor, torch.Tensor, float], LossTerms]


@contextlib.contextmanager
def accelerated(
    model: BaseVAE,
    data: ImageDataset,
    objective: Objective,
    optimizer: torch.optim.Optimizer,
    config: Any,
    device: torch.device,
    custom_loss: bool,
) -> Iterator[tuple[ImageDataset, Objective]]:
    """Within the block: ``(data, objective)`` to train with, sped up as the module docstring lists.

    ``model`` is already on ``device``; ``optimizer`` is its Adam, with any resumed state loaded. ``config`` is the
    :class:`~vae_helpers.training.TrainConfig` (its ``precision``); ``custom_loss``: the objective is a ``loss_fn``
    of the user's (which bf16 does not support). On exit the model is back in the default memory layout.
    """
    dtype = autocast_dtype(config, device, custom_loss)
    if dtype is not None:
        objective = autocast_objective(objective, device, dtype)
    if uses_channels_last(model, device):
        model.to(memory_format=torch.channels_last)
        objective = _channels_last_inputs(objective)
    _match_optimizer_layouts(optimizer)
    if not optimizer.state and device.type in ("cpu", "cuda"):  # a fresh Adam, as if made with fused=True
        for group in optimizer.param_groups:
            group["fused"] = True
    try:
        yield _place_data(data, device), objective
    finally:
        model.to(memory_format=torch.contiguous_format)  # what every other function expects


def autocast_dtype(config: Any, device: torch.device, custom_loss: Any = None) -> torch.dtype | None:
    """The autocast dtype for ``config.precision`` on ``device`` (``None``: plain float32); ``custom_loss`` (a
    ``loss_fn`` or a truth value): fit trains with a loss of the user's, which bf16 does not support."""
    if config.precision == "fp32":
        return None
    if config.precision == "auto":
        return torch.bfloat16 if not custom_loss and native_bf16(device) else None
    if custom_loss:
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
            stacklevel=5,
        )
        return None
    if device.type == "cpu" and not native_bf16(device):  # oneDNN's own check is true for emulated bf16 too
        warnings.warn(
            "precision='bf16': this CPU has no native bfloat16 (AVX512-BF16/AMX), so bf16 matrix "
            "products are emulated and likely slower than float32.",
            PerformanceWarning,
            stacklevel=5,
        )
    return torch.bfloat16


def autocast_objective(objective: Objective, device: torch.device, dtype: torch.dtype) -> Objective:
    """``objective`` run under ``torch.autocast`` in ``dtype``: its model's outputs come back as float32 (see
    :func:`vae_helpers.objective.forward_pass`), so only the encoder's and decoder's products run in ``dtype``."""

    def objective_in_dtype(model: BaseVAE, x: torch.Tensor, y: torch.Tensor, beta: float) -> LossTerms:
        with torch.autocast(device_type=device.type, dtype=dtype):
            return objective(model, x, y, beta)

    return objective_in_dtype


def uses_channels_last(model: BaseVAE, device: torch.device) -> bool:
    """Train in the channels-last layout: a model with 2-D convolutions, on CPU. Only the layout changes, not the
    arithmetic, so results differ by float32 rounding alone."""
    return device.type == "cpu" and any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in model.modules())


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


def _place_data(data: ImageDataset, device: torch.device) -> ImageDataset:
    """The uint8 tensors on the training device if they fit; otherwise batches are copied per step."""
    if data.train.device == device:
        return data
    try:
        return data.to(device)
    except RuntimeError:  # out of device memory: stream batches from host memory instead
        return data

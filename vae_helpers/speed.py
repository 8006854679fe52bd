"""Optional speed-ups for :func:`vae_helpers.training.fit`, applied in one call (:func:`accelerated`).

Apart from ``TrainConfig(precision="bf16")`` (bfloat16 autocast of the training encoder and decoder; z, the losses,
the weights, Adam and validation stay float32), they change only the speed: channels-last convolutions on CPU,
the uint8 images moved to the device once, and Adam's fused kernel.
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

#: ``TrainConfig.precision``: float32, bfloat16 autocast of the training forward pass, or bf16 where it is native.
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
    """Yield the ``(data, objective)`` to train with, sped up as the module docstring lists; ``model`` must be on
    ``device``, ``optimizer`` its Adam (resumed state loaded). On exit the model is back in the default layout."""
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
    """The autocast dtype for ``config.precision`` on ``device`` (``None``: float32). ``custom_loss`` (a ``loss_fn``
    or a bool): the user's loss trains, which ``"bf16"`` refuses (ConfigError) and ``"auto"`` keeps in float32."""
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
    """``objective`` under ``torch.autocast`` in ``dtype``; the model's outputs come back as float32."""

    def objective_in_dtype(model: BaseVAE, x: torch.Tensor, y: torch.Tensor, beta: float) -> LossTerms:
        with torch.autocast(device_type=device.type, dtype=dtype):
            return objective(model, x, y, beta)

    return objective_in_dtype


def uses_channels_last(model: BaseVAE, device: torch.device) -> bool:
    """Whether to train in the channels-last layout: a model with 2-D convolutions, on CPU."""
    return device.type == "cpu" and any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in model.modules())


def _channels_last_inputs(objective: Objective) -> Objective:
    def channels_last_objective(model: BaseVAE, x: torch.Tensor, y: torch.Tensor, beta: float) -> LossTerms:
        return objective(model, x.contiguous(memory_format=torch.channels_last), y, beta)

    return channels_last_objective


def _match_optimizer_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give each optimiser state tensor its parameter's memory layout: fused Adam walks them as flat memory, so
    moments resumed across a layout change would update the wrong elements."""
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

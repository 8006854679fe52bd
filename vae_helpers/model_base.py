"""The interface every model of the course implements (:class:`BaseVAE`), its config base, the registry that
rebuilds a model from a checkpoint, and :func:`eval_mode`. :mod:`vae_helpers.models` re-exports every name.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from .errors import ConfigError
from .losses import clamp_logvar, reparameterize


@contextmanager
def eval_mode(*modules: nn.Module, no_grad: bool = True) -> Iterator[None]:
    """Run a block with ``modules`` in eval mode and (``no_grad``) without autograd, then give every submodule back
    its train/eval flag, also on error: ``with eval_mode(model): ...``, the one way the package evaluates a model."""
    saved = [(sub, sub.training) for module in modules for sub in module.modules()]
    for module in modules:
        module.eval()
    try:
        with torch.no_grad() if no_grad else nullcontext():
            yield
    finally:
        for sub, flag in saved:
            sub.training = flag


@dataclass
class VAEOutput:
    """What ``forward`` returns: decoder ``logits`` ``[N x C x H x W]``, the posterior ``mu`` and clamped ``logvar``
    ``[N x D]`` (an autoencoder: its code and ``None``), and the decoded code ``z`` ``[N x D]``."""

    logits: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor | None
    z: torch.Tensor


@dataclass(frozen=True)
class ModelConfig:
    """Base of the frozen per-model configs (plain values, for checkpoints): every size must be a whole number >= 1."""

    latent_dim: int = 20

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            values = value if isinstance(value, (tuple, list)) else (value,)
            if name in ("image_shape", "hidden", "channels") and not values:
                raise ConfigError(f"{type(self).__name__}.{name} is empty; give at least one size.")
            for v in values:
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    raise ConfigError(f"{type(self).__name__}.{name}={value!r}: sizes must be whole numbers >= 1.")

    def to_dict(self) -> dict[str, Any]:
        """Checkpoint-safe plain values (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


#: Every model class by name; :func:`register_model` adds one, :func:`build_model` rebuilds from a config dict.
MODEL_REGISTRY: dict[str, type[BaseVAE]] = {}

M = TypeVar("M", bound="type[BaseVAE]")


def register_model(cls: M) -> M:
    """Class decorator: make ``cls`` rebuildable from checkpoints (:func:`build_model`)."""
    MODEL_REGISTRY[cls.__name__] = cls
    return cls


class BaseVAE(nn.Module):
    """The interface every course model implements; a conditional model takes labels ``y`` (int64 ``[N]``) too.

    A subclass sets ``Config`` and builds its layers from ``self.model_config``. Construct with a config, keyword
    overrides, or both: ``MLPVAE(latent_dim=2)``, ``MLPVAE(MLPVAEConfig(latent_dim=2))``.
    """

    Config: ClassVar[type[ModelConfig]] = ModelConfig
    conditional: ClassVar[bool] = False

    def __init__(self, config: ModelConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        if config is None:
            config = self.Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})
        elif overrides:
            config = replace(config, **overrides)
        if not isinstance(config, self.Config):
            raise ConfigError(f"{type(self).__name__} takes a {self.Config.__name__}, got {type(config).__name__}.")
        self.model_config = config
        self.latent_dim = config.latent_dim
        self.image_shape: tuple[int, ...] = tuple(getattr(config, "image_shape", None) or self._image_shape())

    def _image_shape(self) -> tuple[int, ...]:
        raise NotImplementedError(
            f"{type(self).__name__} has no image_shape: give its config an image_shape field (C, H, W), or define "
            "_image_shape(self) returning it."
        )

    # -- to implement ------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``x`` ``[N x C x H x W]`` in [0, 1] -> ``(mu [N x D], logvar [N x D])`` (``logvar`` None for an AE)."""
        raise NotImplementedError(
            f"{type(self).__name__}.encode is not implemented: define encode(self, x, y=None) returning "
            "(mu [N x D], logvar [N x D]) for images x [N x C x H x W] in [0, 1]."
        )

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """``z`` ``[N x D]`` -> logits ``[N x C x H x W]`` (``torch.sigmoid`` gives the pixel means)."""
        raise NotImplementedError(
            f"{type(self).__name__}.decode is not implemented: define decode(self, z, y=None) returning "
            "logits [N x C x H x W] for codes z [N x D]."
        )

    # -- shared ------------------------------------------------------------------------------
    def likelihood_logits(self, z: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``[N x C x H x W]`` of p(x | z) *at the observed* ``x``, what every loss scores: ``decode(z)``,
        or for an autoregressive decoder each pixel given the true earlier pixels of ``x`` (teacher forcing)."""
        return self.decode(z, y)

    @property
    def is_variational(self) -> bool:
        return True

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> VAEOutput:
        """Encode and decode ``x``; z is a reparameterised sample in training mode and ``mu`` in eval mode."""
        mu, logvar = self.encode(x, y)
        z = reparameterize(mu, logvar) if (self.training and logvar is not None) else mu
        return VAEOutput(self.likelihood_logits(z, x, y), mu, logvar, z)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.no_grad()
    def sample(
        self,
        n: int,
        y: torch.Tensor | None = None,
        mean: torch.Tensor | None = None,
        std: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Decode ``n`` latents from N(mean, diag(std^2)) (default the prior N(0, I)) into pixel means
        ``[n x C x H x W]`` in [0, 1]; ``generator`` is a CPU generator (default: the global one)."""
        z = torch.randn(n, self.latent_dim, generator=generator).to(self.device)
        if std is not None:
            z = z * std.to(self.device)
        if mean is not None:
            z = z + mean.to(self.device)
        return torch.sigmoid(self.decode(z, y))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decode the posterior mean of each input: ``[N x C x H x W]`` pixel means in [0, 1]."""
        mu, _ = self.encode(x.to(self.device), y)
        return torch.sigmoid(self.decode(mu, y))

    def config(self) -> dict[str, Any]:
        """The registry name plus the config's fields (plain Python values, checkpoint-safe)."""
        return {"name": type(self).__name__, **self.model_config.to_dict()}

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _split(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[N x 2D] -> (mu [N x D], clamped logvar [N x D])``."""
        mu, logvar = h.chunk(2, dim=-1)
        return mu, clamp_logvar(logvar)


def mlp_layers(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def num_elements(shape: Sequence[int]) -> int:
    """Elements of a tensor of ``shape``: 784 for an image of ``(1, 28, 28)``."""
    return int(math.prod(shape))

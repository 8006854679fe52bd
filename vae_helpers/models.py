"""The course's models, each with a frozen config dataclass and the interface of :class:`BaseVAE`.

The MLP VAE, the autoencoder and the two convolutional VAEs are here, with :func:`build_model` and the layer table;
the interface, registry and :func:`eval_mode` are in :mod:`vae_helpers.model_base`, the MLP VAE's two variants in
:mod:`vae_helpers.vae_variants`. Every name is importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .errors import ConfigError
from .model_base import (
    MODEL_REGISTRY,
    BaseVAE,
    ModelConfig,
    VAEOutput,
    eval_mode,
    mlp_layers,
    num_elements,
    register_model,
)


@dataclass(frozen=True)
class MLPVAEConfig(ModelConfig):
    """:class:`MLPVAE` and :class:`AE`: input ``(C, H, W)``, encoder widths (the decoder mirrors them), D."""

    image_shape: tuple[int, ...] = (1, 28, 28)
    hidden: tuple[int, ...] = (400,)
    latent_dim: int = 20


@dataclass(frozen=True)
class ConvVAEConfig(ModelConfig):
    """:class:`ConvVAE`: D, the widths of the two stride-2 convs, the fully connected width, input channels."""

    latent_dim: int = 20
    channels: tuple[int, int] = (32, 64)
    hidden: int = 256
    in_channels: int = 1


@dataclass(frozen=True)
class ConvVAE64Config(ModelConfig):
    """:class:`ConvVAE64`: D and the widths of the four stride-2 convs."""

    latent_dim: int = 128
    channels: tuple[int, ...] = (32, 64, 128, 256)


@register_model
class MLPVAE(BaseVAE):
    """Fully connected VAE; the default 784-400-20 is pytorch/examples' (652,824 parameters). Kingma & Welling
    (2014) used 500 hidden units on MNIST."""

    Config = MLPVAEConfig

    def __init__(self, config: MLPVAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        hidden, n_in = self.model_config.hidden, num_elements(self.image_shape)
        self.encoder = nn.Sequential(*mlp_layers([n_in, *hidden]), nn.ReLU())  # [N x 784] -> [N x 400]
        self.to_stats = nn.Linear(hidden[-1], 2 * self.latent_dim)  # -> [N x 2D]: mu and logvar
        self.decoder = mlp_layers([self.latent_dim, *reversed(hidden), n_in])  # [N x D] -> [N x 784] logits

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self._split(self.to_stats(self.encoder(x.flatten(1))))

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z).view(-1, *self.image_shape)


@register_model
class AE(MLPVAE):
    """Deterministic autoencoder with the MLP VAE's layout (644,804 parameters); ``encode`` returns ``(z, None)``."""

    def __init__(self, config: MLPVAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.to_stats = nn.Linear(self.model_config.hidden[-1], self.latent_dim)  # -> [N x D]: the code itself

    @property
    def is_variational(self) -> bool:
        return False

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return self.to_stats(self.encoder(x.flatten(1))), None


@register_model
class ConvVAE(BaseVAE):
    """Convolutional VAE for 28x28 images (config :class:`ConvVAEConfig`: D=20, convs 32-64, fc 256)."""

    Config = ConvVAEConfig

    def __init__(self, config: ConvVAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c1, c2 = self.model_config.channels
        hidden, c_in, d = self.model_config.hidden, self.model_config.in_channels, self.latent_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(c_in, c1, 4, stride=2, padding=1),
            nn.ReLU(),  # 28x28 -> 14x14
            nn.Conv2d(c1, c2, 4, stride=2, padding=1),
            nn.ReLU(),  # 14x14 -> 7x7
            nn.Flatten(),  # [N x c2*7*7]
            nn.Linear(c2 * 7 * 7, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2 * d),  # [N x 2D]
        )
        self.decoder = nn.Sequential(
            nn.Linear(d, hidden),
            nn.ReLU(),
            nn.Linear(hidden, c2 * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (c2, 7, 7)),  # [N x c2 x 7 x 7]
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1),
            nn.ReLU(),  # 7x7 -> 14x14
            nn.ConvTranspose2d(c1, c_in, 4, stride=2, padding=1),  # 14x14 -> 28x28 logits
        )

    def _image_shape(self) -> tuple[int, ...]:
        return (self.model_config.in_channels, 28, 28)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self._split(self.encoder(x))

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z)


@register_model
class ConvVAE64(BaseVAE):
    """Convolutional VAE for 64x64 RGB faces, with BatchNorm (the CelebA model; :class:`ConvVAE64Config`)."""

    Config = ConvVAE64Config

    def __init__(self, config: ConvVAE64Config | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        channels, d = list(self.model_config.channels), self.latent_dim
        widths = [3, *channels]
        down: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):  # 64 -> 32 -> 16 -> 8 -> 4
            down += [nn.Conv2d(a, b, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2)]
        self.encoder = nn.Sequential(*down, nn.Flatten())  # [N x 256*4*4]
        self.to_stats = nn.Linear(channels[-1] * 16, 2 * d)
        self.from_latent = nn.Sequential(nn.Linear(d, channels[-1] * 16), nn.Unflatten(1, (channels[-1], 4, 4)))
        up: list[nn.Module] = []
        rev = list(reversed(channels))
        for a, b in zip(rev[:-1], rev[1:]):  # 4 -> 8 -> 16 -> 32
            up += [nn.ConvTranspose2d(a, b, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2)]
        up.append(nn.ConvTranspose2d(rev[-1], 3, 4, stride=2, padding=1))  # 32 -> 64, 3 channels of logits
        self.decoder = nn.Sequential(*up)

    def _image_shape(self) -> tuple[int, ...]:
        return (3, 64, 64)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self._split(self.to_stats(self.encoder(x)))

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(self.from_latent(z))


@torch.no_grad()
def layer_table(model: BaseVAE, batch: int = 2) -> list[tuple[str, str, tuple[int, ...], int]]:
    """Trace a dummy batch through the encoder and the decoder: a row ``(part, layer, output shape without the
    batch axis, parameters)`` per leaf module called, in call order."""
    rows: list[tuple[str, str, tuple[int, ...], int]] = []
    part = ["encoder"]
    hooks = []
    for module in model.modules():
        if len(list(module.children())) == 0:

            def hook(mod, _inputs, output, _rows=rows):
                out = output[0] if isinstance(output, tuple) else output
                _rows.append(
                    (part[0], mod.__class__.__name__, tuple(out.shape[1:]), sum(p.numel() for p in mod.parameters()))
                )

            hooks.append(module.register_forward_hook(hook))
    try:
        with eval_mode(model):
            device = model.device
            y = torch.zeros(batch, dtype=torch.long, device=device) if model.conditional else None
            model.encode(torch.zeros(batch, *model.image_shape, device=device), y)
            part[0] = "decoder"
            model.decode(torch.zeros(batch, model.latent_dim, device=device), y)
    finally:
        for h in hooks:
            h.remove()
    return rows


def format_layer_table(model: BaseVAE) -> str:
    """:func:`layer_table` as aligned text, with the input shape on top and the total parameter count below."""
    lines = [
        f"{'part':8s} {'layer':16s} {'output shape':>16s} {'parameters':>11s}",
        f"{'input':8s} {'':16s} {str(tuple(model.image_shape)):>16s} {'':>11s}",
    ]
    for part, layer, shape, params in layer_table(model):
        lines.append(f"{part:8s} {layer:16s} {str(shape):>16s} {params:11,d}")
    lines.append(f"{'total':8s} {'':16s} {'':>16s} {model.num_parameters():11,d}")
    return "\n".join(lines)


def build_model(config: dict[str, Any]) -> BaseVAE:
    """Rebuild a model from :meth:`BaseVAE.config` output (e.g. read from a checkpoint)."""
    config = dict(config)
    name = config.pop("name", None)
    if name not in MODEL_REGISTRY:
        raise ConfigError(
            f"Unknown model {name!r}; known models: {', '.join(MODEL_REGISTRY)}. A model class "
            "defined elsewhere must be decorated with @register_model before its checkpoints load."
        )
    return MODEL_REGISTRY[name](**config)


# Registered after the models above: build_model's message lists them in this order.
from .vae_variants import (  # noqa: E402
    AutoregressiveVAE,
    AutoregressiveVAEConfig,
    ConditionalVAE,
    ConditionalVAEConfig,
    MaskedLinear,
)

__all__ = [
    "MODEL_REGISTRY",
    "AE",
    "AutoregressiveVAE",
    "AutoregressiveVAEConfig",
    "BaseVAE",
    "ConditionalVAE",
    "ConditionalVAEConfig",
    "ConvVAE",
    "ConvVAE64",
    "ConvVAE64Config",
    "ConvVAEConfig",
    "MLPVAE",
    "MLPVAEConfig",
    "MaskedLinear",
    "ModelConfig",
    "VAEOutput",
    "build_model",
    "eval_mode",
    "format_layer_table",
    "layer_table",
    "register_model",
]

"""Models with one small interface.

Every model implements:

* ``encode(x) -> (mu, logvar)``: ``x`` is ``[N x C x H x W]`` in [0, 1]; ``mu``/``logvar`` are
  ``[N x D]`` (a deterministic autoencoder returns ``(z, None)``);
* ``decode(z) -> logits``: ``[N x D] -> [N x C x H x W]`` *logits*; apply ``torch.sigmoid`` to see
  an image, use ``binary_cross_entropy_with_logits`` to score one;
* ``forward(x) -> VAEOutput(logits, mu, logvar, z)``: z is a reparameterised sample in training
  mode and ``mu`` in eval mode;
* ``sample(n) -> [n x C x H x W]`` pixel means in [0, 1], decoded from the prior N(0, I);
* ``reconstruct(x) -> [N x C x H x W]`` pixel means, decoded from ``mu``;
* ``likelihood_logits(z, x) -> logits``: what the losses score (``decode(z)``, or teacher-forced
  for an autoregressive decoder);
* ``config() -> dict``: everything :func:`build_model` needs to rebuild it (stored in checkpoints).

Each model has a frozen config dataclass (``MLPVAEConfig``, ...) and is registered with
:func:`register_model`, so :func:`build_model` rebuilds it from a checkpoint. :func:`eval_mode` is
the one way the package evaluates a model (eval mode and no autograd, the caller's mode restored).

The conditional VAE takes the class label ``y`` (``int64 [N]``) as a second argument of each.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from .errors import ConfigError
from .losses import clamp_logvar, reparameterize


@contextmanager
def eval_mode(*modules: nn.Module, no_grad: bool = True) -> Iterator[None]:
    """Run a block with ``modules`` in eval mode (BatchNorm uses its running statistics, dropout is
    off) and, by default, without autograd; afterwards every submodule gets back the train/eval flag
    it had, also when the block raises. The one way the package evaluates a model::

        with eval_mode(model):
            mu, logvar = model.encode(x)
    """
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
    """What ``forward`` returns.

    Attributes:
        logits: ``[N x C x H x W]`` decoder logits.
        mu: ``[N x D]`` posterior means (the code itself for an autoencoder).
        logvar: ``[N x D]`` posterior log-variances, already clamped (``None`` for an autoencoder).
        z: ``[N x D]`` the latent code that was decoded.
    """

    logits: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor | None
    z: torch.Tensor


# --------------------------------------------------------------------------------------------
# Configs: one frozen dataclass per model, plain values only (they go into checkpoints)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelConfig:
    """Base of the per-model configs: validates the fields every model has."""

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


@dataclass(frozen=True)
class ConditionalVAEConfig(ModelConfig):
    """:class:`ConditionalVAE`: the number of classes, then as :class:`MLPVAEConfig`."""

    n_classes: int = 10
    image_shape: tuple[int, ...] = (1, 28, 28)
    hidden: tuple[int, ...] = (400,)
    latent_dim: int = 20


@dataclass(frozen=True)
class AutoregressiveVAEConfig(ModelConfig):
    """:class:`AutoregressiveVAE`: as :class:`MLPVAEConfig`, plus the width of the masked decoder layer."""

    image_shape: tuple[int, ...] = (1, 28, 28)
    hidden: tuple[int, ...] = (400,)
    latent_dim: int = 20
    made_hidden: int = 500


# --------------------------------------------------------------------------------------------
# The interface, and the registry that rebuilds a model from its checkpoint
# --------------------------------------------------------------------------------------------
#: Every model class by name; :func:`register_model` adds one, :func:`build_model` rebuilds from a config dict.
MODEL_REGISTRY: dict[str, type[BaseVAE]] = {}

M = TypeVar("M", bound="type[BaseVAE]")


def register_model(cls: M) -> M:
    """Class decorator: make ``cls`` rebuildable from checkpoints (:func:`build_model`)."""
    MODEL_REGISTRY[cls.__name__] = cls
    return cls


class BaseVAE(nn.Module):
    """The interface every course model implements (see the module docstring).

    A subclass sets ``Config`` (its config dataclass) and builds its layers from ``self.model_config``.
    Construct with a config, keyword overrides, or both: ``MLPVAE(latent_dim=2)``,
    ``MLPVAE(MLPVAEConfig(latent_dim=2))``.
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
        """``z`` ``[N x D]`` -> logits ``[N x C x H x W]``."""
        raise NotImplementedError(
            f"{type(self).__name__}.decode is not implemented: define decode(self, z, y=None) returning "
            "logits [N x C x H x W] for codes z [N x D]."
        )

    # -- shared ------------------------------------------------------------------------------
    def likelihood_logits(self, z: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``[N x C x H x W]`` of p(x | z) *at the observed* ``x``: what every loss scores.

        For most models that is ``decode(z)``; an autoregressive decoder overrides it to condition
        each pixel on the true earlier pixels of ``x`` (teacher forcing)."""
        return self.decode(z, y)

    @property
    def is_variational(self) -> bool:
        return True

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> VAEOutput:
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
        """Decode ``n`` latents drawn from N(mean, diag(std^2)) (default the prior N(0, I)).

        Returns pixel means ``[n x C x H x W]`` in [0, 1].  ``generator`` is a CPU generator.
        """
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


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _numel(shape: Sequence[int]) -> int:
    return int(math.prod(shape))


# --------------------------------------------------------------------------------------------
# The models
# --------------------------------------------------------------------------------------------
@register_model
class MLPVAE(BaseVAE):
    """Fully connected VAE; the default 784-400-20 is pytorch/examples' (652,824 parameters).

    Kingma & Welling (2014) used 500 hidden units on MNIST. Config: :class:`MLPVAEConfig`.
    """

    Config = MLPVAEConfig

    def __init__(self, config: MLPVAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        hidden, n_in = self.model_config.hidden, _numel(self.image_shape)
        self.encoder = nn.Sequential(*_mlp([n_in, *hidden]), nn.ReLU())  # [N x 784] -> [N x 400]
        self.to_stats = nn.Linear(hidden[-1], 2 * self.latent_dim)  # -> [N x 2D]: mu and logvar
        self.decoder = _mlp([self.latent_dim, *reversed(hidden), n_in])  # [N x D] -> [N x 784] logits

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self._split(self.to_stats(self.encoder(x.flatten(1))))

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z).view(-1, *self.image_shape)


@register_model
class AE(MLPVAE):
    """Deterministic autoencoder with the MLP VAE's layout (784-400-20 has 644,804 parameters).

    ``encode`` returns ``(z, None)``; ``sample`` decodes N(0, I) latents unless given the
    ``mean``/``std`` of the encoded training set, which is how notebook 01 shows its "holes".
    """

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


@register_model
class ConditionalVAE(BaseVAE):
    """MLP VAE conditioned on a class label: q(z|x, y) and p(x|z, y) (:class:`ConditionalVAEConfig`).

    The one-hot label is concatenated to the encoder's input and to the decoder's input.
    """

    Config = ConditionalVAEConfig
    conditional = True

    def __init__(self, config: ConditionalVAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        hidden, n_in = self.model_config.hidden, _numel(self.image_shape)
        self.n_classes = self.model_config.n_classes
        self.encoder = nn.Sequential(*_mlp([n_in + self.n_classes, *hidden]), nn.ReLU())  # [N x 794] -> [N x 400]
        self.to_stats = nn.Linear(hidden[-1], 2 * self.latent_dim)
        self.decoder = _mlp([self.latent_dim + self.n_classes, *reversed(hidden), n_in])  # [N x D+10] -> [N x 784]

    def _onehot(self, y: torch.Tensor | None, n: int) -> torch.Tensor:
        if y is None:
            raise ValueError("ConditionalVAE needs the class labels y (int64 [N]).")
        y = torch.as_tensor(y, device=self.device).long().reshape(-1)
        if y.numel() == 1 and n > 1:
            y = y.expand(n)
        return nn.functional.one_hot(y, self.n_classes).float()

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self._split(self.to_stats(self.encoder(torch.cat([x.flatten(1), self._onehot(y, len(x))], 1))))

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(torch.cat([z, self._onehot(y, len(z))], 1)).view(-1, *self.image_shape)


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 ``mask`` ``[out x in]``."""

    def __init__(self, n_in: int, n_out: int, mask: torch.Tensor) -> None:
        super().__init__(n_in, n_out)
        self.register_buffer("mask", mask.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


@register_model
class AutoregressiveVAE(BaseVAE):
    """A VAE with a *strong* decoder: p(x | z) = prod_i p(x_i | x_<i, z), a MADE conditioned on z.

    The encoder is :class:`MLPVAE`'s. The decoder sees every earlier pixel (raster order) through
    masked weights (Germain et al. 2015): a hidden layer (``made_hidden`` units, MADE degrees
    assigned cyclically) plus a direct masked connection from each earlier pixel, and ``z`` enters
    both the hidden layer and the output. Because the previous pixels already predict the next one
    well, the decoder can model the images *without* z: trained on the plain ELBO, the KL term
    pushes q(z|x) onto the prior and the latent code is ignored, which is posterior collapse
    (Bowman et al. 2016; Chen et al. 2017). Notebook 09 uses it. Config: :class:`AutoregressiveVAEConfig`.
    """

    Config = AutoregressiveVAEConfig

    def __init__(self, config: AutoregressiveVAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        hidden, made_hidden, n = self.model_config.hidden, self.model_config.made_hidden, _numel(self.image_shape)
        self.encoder = nn.Sequential(*_mlp([n, *hidden]), nn.ReLU())  # [N x n] -> [N x hidden]
        self.to_stats = nn.Linear(hidden[-1], 2 * self.latent_dim)
        degree_in = torch.arange(1, n + 1)  # pixel i (1-based, raster order)
        degree_hidden = torch.arange(made_hidden) % (n - 1) + 1  # each hidden unit sees pixels 1..m_k
        self.x_to_hidden = MaskedLinear(n, made_hidden, degree_hidden[:, None] >= degree_in[None, :])
        self.hidden_to_out = MaskedLinear(made_hidden, n, degree_in[:, None] > degree_hidden[None, :])
        self.direct = MaskedLinear(n, n, degree_in[:, None] > degree_in[None, :])  # strictly earlier pixels
        self.z_to_hidden = nn.Linear(self.latent_dim, made_hidden)
        self.z_to_out = nn.Linear(self.latent_dim, n)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self._split(self.to_stats(self.encoder(x.flatten(1))))

    def likelihood_logits(self, z: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``[N x C x H x W]`` of every pixel given z ``[N x D]`` and the *true* earlier pixels of x."""
        xf = x.flatten(1)  # [N x n]
        h = torch.relu(self.x_to_hidden(xf) + self.z_to_hidden(z))  # [N x made_hidden]
        return (self.hidden_to_out(h) + self.direct(xf) + self.z_to_out(z)).view(-1, *self.image_shape)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Generate pixel by pixel (one pass per pixel), each set to its conditional mean sigmoid(logit):
        a greedy decoding of the autoregressive model. Returns the logits of the final pass."""
        x = torch.zeros(len(z), *self.image_shape, device=z.device)
        flat = x.view(len(z), -1)
        logits = self.likelihood_logits(z, x)
        for i in range(flat.shape[1]):
            logits = self.likelihood_logits(z, x)
            flat[:, i] = torch.sigmoid(logits.view(len(z), -1)[:, i])
        return logits


@torch.no_grad()
def layer_table(model: BaseVAE, batch: int = 2) -> list[tuple[str, str, tuple[int, ...], int]]:
    """Trace a dummy batch through the encoder and the decoder, layer by layer.

    Returns rows ``(part, layer, output shape without the batch axis, parameters of the layer)`` for every leaf
    module that the pass calls, in call order: a printable check of the shape comments in the source.
    """
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

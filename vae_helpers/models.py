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
* ``config() -> dict``: everything :func:`build_model` needs to rebuild it (stored in checkpoints).

The conditional VAE takes the class label ``y`` (``int64 [N]``) as a second argument of each.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch
from torch import nn

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


class BaseVAE(nn.Module):
    """The interface every course model implements (see the module docstring)."""

    conditional: bool = False  # a constant of the class, never mutated

    def __init__(self, image_shape: Sequence[int], latent_dim: int) -> None:
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        self.latent_dim = int(latent_dim)
        self._hparams: dict[str, Any] = {}

    # -- to implement ------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------
    @property
    def is_variational(self) -> bool:
        return True

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> VAEOutput:
        mu, logvar = self.encode(x, y)
        z = reparameterize(mu, logvar) if (self.training and logvar is not None) else mu
        return VAEOutput(self.decode(z, y), mu, logvar, z)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | None = None, mean: torch.Tensor | None = None,
               std: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
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
        """Constructor arguments plus the registry name (plain Python values, checkpoint-safe)."""
        return {"name": type(self).__name__, **self._hparams}

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


class MLPVAE(BaseVAE):
    """Fully connected VAE; the default is Kingma & Welling's / pytorch/examples' 784-400-20.

    Args:
        image_shape: ``(C, H, W)`` of the input, default ``(1, 28, 28)``.
        hidden: hidden layer widths of the encoder (the decoder mirrors them), default ``(400,)``.
        latent_dim: D, default 20.  784-400-20 has 652,824 parameters.
    """

    def __init__(self, image_shape: Sequence[int] = (1, 28, 28), hidden: Sequence[int] = (400,), latent_dim: int = 20) -> None:
        super().__init__(image_shape, latent_dim)
        self._hparams = {"image_shape": list(self.image_shape), "hidden": list(hidden), "latent_dim": latent_dim}
        n_in = int(torch.tensor(self.image_shape).prod())
        self.encoder = nn.Sequential(*_mlp([n_in, *hidden]), nn.ReLU())  # [N x 784] -> [N x 400]
        self.to_stats = nn.Linear(hidden[-1], 2 * latent_dim)  # -> [N x 2D]: mu and logvar
        self.decoder = _mlp([latent_dim, *reversed(hidden), n_in])  # [N x D] -> [N x 784] logits

    def encode(self, x, y=None):
        return self._split(self.to_stats(self.encoder(x.flatten(1))))

    def decode(self, z, y=None):
        return self.decoder(z).view(-1, *self.image_shape)


class AE(MLPVAE):
    """Deterministic autoencoder with the MLP VAE's layout (784-400-20 has 644,804 parameters).

    ``encode`` returns ``(z, None)``; ``sample`` decodes N(0, I) latents unless given the
    ``mean``/``std`` of the encoded training set, which is how notebook 01 shows its "holes".
    """

    def __init__(self, image_shape: Sequence[int] = (1, 28, 28), hidden: Sequence[int] = (400,), latent_dim: int = 20) -> None:
        super().__init__(image_shape, hidden, latent_dim)
        self.to_stats = nn.Linear(hidden[-1], latent_dim)  # -> [N x D]: the code itself

    @property
    def is_variational(self) -> bool:
        return False

    def encode(self, x, y=None):
        return self.to_stats(self.encoder(x.flatten(1))), None


class ConvVAE(BaseVAE):
    """Convolutional VAE for 28x28 single-channel images.

    Args:
        latent_dim: D, default 20.
        channels: widths of the two stride-2 conv layers, default ``(32, 64)``.
        hidden: width of the fully connected layer between convs and latent, default 256.
    """

    def __init__(self, latent_dim: int = 20, channels: Sequence[int] = (32, 64), hidden: int = 256, in_channels: int = 1) -> None:
        super().__init__((in_channels, 28, 28), latent_dim)
        self._hparams = {"latent_dim": latent_dim, "channels": list(channels), "hidden": hidden, "in_channels": in_channels}
        c1, c2 = channels
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, c1, 4, stride=2, padding=1), nn.ReLU(),  # 28x28 -> 14x14
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.ReLU(),  # 14x14 -> 7x7
            nn.Flatten(),  # [N x c2*7*7]
            nn.Linear(c2 * 7 * 7, hidden), nn.ReLU(),
            nn.Linear(hidden, 2 * latent_dim),  # [N x 2D]
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, c2 * 7 * 7), nn.ReLU(),
            nn.Unflatten(1, (c2, 7, 7)),  # [N x c2 x 7 x 7]
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),  # 7x7 -> 14x14
            nn.ConvTranspose2d(c1, in_channels, 4, stride=2, padding=1),  # 14x14 -> 28x28 logits
        )

    def encode(self, x, y=None):
        return self._split(self.encoder(x))

    def decode(self, z, y=None):
        return self.decoder(z)


class ConvVAE64(BaseVAE):
    """Convolutional VAE for 64x64 RGB faces, with BatchNorm (the CelebA model).

    Args:
        latent_dim: D, default 128.
        channels: widths of the four stride-2 conv layers, default ``(32, 64, 128, 256)``.
    """

    def __init__(self, latent_dim: int = 128, channels: Sequence[int] = (32, 64, 128, 256)) -> None:
        super().__init__((3, 64, 64), latent_dim)
        self._hparams = {"latent_dim": latent_dim, "channels": list(channels)}
        widths = [3, *channels]
        down: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):  # 64 -> 32 -> 16 -> 8 -> 4
            down += [nn.Conv2d(a, b, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2)]
        self.encoder = nn.Sequential(*down, nn.Flatten())  # [N x 256*4*4]
        self.to_stats = nn.Linear(channels[-1] * 16, 2 * latent_dim)
        self.from_latent = nn.Sequential(nn.Linear(latent_dim, channels[-1] * 16), nn.Unflatten(1, (channels[-1], 4, 4)))
        up: list[nn.Module] = []
        rev = list(reversed(channels))
        for a, b in zip(rev[:-1], rev[1:]):  # 4 -> 8 -> 16 -> 32
            up += [nn.ConvTranspose2d(a, b, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2)]
        up.append(nn.ConvTranspose2d(rev[-1], 3, 4, stride=2, padding=1))  # 32 -> 64, 3 channels of logits
        self.decoder = nn.Sequential(*up)

    def encode(self, x, y=None):
        return self._split(self.to_stats(self.encoder(x)))

    def decode(self, z, y=None):
        return self.decoder(self.from_latent(z))


class ConditionalVAE(BaseVAE):
    """MLP VAE conditioned on a class label: q(z|x, y) and p(x|z, y).

    The one-hot label is concatenated to the encoder's input and to the decoder's input.

    Args:
        n_classes: number of classes, default 10.
        image_shape, hidden, latent_dim: as :class:`MLPVAE`.
    """

    conditional = True

    def __init__(self, n_classes: int = 10, image_shape: Sequence[int] = (1, 28, 28), hidden: Sequence[int] = (400,),
                 latent_dim: int = 20) -> None:
        super().__init__(image_shape, latent_dim)
        self._hparams = {"n_classes": n_classes, "image_shape": list(self.image_shape), "hidden": list(hidden), "latent_dim": latent_dim}
        self.n_classes = n_classes
        n_in = int(torch.tensor(self.image_shape).prod())
        self.encoder = nn.Sequential(*_mlp([n_in + n_classes, *hidden]), nn.ReLU())
        self.to_stats = nn.Linear(hidden[-1], 2 * latent_dim)
        self.decoder = _mlp([latent_dim + n_classes, *reversed(hidden), n_in])

    def _onehot(self, y: torch.Tensor | None, n: int) -> torch.Tensor:
        if y is None:
            raise ValueError("ConditionalVAE needs the class labels y (int64 [N]).")
        y = torch.as_tensor(y, device=self.device).long().reshape(-1)
        if y.numel() == 1 and n > 1:
            y = y.expand(n)
        return nn.functional.one_hot(y, self.n_classes).float()

    def encode(self, x, y=None):
        return self._split(self.to_stats(self.encoder(torch.cat([x.flatten(1), self._onehot(y, len(x))], 1))))

    def decode(self, z, y=None):
        return self.decoder(torch.cat([z, self._onehot(y, len(z))], 1)).view(-1, *self.image_shape)


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
                _rows.append((part[0], mod.__class__.__name__, tuple(out.shape[1:]), sum(p.numel() for p in mod.parameters())))
            hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        device = model.device
        y = torch.zeros(batch, dtype=torch.long, device=device) if model.conditional else None
        mu, _ = model.encode(torch.zeros(batch, *model.image_shape, device=device), y)
        part[0] = "decoder"
        model.decode(torch.zeros(batch, model.latent_dim, device=device), y)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return rows


def format_layer_table(model: BaseVAE) -> str:
    """:func:`layer_table` as aligned text, with the input shape on top and the total parameter count below."""
    lines = [f"{'part':8s} {'layer':16s} {'output shape':>16s} {'parameters':>11s}",
             f"{'input':8s} {'':16s} {str(tuple(model.image_shape)):>16s} {'':>11s}"]
    for part, layer, shape, params in layer_table(model):
        lines.append(f"{part:8s} {layer:16s} {str(shape):>16s} {params:11,d}")
    lines.append(f"{'total':8s} {'':16s} {'':>16s} {model.num_parameters():11,d}")
    return "\n".join(lines)

MODEL_REGISTRY: dict[str, type[BaseVAE]] = {cls.__name__: cls for cls in (AE, MLPVAE, ConvVAE, ConvVAE64, ConditionalVAE)}


def build_model(config: dict[str, Any]) -> BaseVAE:
    """Rebuild a model from :meth:`BaseVAE.config` output (e.g. read from a checkpoint)."""
    config = dict(config)
    name = config.pop("name", None)
    if name not in MODEL_REGISTRY:
        raise ValueError(f"Unknown model {name!r}; known models: {', '.join(MODEL_REGISTRY)}.")
    return MODEL_REGISTRY[name](**config)

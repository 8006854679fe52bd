"""The MLP VAE's two variants: conditioned on a class label (:class:`ConditionalVAE`), and with an autoregressive
decoder strong enough to ignore the latent code (:class:`AutoregressiveVAE`). Both are in :mod:`vae_helpers.models`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .model_base import BaseVAE, ModelConfig, mlp_layers, num_elements, register_model


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


@register_model
class ConditionalVAE(BaseVAE):
    """MLP VAE conditioned on a class label, q(z|x, y) and p(x|z, y): the one-hot label joins both inputs."""

    Config = ConditionalVAEConfig
    conditional = True

    def __init__(self, config: ConditionalVAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        hidden, n_in = self.model_config.hidden, num_elements(self.image_shape)
        self.n_classes = self.model_config.n_classes
        self.encoder = nn.Sequential(*mlp_layers([n_in + self.n_classes, *hidden]), nn.ReLU())  # [N x 794] -> [N x 400]
        self.to_stats = nn.Linear(hidden[-1], 2 * self.latent_dim)
        # [N x D+10] -> [N x 784] logits
        self.decoder = mlp_layers([self.latent_dim + self.n_classes, *reversed(hidden), n_in])

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
    """A VAE with a *strong* decoder: p(x | z) = prod_i p(x_i | x_<i, z), a MADE (Germain et al. 2015) given z.

    The encoder is :class:`MLPVAE`'s. Each pixel (raster order) sees the earlier ones through a masked hidden layer
    (``made_hidden`` units) and a direct masked connection; z enters both. The decoder can model the images without
    z, so on the plain ELBO the latent code is ignored: posterior collapse (Bowman et al. 2016; Chen et al. 2017).
    """

    Config = AutoregressiveVAEConfig

    def __init__(self, config: AutoregressiveVAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        hidden, made_hidden, n = self.model_config.hidden, self.model_config.made_hidden, num_elements(self.image_shape)
        self.encoder = nn.Sequential(*mlp_layers([n, *hidden]), nn.ReLU())  # [N x n] -> [N x hidden]
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
        """Generate greedily, pixel by pixel (one pass each), each set to its conditional mean sigmoid(logit);
        returns the logits of the final pass."""
        x = torch.zeros(len(z), *self.image_shape, device=z.device)
        flat = x.view(len(z), -1)
        logits = self.likelihood_logits(z, x)
        for i in range(flat.shape[1]):
            logits = self.likelihood_logits(z, x)
            flat[:, i] = torch.sigmoid(logits.view(len(z), -1)[:, i])
        return logits

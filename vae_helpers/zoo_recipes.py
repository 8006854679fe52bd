"""The recipes of the zoo's models (model, dataset, training config and seed), in :data:`RECIPES` by name."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from .config import fast_mode
from .errors import ConfigError


@dataclass(frozen=True)
class Recipe:
    """How one zoo model is made: trained on 90% of the official training set (seed 0), scored on the test set.

    Attributes:
        model: registry name and config fields, e.g. ``{"name": "MLPVAE", "latent_dim": 20}``.
        train: :class:`TrainConfig` fields; ``beta`` may be ``{"linear": fraction}`` or ``{"cyclical": n_cycles}``.
        train_images: training images (``None``: the whole training split).
        fast: overrides for fast mode (``VAE_FAST=1``).
        full_training_set: train on all 60,000 official training images, validating on the test set.
    """

    name: str
    model: dict[str, Any]
    dataset: str
    train: dict[str, Any]
    purpose: str
    notebooks: tuple[str, ...]
    train_images: int | None = None
    fast: dict[str, Any] = field(default_factory=lambda: {"epochs": 2, "train_images": 4000})
    full_training_set: bool = False

    def settings(self) -> tuple[dict[str, Any], int | None]:
        """The training config fields and image count for this run (fast mode applies :attr:`fast`)."""
        train, images = dict(self.train), self.train_images
        if fast_mode():
            train.update({k: v for k, v in self.fast.items() if k != "train_images"})
            images = self.fast.get("train_images", images)
        return train, images


#: At most 30 epochs, early stopping on the validation loss (patience 5), keeping the best epoch's weights.
EARLY_STOPPING = {"epochs": 30, "patience": 5, "seed": 0}


def _recipes() -> dict[str, Recipe]:
    mlp = lambda d: {"name": "MLPVAE", "latent_dim": d}  # noqa: E731
    recipes = [
        Recipe(
            "fashion-vae-d20",
            mlp(20),
            "fashion-mnist",
            EARLY_STOPPING,
            "784-400-20 VAE, the course's reference model",
            ("00", "03", "04", "05", "06", "07", "11"),
        ),
        Recipe(
            "fashion-vae-d20-mean-bce",
            mlp(20),
            "fashion-mnist",
            {**EARLY_STOPPING, "beta": 784.0},
            "the 784-400-20 VAE trained with BCE averaged over pixels (the pitfall: beta = 784)",
            ("03",),
        ),
        Recipe(
            "fashion-ae-d20",
            {"name": "AE", "latent_dim": 20},
            "fashion-mnist",
            EARLY_STOPPING,
            "784-400-20 deterministic autoencoder",
            ("01", "05", "11"),
        ),
        Recipe(
            "fashion-ae-d2",
            {"name": "AE", "latent_dim": 2},
            "fashion-mnist",
            EARLY_STOPPING,
            "784-400-2 deterministic autoencoder",
            ("01", "05"),
        ),
        Recipe(
            "mnist-vae-d20",
            mlp(20),
            "mnist",
            {"epochs": 10, "seed": 1},
            "pytorch/examples' setting: 784-400-20 on all 60,000 MNIST images, 10 epochs, seed 1",
            ("11",),
            full_training_set=True,
        ),
        Recipe(
            "fashion-conv-vae-d20",
            {"name": "ConvVAE", "latent_dim": 20},
            "fashion-mnist",
            EARLY_STOPPING,
            "conv VAE (2 stride-2 convs, fc 256, D=20)",
            ("06",),
        ),
    ]
    for d in (2, 5, 10, 50, 100):
        used = ("05", "07", "11") if d == 2 else ("07", "08", "09") if d == 10 else ("07",)
        recipes.append(
            Recipe(
                f"fashion-vae-d{d}",
                mlp(d),
                "fashion-mnist",
                EARLY_STOPPING,
                f"784-400-{d} VAE (latent-size study)",
                used,
            )
        )
    for beta in (0.5, 2.0, 4.0, 8.0):
        recipes.append(
            Recipe(
                f"fashion-beta-vae-d10-beta{beta:g}",
                mlp(10),
                "fashion-mnist",
                {**EARLY_STOPPING, "beta": beta},
                f"784-400-10 beta-VAE, beta = {beta:g}",
                ("08",),
            )
        )
    collapse = {"epochs": 12, "seed": 0, "lr": 3e-3}  # a fast-learning decoder: "none" collapses (KL < 0.3 nats)
    ar = {"name": "AutoregressiveVAE", "latent_dim": 20}
    for run, extra in (
        ("none", {}),
        ("linear", {"beta": {"linear": 0.5}}),
        ("cyclical", {"beta": {"cyclical": 4}}),
        ("free-bits", {"free_bits": 0.25}),
    ):
        recipes.append(
            Recipe(
                f"fashion-ar-vae-{run}",
                ar,
                "fashion-mnist",
                {**collapse, **extra},
                f"VAE with an autoregressive decoder, KL annealing: {run}",
                ("09",),
                train_images=30000,
            )
        )
    recipes += [
        Recipe(
            "fashion-cvae-d10",
            {"name": "ConditionalVAE", "latent_dim": 10},
            "fashion-mnist",
            EARLY_STOPPING,
            "conditional VAE (label into encoder and decoder), D=10",
            ("09",),
        ),
        Recipe(
            "fashion-vae-d10-gauss-mse",
            mlp(10),
            "fashion-mnist",
            {**EARLY_STOPPING, "likelihood": "gaussian", "sigma": math.sqrt(0.5)},
            "784-400-10 VAE with a Gaussian decoder, sigma^2 = 1/2 (MSE)",
            ("08",),
        ),
        Recipe(
            "fashion-vae-d10-gauss-0.1",
            mlp(10),
            "fashion-mnist",
            {**EARLY_STOPPING, "likelihood": "gaussian", "sigma": 0.1},
            "784-400-10 VAE with a Gaussian decoder, sigma = 0.1",
            ("08",),
        ),
    ]
    return {r.name: r for r in recipes}


RECIPES: dict[str, Recipe] = _recipes()


def recipe(name: str) -> Recipe:
    """The recipe called ``name``; a typo gets the list of names."""
    if name not in RECIPES:
        raise ConfigError(f"No zoo model {name!r}. The zoo has: {', '.join(RECIPES)}.")
    return RECIPES[name]


def recipe_record(r: Recipe) -> dict[str, Any]:
    """The recipe as plain JSON data (what the weights files record)."""
    return json.loads(json.dumps(dataclasses.asdict(r)))

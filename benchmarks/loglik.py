"""loglik: test log-likelihood on dynamically binarized MNIST (training images re-binarized every epoch, the test set
binarized once with a fixed seed), estimated with the IWAE bound at k=5000, for the MLP VAE and the conv VAE, next to
Burda et al. (2015), one stochastic layer: VAE -86.76, IWAE (k=50) -84.78."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from vae_helpers.config import get_device, seed_everything
from vae_helpers.data import ImageDataset, load_dataset
from vae_helpers.evaluation import evaluate, iwae_log_likelihood
from vae_helpers.models import MLPVAE, ConvVAE
from vae_helpers.training import TrainConfig, fit

from .machine import machine_line
from .reference import BURDA_IWAE_K50, BURDA_VAE, TEST_BINARIZATION_SEED, binarized_test_split
from .roofline import decoder_roofline, epoch_limit_seconds


@dataclass
class LoglikRow:
    model: str
    parameters: int
    epochs: int
    seconds: float
    iwae_seconds: float
    elbo: float
    iwae: float
    k: int
    n_test: int


def loglik(
    epochs: int = 100,
    k: int = 5000,
    n_test: int | None = None,
    device: torch.device | None = None,
    models: tuple[str, ...] = ("mlp", "conv"),
    train_limit: int | None = None,
    lr: float = 1e-3,
) -> list[LoglikRow]:
    """Train on dynamically binarized MNIST and estimate test log p(x) with the IWAE bound."""
    device = device or get_device()
    mnist = load_dataset("mnist")
    data = mnist.subset(train=train_limit)
    test = binarized_test_split(mnist.test).head(n_test)
    data = ImageDataset(
        data.name, data.train, binarized_test_split(data.val), test, data.class_names, data.source, data.note
    )
    rows = []
    limits: list[tuple[float, float]] = []
    builders = {"mlp": lambda: MLPVAE(hidden=(400,), latent_dim=50), "conv": lambda: ConvVAE(latent_dim=50)}
    for name in models:
        seed_everything(0)
        model = builders[name]()
        started = time.perf_counter()
        result = fit(
            model, data, TrainConfig(epochs=epochs, lr=lr, binarize=True, seed=0, progress=False), device=device
        )
        seconds = time.perf_counter() - started
        elbo = evaluate(model, test).elbo
        chunk = min(k, 1000)
        started = time.perf_counter()
        iwae = iwae_log_likelihood(model, test, k=k, batch_size=max(1, 20000 // chunk), chunk=chunk)
        iwae_seconds = time.perf_counter() - started
        train_limit_s = len(result.history["epoch"]) * epoch_limit_seconds(model, len(data.train), len(data.val))
        # the decoder's products at the rows iwae_log_likelihood decodes at once (its tile: one chunk of one image)
        iwae_limit_s = decoder_roofline(model, chunk).seconds / chunk * len(test) * k
        limits.append((seconds / train_limit_s, iwae_seconds / iwae_limit_s))
        rows.append(
            LoglikRow(
                f"{type(model).__name__} (D=50)",
                model.num_parameters(),
                len(result.history["epoch"]),
                seconds,
                iwae_seconds,
                elbo,
                iwae,
                k,
                len(test),
            )
        )
    print(f"\n### Test log-likelihood, dynamically binarized MNIST (test binarization seed {TEST_BINARIZATION_SEED})\n")
    print(machine_line(device) + "\n")
    print(
        "| model | parameters | epochs | train wall s (/ fp32 matmul limit) | test ELBO | IWAE bound (k) "
        "| IWAE wall s (/ fp32 matmul limit) | test images |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r, (train_x, iwae_x) in zip(rows, limits):
        print(
            f"| {r.model} | {r.parameters:,} | {r.epochs} | {r.seconds:.0f} ({train_x:.2f}x) | {r.elbo:.2f} "
            f"| {r.iwae:.2f} (k={r.k}) | {r.iwae_seconds:.0f} ({iwae_x:.2f}x) | {r.n_test:,} |"
        )
    print(f"| Burda et al. 2015, VAE, 1 stochastic layer | | 3,280 passes | | | {BURDA_VAE} (k=5000) | | 10,000 |")
    print(
        f"| Burda et al. 2015, IWAE k=50, 1 stochastic layer | | 3,280 passes | | | {BURDA_IWAE_K50} (k=5000) | | 10,000 |"
    )
    return rows

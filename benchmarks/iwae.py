"""iwae: the IWAE bound's speed, the textbook computation against ``iwae_log_likelihood`` (fp32 and a bf16 decoder),
against the decoder's matmul limit, projected to the full 10,000-image test set."""

from __future__ import annotations

import statistics
import time

import torch

from vae_helpers.config import get_device, native_bf16, seed_everything
from vae_helpers.data import load_dataset
from vae_helpers.evaluation import iwae_log_likelihood
from vae_helpers.models import MLPVAE
from vae_helpers.training import TrainConfig, fit

from .machine import machine_line
from .reference import binarized_test_split, iwae_direct
from .roofline import decoder_roofline


def iwae_speed(
    n_images: int = 20,
    k: int = 5000,
    epochs: int = 2,
    repeats: int = 2,
    latent_dim: int = 50,
    full_test_set: int = 10_000,
    direct: bool = True,
    device: torch.device | None = None,
    train_limit: int | None = None,
) -> dict:
    """The IWAE bound of the MLP VAE (784-400-D, trained ``epochs`` on binarized MNIST) on ``n_images``
    test images at ``k`` samples, by the direct computation and by :func:`iwae_log_likelihood` in fp32 and
    bf16, alternating ``repeats`` times. Prints microseconds per sample, the decoder's matmul limit, the
    projected time for ``full_test_set`` images and how far each bound is from the fp32 one."""

    device = device or get_device()
    mnist = load_dataset("mnist")
    data = mnist.subset(train=train_limit)
    seed_everything(0)
    model = MLPVAE(hidden=(400,), latent_dim=latent_dim)
    fit(model, data, TrainConfig(epochs=epochs, binarize=True, progress=False), device=device)
    test = binarized_test_split(mnist.test).head(n_images)
    chunk = min(k, 1000)
    kwargs = {"k": k, "batch_size": max(1, min(n_images, 20000 // chunk)), "chunk": chunk}
    variants = {"iwae_log_likelihood fp32": lambda: iwae_log_likelihood(model, test, return_per_image=True, **kwargs)}
    variants["iwae_log_likelihood bf16 decoder"] = lambda: iwae_log_likelihood(
        model, test, return_per_image=True, precision="bf16", **kwargs
    )
    if direct:
        variants = {"direct (textbook)": lambda: iwae_direct(model, test, **kwargs), **variants}
    times: dict[str, list[float]] = {v: [] for v in variants}
    values: dict[str, torch.Tensor] = {}
    for _ in range(repeats):
        for label, run in variants.items():
            started = time.perf_counter()
            values[label] = run()
            times[label].append(time.perf_counter() - started)
    rows = chunk  # the tile iwae_log_likelihood decodes at once (at most chunk samples of one image)
    limit = decoder_roofline(model, rows)
    limit_bf16 = decoder_roofline(model, rows, torch.bfloat16)
    samples = n_images * k
    per_sample_limit = limit.seconds / rows
    print(
        f"\n### IWAE bound speed: MLP VAE 784-400-{latent_dim} ({epochs} epochs), k={k}, {n_images} binarized test images, "
        f"{repeats} alternating repeats\n"
    )
    print(machine_line(device) + "\n")
    print(
        f"decoder: {limit.flops / rows / 1e6:.2f} MFLOP per sample; matmul limit {per_sample_limit * 1e6:.2f} us/sample "
        f"(fp32, {limit.rate / 1e9:.0f} GFLOP/s), {limit_bf16.seconds / rows * 1e6:.2f} us/sample (bf16, "
        f"{limit_bf16.rate / 1e9:.0f} GFLOP/s); native bf16: {'yes' if native_bf16(device) else 'no'}\n"
    )
    print(
        f"| computation | us / sample | time / fp32 matmul limit | projected {full_test_set:,} images x k={k} | bound (nats) | vs fp32 |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    ref = values["iwae_log_likelihood fp32"].mean().item()
    summary = {}
    for label in variants:
        t = statistics.median(times[label]) / samples
        bound = values[label].mean().item()
        summary[label] = {
            "us_per_sample": t * 1e6,
            "of_limit": t / per_sample_limit,
            "projected_s": t * full_test_set * k,
            "bound": bound,
            "difference": bound - ref,
        }
        print(
            f"| {label} | {t * 1e6:.2f} | {t / per_sample_limit:.2f}x | {t * full_test_set * k / 60:.1f} min | {bound:.3f} | {bound - ref:+.4f} |"
        )
    return {"limit": limit, "limit_bf16": limit_bf16, "summary": summary}

"""course: every training run of the course's retrain path (each zoo recipe once, notebook 10's CelebA VAE, notebook
06's timed epochs) at the machine's matmul limit: with every thread of one job, with one thread (each job of a
parallel ``tools.course --train``), and in bf16 where the CPU has it natively. The least time the course's epochs
can take here."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

import torch
from torch import nn

from vae_helpers.config import get_device, native_bf16
from vae_helpers.models import MLPVAE, ConvVAE

from . import REPO_ROOT
from .machine import machine_line
from .roofline import PerImageLimit, per_image_limit


@dataclass
class CourseTraining:
    """One training run of the retrain path: images, epochs, FLOPs and its matmul limit in seconds."""

    name: str
    model: str
    images: int
    epochs: int
    flops: float
    limit: float
    limit_1thread: float
    limit_bf16_1thread: float | None


def celeba_epochs(default: int = 60) -> int:
    """The epochs notebook 10's committed full run trained (early stopping), else its EPOCHS bound."""

    try:
        nb = json.loads((REPO_ROOT / "notebooks" / "10_celeba_faces.ipynb").read_text())
    except (OSError, ValueError):
        return default
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            found = re.search(r"(\d+) epochs \(\w+\), [\d,]+ steps, \d+ s of training", "".join(out.get("text", "")))
            if found:
                return int(found.group(1))
    return default


def course_runs() -> list[tuple[str, nn.Module, int, int, int, int]]:
    """``(name, model, training images, validation images, epochs, batch)`` of every training run of the
    retrain path: each zoo recipe once (the epochs its zoo run took), 10's CelebA VAE, 06's timed epochs."""
    from vae_helpers.models import ConvVAE64, build_model
    from vae_helpers.zoo import RECIPES, read_manifest

    manifest = read_manifest()["models"]
    runs = []
    for name, r in RECIPES.items():
        images = r.train_images or (60_000 if r.full_training_set else 54_000)
        epochs = int(manifest.get(name, {}).get("epochs_run", r.train["epochs"]))
        val = 10_000 if r.full_training_set else 6_000
        runs.append((name, build_model(r.model), images, val, epochs, r.train.get("batch_size", 128)))
    runs.append(("10: CelebA VAE, D=128", ConvVAE64(latent_dim=128), 4_560, 780, celeba_epochs(), 64))
    runs.append(("06: one timed epoch, MLP VAE", MLPVAE(), 54_000, 6_000, 1, 128))
    runs.append(("06: one timed epoch, conv VAE", ConvVAE(), 54_000, 6_000, 1, 128))
    return runs


def course_training(
    device: torch.device | None = None, min_run_time: float = 0.2, val_batch: int = 1000
) -> list[CourseTraining]:
    """Every training run of the course's retrain path (:func:`course_runs`) at the machine's matmul limit,
    with every thread of one job, with one thread (what each job of ``tools.course --train`` has when
    several run side by side), and with one thread in bfloat16 where the CPU has it natively (validation timed at
    batch ``val_batch``, as ``fit`` validates). Prints the table and the totals: the least time the course's epochs
    need on this machine."""

    device = device or get_device()
    bf16 = native_bf16(device)
    limits: dict[str, PerImageLimit] = {}
    rows = []
    for name, model, images, val, epochs, batch in course_runs():
        model = model.to(device)
        key = repr((model.config(), batch))  # the sweeps share architectures: time each once
        if key not in limits:
            limits[key] = per_image_limit(model, batch, bf16, min_run_time, val_batch)
        p = limits[key]
        limit, limit_1thread, limit_bf16 = p.epoch_seconds(images, val)
        rows.append(
            CourseTraining(
                name,
                type(model).__name__,
                images,
                epochs,
                epochs * (images * p.train_flops + val * p.val_flops),
                epochs * limit,
                epochs * limit_1thread,
                None if limit_bf16 is None else epochs * limit_bf16,
            )
        )
    threads, cores = torch.get_num_threads(), os.cpu_count() or 1
    total, total_1 = sum(r.limit for r in rows), sum(r.limit_1thread for r in rows)
    total_bf16 = sum(r.limit_bf16_1thread for r in rows) if bf16 else None
    print(
        "\n### The course's training at the matmul limit (retrain path: each recipe once, 10's CelebA VAE, 06's timed epochs)\n"
    )
    print(machine_line(device) + "\n")
    print(
        f"| run | model | images x epochs | TFLOP | fp32, {threads} threads (s) | fp32, 1 thread (s) | bf16, 1 thread (s) |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        bf = "-" if r.limit_bf16_1thread is None else f"{r.limit_bf16_1thread:.0f}"
        print(
            f"| {r.name} | {r.model} | {r.images:,} x {r.epochs} | {r.flops / 1e12:.2f} | {r.limit:.0f} "
            f"| {r.limit_1thread:.0f} | {bf} |"
        )
    print(
        f"| **total** | | | {sum(r.flops for r in rows) / 1e12:.1f} | **{total:.0f}** | **{total_1:.0f}** "
        f"| {'-' if total_bf16 is None else f'**{total_bf16:.0f}**'} |\n"
    )
    print(
        f"The course's epochs need at least {total / 60:.1f} min of fp32 matrix products as one job on {threads} "
        f"threads, or {total_1 / cores / 60:.1f} min as {cores} one-thread jobs side by side (the 1-thread sum over "
        f"{cores} cores, if they do not slow each other down)"
        + ("" if total_bf16 is None else f"; {total_bf16 / cores / 60:.1f} min in bf16 (native here)")
        + ". The retrain path's 25-minute target must hold this and every notebook's evaluation."
    )
    return rows

"""jobs: one training epoch as one process on every core against one one-thread process per core side by side: how
much more work per second the parallel retrain path gets, per model kind, each epoch as a multiple of its matmul
limit at its threads; on a CPU with native bf16, the side-by-side epoch under bf16 autocast too."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch

from vae_helpers.config import native_bf16, seed_everything
from vae_helpers.data import load_dataset
from vae_helpers.models import AutoregressiveVAE
from vae_helpers.training import TrainConfig, fit

from . import REPO_ROOT
from .machine import machine_line
from .roofline import per_image_limit
from .steps import STEP_MODELS

JOB_MODELS = {**STEP_MODELS, "ar": lambda: AutoregressiveVAE(latent_dim=20)}


def one_epoch_seconds(name: str, images: int, epochs: int = 2, precision: str = "fp32") -> float:
    """Seconds of the last of ``epochs`` ``fit`` epochs (with its validation pass) of :data:`JOB_MODELS` ``name``
    on ``images`` Fashion-MNIST training images, in ``precision`` (``"fp32"`` or ``"bf16"`` autocast), with this
    process's threads: the steady state, without the process start, the data loading and the first epoch's
    warm-up."""
    data = load_dataset("fashion-mnist").subset(train=images)
    seed_everything(0)
    config = TrainConfig(epochs=epochs, seed=0, progress=False, precision=precision)
    result = fit(JOB_MODELS[name](), data, config, device=torch.device("cpu"))
    return result.history["seconds"][-1]


def epoch_processes(name: str, images: int, copies: int, threads: int, precision: str = "fp32") -> list[float]:
    """Run ``copies`` processes of :func:`one_epoch_seconds` at once, each with ``threads`` threads."""
    code = (
        "import json; from benchmarks.jobs import one_epoch_seconds; "
        f"print(json.dumps(one_epoch_seconds({name!r}, {images}, precision={precision!r})))"
    )
    # the benchmarks are not installed: the subprocess finds them (and this checkout's vae_helpers) from the repo root
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONPATH": path}
    processes = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(copies)
    ]
    seconds = []
    for p in processes:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"the epoch of {name} in a subprocess failed (exit {p.returncode})")
        seconds.append(float(json.loads(out.strip().splitlines()[-1])))
    return seconds


def jobs_side_by_side(
    models: tuple[str, ...] = ("mlp", "conv", "ar"),
    images: int = 54_000,
    bf16: bool | None = None,
    min_run_time: float = 0.2,
) -> dict[str, dict]:
    """For each model, one training epoch as one process with every core's thread, then as one one-thread
    process per core at the same time: seconds per epoch and how much more work the side-by-side processes do
    per second (``cores x alone / slowest side-by-side epoch``). What ``tools.course --train`` rests on.

    Each epoch is also printed as a multiple of its matmul limit (:func:`per_image_limit`, measured in this
    process at the model's shapes: with every thread for the lone job, with one thread for the side-by-side ones).
    ``bf16`` (default: where the CPU computes bfloat16 natively) adds the side-by-side epoch under bf16 autocast,
    against the bf16 one-thread limit, and its speed-up over the fp32 one: what a bf16 retrain path would gain."""

    cores = os.cpu_count() or 1
    if bf16 is None:
        bf16 = native_bf16(torch.device("cpu"))
    n_val = len(load_dataset("fashion-mnist").subset(train=images).val)  # one_epoch_seconds validates on it
    print(
        f"\n### One job on {cores} threads, or {cores} one-thread jobs side by side ({images:,} images and "
        f"{n_val:,} validation images, the second epoch, fp32{' and bf16' if bf16 else ''})\n"
    )
    print(machine_line(torch.device("cpu")) + "\n")
    print("s / epoch, and in brackets the slowest job's epoch as a multiple of its matmul limit at its threads.\n")
    header = (
        f"| model | 1 job, {cores} threads: s / epoch | {cores} jobs, 1 thread each: s / epoch "
        "| work per second vs 1 job |"
    )
    rule = "| --- | ---: | ---: | ---: |"
    if bf16:
        header += f" {cores} jobs, 1 thread each, bf16 autocast: s / epoch | bf16 vs fp32, side by side |"
        rule += " ---: | ---: |"
    print(header + "\n" + rule)
    results = {}
    for name in models:
        limit, limit_1thread, limit_bf16 = per_image_limit(JOB_MODELS[name](), 128, bf16, min_run_time).epoch_seconds(
            images, n_val
        )
        alone = epoch_processes(name, images, 1, cores)[0]
        side = epoch_processes(name, images, cores, 1)
        gain = cores * alone / max(side)
        results[name] = {
            "alone": alone,
            "side_by_side": side,
            "gain": gain,
            "limit": limit,
            "limit_1thread": limit_1thread,
        }
        row = (
            f"| {name} | {alone:.2f} ({alone / limit:.2f}x) | {' / '.join(f'{s:.2f}' for s in side)} "
            f"({max(side) / limit_1thread:.2f}x) | {gain:.2f}x |"
        )
        if bf16:
            side_bf16 = epoch_processes(name, images, cores, 1, precision="bf16")
            results[name].update(
                side_by_side_bf16=side_bf16, bf16_speedup=max(side) / max(side_bf16), limit_bf16_1thread=limit_bf16
            )
            row += (
                f" {' / '.join(f'{s:.2f}' for s in side_bf16)} ({max(side_bf16) / limit_bf16:.2f}x) "
                f"| {results[name]['bf16_speedup']:.2f}x |"
            )
        print(row)
    return results

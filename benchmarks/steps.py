"""steps: fit's training step (the same model, objective, Adam and batch of 128) eager in fp32, with bf16 autocast,
channels_last (conv) and ``torch.compile``, alternating, each as a multiple of the step's matmul limit."""

from __future__ import annotations

import copy
import statistics
import time

import torch

from vae_helpers.config import get_device, seed_everything
from vae_helpers.data import load_dataset
from vae_helpers.models import MLPVAE, ConvVAE

from .machine import machine_line
from .roofline import roofline

STEP_MODELS = {"mlp": lambda: MLPVAE(), "conv": lambda: ConvVAE()}


def step_variants(name: str, device: torch.device, compile_: bool) -> list[tuple[str, dict]]:
    variants = [("eager fp32", {}), ("eager bf16 autocast", {"bf16": True})]
    if name == "conv":
        variants += [
            ("channels_last fp32", {"channels_last": True}),
            ("channels_last bf16", {"channels_last": True, "bf16": True}),
        ]
    if compile_:
        variants.append(("torch.compile fp32", {"compile": True}))
    return variants


def step_options(
    models: tuple[str, ...] = ("mlp", "conv"),
    steps: int = 20,
    repeats: int = 3,
    compile_: bool = True,
    device: torch.device | None = None,
) -> dict:
    """Time ``fit``'s training step (the same model, objective, Adam and batch of 128) under each option,
    alternating ``repeats`` blocks of ``steps`` steps; print ms per step, the ratio to eager float32, the
    matmul limit of the step (:func:`roofline`) and the setup time (compilation)."""
    from vae_helpers.objective import model_objective
    from vae_helpers.speed import autocast_objective
    from vae_helpers.training import train_step

    device = device or get_device()
    mnist = load_dataset("mnist")
    batches = [
        b
        for _, b in zip(
            range(steps),
            mnist.train.batches(128, shuffle=True, generator=torch.Generator().manual_seed(0), device=device),
        )
    ]
    print(f"\n### Training step options, batch 128 ({steps} steps x {repeats} alternating repeats)\n")
    print(machine_line(device) + "\n")
    results: dict[str, dict[str, dict]] = {}
    for name in models:
        seed_everything(0)
        base = STEP_MODELS[name]().to(device)
        fp32_limit = roofline(base, 128, device=device)
        bf16_limit = roofline(base, 128, dtype=torch.bfloat16, device=device)
        runs = {}
        for label, opts in step_variants(name, device, compile_):
            model = copy.deepcopy(base)
            if opts.get("channels_last"):
                model = model.to(memory_format=torch.channels_last)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=device.type in ("cpu", "cuda"))
            objective = model_objective
            if opts.get("bf16"):
                objective = autocast_objective(model_objective, device, torch.bfloat16)

            if opts.get("compile"):
                objective = torch.compile(objective)
            fmt = torch.channels_last if opts.get("channels_last") else torch.contiguous_format
            xs = [x.contiguous(memory_format=fmt) for x, _ in batches]
            started = time.perf_counter()
            for x in xs[:3]:  # warm-up (and compilation)
                train_step(model, optimizer, objective, x, None, 1.0)
            runs[label] = {
                "setup": time.perf_counter() - started,
                "times": [],
                "step": (model, optimizer, objective, xs),
            }
        for _ in range(repeats):
            for run in runs.values():
                model, optimizer, objective, xs = run["step"]
                started = time.perf_counter()
                for x in xs:
                    train_step(model, optimizer, objective, x, None, 1.0)
                run["times"].append((time.perf_counter() - started) / len(xs))
        eager = statistics.median(runs["eager fp32"]["times"])
        print(
            f"{name}: {fp32_limit.flops / 1e9:.2f} GFLOP per step; matmul limit {fp32_limit.seconds * 1e3:.2f} ms "
            f"(fp32, {fp32_limit.rate / 1e9:.0f} GFLOP/s), {bf16_limit.seconds * 1e3:.2f} ms (bf16, {bf16_limit.rate / 1e9:.0f} GFLOP/s)\n"
        )
        print(
            "| option | ms / step | speed-up vs eager fp32 | step / fp32 matmul limit | warm-up s (3 steps, incl. compile) |"
        )
        print("| --- | ---: | ---: | ---: | ---: |")
        for label, run in runs.items():
            t = statistics.median(run["times"])
            run.update(ms=t * 1e3, speedup=eager / t, of_limit=t / fp32_limit.seconds)
            print(
                f"| {label} | {t * 1e3:.2f} | {eager / t:.2f}x | {t / fp32_limit.seconds:.2f}x | {run['setup']:.1f} |"
            )
            del run["step"]
        print()
        results[name] = {"limit": fp32_limit, "limit_bf16": bf16_limit, "runs": runs}
    return results

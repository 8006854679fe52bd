"""throughput: the canonical tutorial loop against the same model trained through ``vae_helpers.training.fit``.

The reference is pytorch/examples ``vae/main.py`` (torchvision ``MNIST`` with ``ToTensor()``, a shuffling
``DataLoader`` of batch 128, the 784-400-20 MLP with a sigmoid output, BCE summed plus analytic KL, Adam 1e-3,
seed 1); ours is the same model, objective and batch size through ``fit``, in float32 and with bfloat16 autocast
(``TrainConfig(precision="bf16")``), alternating in one process. Prints wall times, the ratio of each repeat, the
test losses (always evaluated in float32) and whether they agree with the reference within 0.5 nats, and where our
training step spends its time (torch profiler).
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from datetime import date
from pathlib import Path

import torch

from vae_helpers.config import describe_device, get_device, seed_everything
from vae_helpers.data import ImageDataset, load_dataset
from vae_helpers.evaluation import evaluate
from vae_helpers.models import MLPVAE
from vae_helpers.training import TrainConfig, fit

from .machine import machine_line
from .reference import LOSS_TOLERANCE, run_reference
from .roofline import epoch_limit_seconds


def run_ours(
    mnist: ImageDataset,
    epochs: int,
    train_limit: int | None = None,
    device: torch.device | None = None,
    precision: str = "fp32",
    test_limit: int | None = None,
) -> dict:
    """The same model, objective and batch size through ``fit`` (validation pass on the test set each epoch).

    ``precision`` is :attr:`TrainConfig.precision`; the returned test loss is evaluated in float32 either way.
    """
    device = device or torch.device("cpu")
    data = mnist.full_training_set().subset(train=train_limit, val=test_limit)
    seed_everything(1)
    model = MLPVAE()
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    fit(
        model,
        data,
        TrainConfig(epochs=epochs, batch_size=128, lr=1e-3, seed=1, progress=False, precision=precision),
        device=device,
    )
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "test_loss": -evaluate(model, mnist.test.head(test_limit).to(device)).elbo}


def profile_ours(
    mnist: ImageDataset, device: torch.device, steps: int = 60, precision: str = "fp32", top: int = 8
) -> list[tuple[str, float]]:
    """Top operators of our training step (``fit``'s step, without its bookkeeping) by self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    from vae_helpers.speed import autocast_dtype, autocast_objective
    from vae_helpers.training import make_objective, train_step

    seed_everything(1)
    model = MLPVAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=device.type in ("cpu", "cuda"))
    config = TrainConfig(precision=precision)
    objective = make_objective(config)
    dtype = autocast_dtype(config, device, None)
    if dtype is not None:
        objective = autocast_objective(objective, device, dtype)
    batches = mnist.train.to(device).batches(128, shuffle=True, generator=torch.Generator().manual_seed(1))
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        train_step(model, optimizer, objective, x, y, beta=1.0)

    for _, (x, y) in zip(range(5), batches):  # warm-up: first calls allocate and pick kernels
        step(x, y)
    with profile(activities=activities) as prof:
        for _, (x, y) in zip(range(steps), batches):
            step(x, y)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    ranked = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [(e.key, e.self_cpu_time_total / total) for e in ranked]


def bf16_used(device: torch.device) -> bool:
    """Whether ``fit(precision="bf16")`` really autocasts on ``device`` (it falls back to float32 elsewhere)."""
    return device.type == "cpu" or (device.type == "cuda" and torch.cuda.is_bf16_supported())


def throughput(
    epochs: int = 10,
    repeats: int = 1,
    train_limit: int | None = None,
    device: torch.device | None = None,
    profile_steps: int = 60,
    bf16: bool = True,
) -> dict:
    """Run the reference, ``fit`` in float32 and ``fit`` with bf16 autocast alternately ``repeats`` times.

    Prints a markdown table (median wall time, ratio to the reference, test loss and its agreement
    with the reference within :data:`LOSS_TOLERANCE`), the ratio of each repeat, the CPU count and
    load average (the machine may be shared), and a torch-profiler breakdown of our step.
    Returns the raw figures.
    """
    device = device or get_device()
    mnist = load_dataset("mnist")
    if "LAST-RESORT" in mnist.note:
        raise RuntimeError("The throughput benchmark needs the full MNIST files (torchvision layout); " + mnist.note)
    root = Path(mnist.source).parent.parent
    precisions = ["fp32"] + (["bf16"] if bf16 and bf16_used(device) else [])
    load_before = os.getloadavg()
    ref: list[dict] = []
    ours: dict[str, list[dict]] = {p: [] for p in precisions}
    limits: dict[str, list[float]] = {p: [] for p in precisions}
    n_train, n_val = train_limit or 60000, len(mnist.test)
    for _ in range(repeats):  # alternate, so that a change in the machine's load hits every loop alike
        ref.append(run_reference(root, epochs, train_limit, device))
        for precision in precisions:
            ours[precision].append(run_ours(mnist, epochs, train_limit, device, precision))
            limits[precision].append(epochs * epoch_limit_seconds(MLPVAE().to(device), n_train, n_val, precision))
    load_after = os.getloadavg()

    def median(runs: list[dict]) -> float:
        return sorted(r["seconds"] for r in runs)[len(runs) // 2]

    ref_s = median(ref)
    ref_loss = ref[-1]["test_loss"]
    print(
        f"\n### Training throughput: MNIST 784-400-20 VAE, batch 128, Adam 1e-3, {epochs} epochs on {n_train:,} images\n"
    )
    print(
        f"device: {describe_device(device)} | torch {torch.__version__} | {platform.processor() or platform.machine()} | "
        f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} before / {load_after[0]:.2f} after | {date.today()}\n"
    )
    print(machine_line(device) + "\n")
    fp32_limit = statistics.median(limits["fp32"])
    print(
        f"matmul limit of {epochs} epochs (the model's products at its own shapes, timed here: {n_train:,} training "
        f"images forward + backward at batch 128, {n_val:,} validation images forward at batch 1000): "
        + ", ".join(f"{p} {statistics.median(v):.1f} s" for p, v in limits.items())
        + "\n"
    )
    print(
        f"| loop | wall s (median of {repeats}) | s / epoch | wall / fp32 matmul limit | speed-up vs reference "
        f"| data loading share | test loss (nats/image, fp32) | within {LOSS_TOLERANCE} nats of the reference |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    print(
        f"| pytorch/examples pattern | {ref_s:.1f} | {ref_s / epochs:.2f} | {ref_s / fp32_limit:.2f}x | 1.00x | "
        f"{sum(r['data_seconds'] for r in ref) / sum(r['seconds'] for r in ref):.0%} | {ref_loss:.2f} | (reference) |"
    )
    labels = {"fp32": "vae_helpers `fit`", "bf16": "vae_helpers `fit`, bf16 autocast"}
    summary: dict[str, dict] = {}
    for precision in precisions:
        runs = ours[precision]
        seconds, loss = median(runs), runs[-1]["test_loss"]
        diff = loss - ref_loss
        agrees = all(abs(r["test_loss"] - ref_loss) <= LOSS_TOLERANCE for r in runs)
        summary[precision] = {
            "ratio": ref_s / seconds,
            "loss_difference": diff,
            "agrees": agrees,
            "ratios": [a["seconds"] / b["seconds"] for a, b in zip(ref, runs)],
            "of_limit": seconds / fp32_limit,
        }
        print(
            f"| {labels[precision]} | {seconds:.1f} | {seconds / epochs:.2f} | {seconds / fp32_limit:.2f}x "
            f"| {ref_s / seconds:.2f}x | "
            f"(indexing in-memory tensors) | {loss:.2f} ({diff:+.2f}) | {'yes' if agrees else '**NO**'} |"
        )
    if epochs < 10 or n_train < 60000:
        print(
            f"\n(A short run: the test losses are far from converged, so the {LOSS_TOLERANCE}-nat agreement is only "
            "expected of the full run, 10 epochs on 60,000 images.)"
        )
    print(
        "\nspeed-up per repeat (reference wall / ours, runs alternating): "
        + "; ".join(f"{labels[p]}: " + ", ".join(f"{r:.2f}x" for r in summary[p]["ratios"]) for p in precisions)
    )
    fp32 = summary["fp32"]
    print(
        f"\nspeed-up: **{fp32['ratio']:.2f}x** | test-loss difference: {fp32['loss_difference']:+.2f} nats "
        f"({'within' if abs(fp32['loss_difference']) <= LOSS_TOLERANCE else 'OUTSIDE'} the {LOSS_TOLERANCE}-nat tolerance)"
    )
    if "bf16" in summary:
        b = summary["bf16"]
        print(
            f"speed-up with bf16 autocast: **{b['ratio']:.2f}x** | test-loss difference: {b['loss_difference']:+.2f} nats "
            f"({'within' if abs(b['loss_difference']) <= LOSS_TOLERANCE else 'OUTSIDE'} the {LOSS_TOLERANCE}-nat tolerance)"
        )
    profiles = {p: profile_ours(mnist, device, profile_steps, p) for p in precisions} if profile_steps else {}
    for precision, top in profiles.items():
        print(
            f"\nWhere our step spends its time, {labels[precision]} (torch profiler, self CPU time over "
            f"{profile_steps} steps):\n"
        )
        print("| operator | share |\n| --- | ---: |")
        for key, share in top:
            print(f"| `{key}` | {share:.0%} |")
    result = {
        "reference": ref,
        "ours": ours["fp32"],
        "ratio": fp32["ratio"],
        "loss_difference": fp32["loss_difference"],
        "profile": profiles.get("fp32", []),
        "load_average": (load_before, load_after),
        "summary": summary,
        "limit_seconds": {p: statistics.median(v) for p, v in limits.items()},
    }
    if "bf16" in summary:
        result.update(
            ours_bf16=ours["bf16"],
            ratio_bf16=summary["bf16"]["ratio"],
            loss_difference_bf16=summary["bf16"]["loss_difference"],
            profile_bf16=profiles.get("bf16", []),
        )
    return result

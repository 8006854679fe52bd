"""Benchmarks that print markdown tables: ``python -m vae_helpers.tools.bench {throughput,loglik,steps,iwae,course,jobs} [--fast]``.

throughput
    The canonical tutorial loop (pytorch/examples ``vae/main.py``: torchvision ``MNIST`` with
    ``ToTensor()``, a shuffling ``DataLoader`` of batch 128, the 784-400-20 MLP with a sigmoid output,
    BCE summed plus analytic KL, Adam 1e-3, seed 1) against the same model, objective and batch
    size trained through :func:`vae_helpers.training.fit`, in float32 and with bfloat16 autocast
    (``TrainConfig(precision="bf16")``), alternating in one process. Prints wall times, the ratio of
    each repeat, the test losses (always evaluated in float32) and whether they agree with the
    reference within 0.5 nats, and where our training step spends its time (torch profiler).

loglik
    Test log-likelihood on dynamically binarized MNIST (training images re-binarized every epoch,
    the test set binarized once with a fixed seed), estimated with the IWAE bound at k=5000
    (full mode), for the MLP VAE and the conv VAE, next to Burda et al. (2015), one stochastic layer:
    VAE -86.76, IWAE (k=50) -84.78.

steps, iwae
    fit's training step under each option, and the IWAE bound's speed, against the matmul limit.

course
    Every training run of the course's retrain path (each zoo recipe once, notebook 08's CelebA VAE, notebook 05's
    timed epochs) at the machine's matmul limit: with every thread of one job, with one thread (each job of a
    parallel ``tools.course --train``), and in bf16 where the CPU has it natively. The least time the course's
    epochs can take here.

jobs
    One training epoch as one process on every core against one one-thread process per core side by side: how
    much more work per second the parallel retrain path gets, per model kind, each epoch as a multiple of its
    matmul limit at its threads; on a CPU with native bf16, the side-by-side epoch under bf16 autocast too.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..config import describe_device, get_device, seed_everything
from ..data import ImageDataset, ImageSplit, load_dataset
from ..evaluation import evaluate, iwae_log_likelihood
from ..models import MLPVAE, AutoregressiveVAE, ConvVAE
from ..training import TrainConfig, fit

REFERENCE_WALL_SECONDS_10_EPOCHS = 72.0  # measured on this course's 2-core CPU machines
REFERENCE_TEST_LOSS = 105.6
LOSS_TOLERANCE = 0.5  # nats per image: how far our test loss may be from the reference's
BURDA_VAE, BURDA_IWAE_K50 = -86.76, -84.78
TEST_BINARIZATION_SEED = 1234


# --------------------------------------------------------------------------------------------
# The reference: pytorch/examples vae/main.py, kept as close to the original as possible
# --------------------------------------------------------------------------------------------
class ExamplesVAE(nn.Module):
    """pytorch/examples' VAE, verbatim in structure (fc1, fc21, fc22, fc3, fc4; sigmoid output)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def examples_loss(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def run_reference(root: Path, epochs: int, train_limit: int | None = None, device: torch.device | None = None) -> dict:
    """The pytorch/examples training and test loop; returns wall time, per-epoch data time and test loss."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    device = device or torch.device("cpu")
    torch.manual_seed(1)
    train_set = datasets.MNIST(str(root), train=True, download=False, transform=transforms.ToTensor())
    test_set = datasets.MNIST(str(root), train=False, download=False, transform=transforms.ToTensor())
    if train_limit:
        train_set = Subset(train_set, range(train_limit))
    kwargs = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
    train_loader = DataLoader(train_set, batch_size=128, shuffle=True, **kwargs)
    test_loader = DataLoader(test_set, batch_size=128, shuffle=False, **kwargs)
    model = ExamplesVAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    started = time.perf_counter()
    data_seconds = 0.0
    for _ in range(epochs):
        model.train()
        t = time.perf_counter()
        for data, _ in train_loader:
            data = data.to(device)
            data_seconds += time.perf_counter() - t
            optimizer.zero_grad()
            recon, mu, logvar = model(data)
            loss = examples_loss(recon, data, mu, logvar)
            loss.backward()
            optimizer.step()
            t = time.perf_counter()
        model.eval()
        test_loss = 0.0
        with torch.no_grad():
            for data, _ in test_loader:
                data = data.to(device)
                recon, mu, logvar = model(data)
                test_loss += examples_loss(recon, data, mu, logvar).item()
        test_loss /= len(test_loader.dataset)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return {"seconds": time.perf_counter() - started, "data_seconds": data_seconds, "test_loss": test_loss}


def run_ours(
    mnist: ImageDataset,
    epochs: int,
    train_limit: int | None = None,
    device: torch.device | None = None,
    precision: str = "fp32",
) -> dict:
    """The same model, objective and batch size through ``fit`` (validation pass on the test set each epoch).

    ``precision`` is :attr:`TrainConfig.precision`; the returned test loss is evaluated in float32 either way.
    """
    device = device or torch.device("cpu")
    data = mnist.full_training_set().subset(train=train_limit)
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
    return {"seconds": seconds, "test_loss": -evaluate(model, mnist.test.to(device)).elbo}


def _profile_ours(
    mnist: ImageDataset, device: torch.device, steps: int = 60, precision: str = "fp32", top: int = 8
) -> list[tuple[str, float]]:
    """Top operators of our training step (``fit``'s step, without its bookkeeping) by self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    from ..training import autocast_dtype, make_objective, make_optimizer, train_step

    seed_everything(1)
    model = MLPVAE().to(device)
    optimizer = make_optimizer(model, 1e-3, device)
    config = TrainConfig(precision=precision)
    objective = make_objective(config, autocast_dtype=autocast_dtype(config, device, None))
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


def _bf16_used(device: torch.device) -> bool:
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
    precisions = ["fp32"] + (["bf16"] if bf16 and _bf16_used(device) else [])
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
    profiles = {p: _profile_ours(mnist, device, profile_steps, p) for p in precisions} if profile_steps else {}
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


# --------------------------------------------------------------------------------------------
# The machine's own limit: the model's matrix products, timed at the model's shapes
# --------------------------------------------------------------------------------------------
@dataclass
class MatmulLayer:
    """One Linear/Conv/ConvTranspose layer as the model runs it: its input shape and whether autograd needs
    the gradient of its input (not for the first layer, whose input is the data)."""

    module: nn.Module
    input_shape: tuple[int, ...]
    input_grad: bool

    def forward_flops(self) -> int:
        m, n = self.module, self.input_shape[0]
        if isinstance(m, nn.Linear):
            return 2 * math.prod(self.input_shape[:-1]) * m.in_features * m.out_features
        kernel = math.prod(m.kernel_size) * m.in_channels * m.out_channels // m.groups
        if isinstance(m, nn.ConvTranspose2d):  # each input pixel scatters a kernel-sized patch
            return 2 * n * math.prod(self.input_shape[2:]) * kernel
        out = F.conv2d(
            torch.empty(1, *self.input_shape[1:], device="meta"), m.weight.to("meta"), None, m.stride, m.padding
        )
        return 2 * n * math.prod(out.shape[2:]) * kernel

    def flops(self, backward: bool) -> int:
        """Forward: 2 N in out (Linear); with ``backward``, plus the weight gradient (same count) and,
        where autograd needs it, the input gradient (same count): 3x forward, 2x for the first layer."""
        return self.forward_flops() * ((3 if self.input_grad else 2) if backward else 1)


def matmul_layers(model: nn.Module, x: torch.Tensor, train: bool = True) -> list[MatmulLayer]:
    """The matrix-product layers of one forward pass of ``model`` on ``x`` as the loss runs it (a training
    step's if ``train``): the encoder and ``likelihood_logits`` (one teacher-forced pass for an autoregressive
    decoder, not its pixel-by-pixel sampling), with labels for a conditional model."""
    found: list[MatmulLayer] = []
    kinds = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)

    def hook(module: nn.Module, args: tuple) -> None:
        found.append(MatmulLayer(module, tuple(args[0].shape), bool(args[0].requires_grad)))

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    y = torch.zeros(len(x), dtype=torch.long, device=x.device) if getattr(model, "conditional", False) else None
    try:
        with torch.set_grad_enabled(train):
            mu, logvar = model.encode(x, y)
            model.likelihood_logits(mu, x, y)  # what the loss scores: decode(z), teacher-forced for an AR decoder
    finally:
        for h in handles:
            h.remove()
    return found


def _layer_program(layer: MatmulLayer, backward: bool, dtype: torch.dtype, device: torch.device):
    """A closure that runs the layer's products once (forward, and the backward products if asked)."""
    m = layer.module
    x = torch.randn(layer.input_shape, device=device, dtype=dtype)
    w = m.weight.detach().to(device, dtype)
    b = None if m.bias is None else m.bias.detach().to(device, dtype)
    if isinstance(m, nn.Linear):
        x2 = x.reshape(-1, m.in_features)
        g = torch.randn(x2.shape[0], m.out_features, device=device, dtype=dtype)

        def run() -> None:
            torch.addmm(b, x2, w.t()) if b is not None else torch.mm(x2, w.t())
            if backward:
                torch.mm(g.t(), x2)
                if layer.input_grad:
                    torch.mm(g, w)

        return run
    transposed = isinstance(m, nn.ConvTranspose2d)
    args = (m.stride, m.padding, m.dilation, transposed, getattr(m, "output_padding", (0, 0)), m.groups)
    out = torch.ops.aten.convolution(x, w, b, *args)
    g = torch.randn_like(out)
    mask = [layer.input_grad, True, False]

    def run_conv() -> None:
        torch.ops.aten.convolution(x, w, b, *args)
        if backward:
            torch.ops.aten.convolution_backward(g, x, w, None, *args, mask)

    return run_conv


@dataclass
class Roofline:
    """The model's matrix products at its own shapes: FLOPs and the measured time of one pass."""

    flops: int
    seconds: float
    dtype: str

    @property
    def rate(self) -> float:
        """FLOP/s this machine reaches on these products (its practical limit for this model)."""
        return self.flops / self.seconds


def roofline(
    model: nn.Module,
    batch: int,
    backward: bool = True,
    dtype: torch.dtype = torch.float32,
    device: torch.device | None = None,
    min_run_time: float = 0.3,
) -> Roofline:
    """Time (``torch.utils.benchmark``, median of blocked runs) every matrix product of one step of
    ``model`` on a batch of ``batch`` images: forward, and the weight and input gradients with
    ``backward``. The sum is the time a step cannot go below at this machine's matmul rate; a
    benchmark prints its wall time as a multiple of it."""
    from torch.utils import benchmark

    device = device or next(model.parameters()).device
    x = torch.rand(batch, *model.image_shape, device=device)
    layers = matmul_layers(model, x, train=backward)
    programs = [_layer_program(layer, backward, dtype, device) for layer in layers]

    def run_all() -> None:
        for p in programs:
            p()

    timer = benchmark.Timer("run_all()", globals={"run_all": run_all}, num_threads=torch.get_num_threads())
    seconds = timer.blocked_autorange(min_run_time=min_run_time).median
    return Roofline(sum(layer.flops(backward) for layer in layers), seconds, str(dtype).replace("torch.", ""))


def epoch_limit_seconds(model: nn.Module, n_train: int, n_val: int, precision: str = "fp32", batch: int = 128) -> float:
    """Seconds one ``fit`` epoch cannot go below at this machine's matmul rate: the training products
    (forward + backward, batch ``batch``) for ``n_train`` images plus the validation forward pass (batch 1000)."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    train = roofline(model, batch, dtype=dtype, min_run_time=0.2)
    val = roofline(model, 1000, backward=False, dtype=torch.float32, min_run_time=0.2)
    return train.seconds * n_train / batch + val.seconds * n_val / 1000


def machine_line(device: torch.device) -> str:
    """CPU model, threads, native bf16, torch version and date: what every absolute time depends on."""
    from ..config import native_bf16

    cpu = _cpu_model()
    return (
        f"device: {describe_device(device)} | CPU: {cpu}, {os.cpu_count()} cores | native bf16: "
        f"{'yes' if native_bf16(device) else 'no'} | torch {torch.__version__} | load average "
        f"{os.getloadavg()[0]:.2f} | {date.today()}"
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# --------------------------------------------------------------------------------------------
# Log-likelihood on dynamically binarized MNIST
# --------------------------------------------------------------------------------------------
def binarized_test_split(split: ImageSplit, seed: int = TEST_BINARIZATION_SEED) -> ImageSplit:
    """A fixed Bernoulli binarization of ``split`` (pixels 0 or 255), drawn with ``seed``."""
    probs = split.images.float() / 255
    binary = torch.bernoulli(probs, generator=torch.Generator().manual_seed(seed))
    return ImageSplit((binary * 255).to(torch.uint8), split.labels)


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


# --------------------------------------------------------------------------------------------
# Training-step options (eager, bf16, channels_last, torch.compile) against the matmul limit
# --------------------------------------------------------------------------------------------
STEP_MODELS = {"mlp": lambda: MLPVAE(), "conv": lambda: ConvVAE()}


def _step_variants(name: str, device: torch.device, compile_: bool) -> list[tuple[str, dict]]:
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
    from ..losses import model_objective
    from ..training import make_optimizer, train_step

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
        for label, opts in _step_variants(name, device, compile_):
            model = copy.deepcopy(base)
            if opts.get("channels_last"):
                model = model.to(memory_format=torch.channels_last)
            optimizer = make_optimizer(model, 1e-3, device)
            dtype = torch.bfloat16 if opts.get("bf16") else None

            def objective(m, x, y, beta, dtype=dtype):
                return model_objective(m, x, y, beta, autocast_dtype=dtype)

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


# --------------------------------------------------------------------------------------------
# IWAE evaluation speed: the direct computation vs iwae_log_likelihood, against the decoder's matmul limit
# --------------------------------------------------------------------------------------------
def iwae_direct(
    model,
    split: ImageSplit,
    k: int,
    batch_size: int = 100,
    chunk: int = 500,
    likelihood: str = "bernoulli",
    seed: int = 0,
) -> torch.Tensor:
    """The textbook IWAE computation (what the package computed before the tiled kernel): x repeated per sample,
    the logits scored whole. Same noise as :func:`iwae_log_likelihood`; per-image values ``[N]``."""
    from ..losses import gaussian_log_density, reconstruction_nll, standard_normal_log_density
    from ..models import eval_mode

    generator = torch.Generator().manual_seed(seed)
    values = []
    with eval_mode(model):
        for x, y in split.batches(batch_size, device=model.device):
            mu, logvar = model.encode(x, y if model.conditional else None)
            log_weights = []
            for start in range(0, k, chunk):
                s = min(chunk, k - start)
                eps = torch.randn((s, *mu.shape), generator=generator).to(mu.device)
                z = mu + eps * torch.exp(0.5 * logvar)
                yy = y.repeat(s) if model.conditional else None
                xx = x.repeat(s, 1, 1, 1)
                logits = model.likelihood_logits(z.reshape(-1, model.latent_dim), xx, yy)
                log_px_z = -reconstruction_nll(logits, xx, likelihood).view(s, -1)
                log_weights.append(log_px_z + standard_normal_log_density(z) - gaussian_log_density(z, mu, logvar))
            values.append(torch.logsumexp(torch.cat(log_weights).double(), 0).cpu() - math.log(k))
    return torch.cat(values)


def decoder_roofline(model, rows: int, dtype: torch.dtype = torch.float32, min_run_time: float = 0.3) -> Roofline:
    """The decoder's matrix products (forward only) for ``rows`` latent samples: the IWAE bound's work."""
    from torch.utils import benchmark

    device = model.device
    found: list[MatmulLayer] = []
    kinds = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)
    handles = [
        m.register_forward_pre_hook(lambda m, a: found.append(MatmulLayer(m, tuple(a[0].shape), False)))
        for m in model.decoder.modules()
        if isinstance(m, kinds)
    ]
    try:
        with torch.no_grad():
            model.decode(torch.zeros(rows, model.latent_dim, device=device))
    finally:
        for h in handles:
            h.remove()
    programs = [_layer_program(layer, False, dtype, device) for layer in found]

    def run_all() -> None:
        for p in programs:
            p()

    seconds = (
        benchmark.Timer("run_all()", globals={"run_all": run_all}, num_threads=torch.get_num_threads())
        .blocked_autorange(min_run_time=min_run_time)
        .median
    )
    return Roofline(sum(layer.flops(False) for layer in found), seconds, str(dtype).replace("torch.", ""))


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
    from ..config import native_bf16

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


# --------------------------------------------------------------------------------------------
# The whole course's training against the matmul limit: how fast can the retrain path be?
# --------------------------------------------------------------------------------------------
@dataclass
class PerImageLimit:
    """Matmul seconds and FLOPs per image of one architecture: a training step's and a validation pass's."""

    train_flops: float
    val_flops: float
    train: float  # seconds, with every thread of this process
    val: float
    train_1thread: float
    val_1thread: float
    train_bf16_1thread: float | None  # None: no native bf16 here

    def epoch_seconds(self, images: int, val: int) -> tuple[float, float, float | None]:
        """One epoch's matmul limit (``images`` training images, ``val`` validation images) in seconds: with
        this process's threads, with one thread, and with one thread in bf16 (``None`` without native bf16;
        validation stays fp32, as in ``fit``)."""
        bf16 = None if self.train_bf16_1thread is None else images * self.train_bf16_1thread + val * self.val_1thread
        return images * self.train + val * self.val, images * self.train_1thread + val * self.val_1thread, bf16


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


def per_image_limit(model: nn.Module, batch: int, bf16: bool, min_run_time: float = 0.2) -> PerImageLimit:
    """:func:`roofline` of a training step (batch ``batch``) and of validation (batch 1000), per image, with
    this process's threads and with one thread (and one thread in bfloat16 if ``bf16``)."""
    threads = torch.get_num_threads()
    train, val = (
        roofline(model, batch, min_run_time=min_run_time),
        roofline(model, 1000, False, min_run_time=min_run_time),
    )
    torch.set_num_threads(1)
    try:
        train_1, val_1 = (
            roofline(model, batch, min_run_time=min_run_time),
            roofline(model, 1000, False, min_run_time=min_run_time),
        )
        train_bf16 = roofline(model, batch, dtype=torch.bfloat16, min_run_time=min_run_time) if bf16 else None
    finally:
        torch.set_num_threads(threads)
    return PerImageLimit(
        train.flops / batch,
        val.flops / 1000,
        train.seconds / batch,
        val.seconds / 1000,
        train_1.seconds / batch,
        val_1.seconds / 1000,
        None if train_bf16 is None else train_bf16.seconds / batch,
    )


def _celeba_epochs(default: int = 60) -> int:
    """The epochs notebook 08's committed full run trained (early stopping), else its EPOCHS bound."""
    from ..config import REPO_ROOT

    try:
        nb = json.loads((REPO_ROOT / "notebooks" / "08_celeba_faces.ipynb").read_text())
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
    retrain path: each zoo recipe once (the epochs its zoo run took), 08's CelebA VAE, 05's timed epochs."""
    from ..models import ConvVAE64, build_model
    from ..zoo import RECIPES, read_manifest

    manifest = read_manifest()["models"]
    runs = []
    for name, r in RECIPES.items():
        images = r.train_images or (60_000 if r.full_training_set else 54_000)
        epochs = int(manifest.get(name, {}).get("epochs_run", r.train["epochs"]))
        val = 10_000 if r.full_training_set else 6_000
        runs.append((name, build_model(r.model), images, val, epochs, r.train.get("batch_size", 128)))
    runs.append(("08: CelebA VAE, D=128", ConvVAE64(latent_dim=128), 4_560, 780, _celeba_epochs(), 64))
    runs.append(("05: one timed epoch, MLP VAE", MLPVAE(), 54_000, 6_000, 1, 128))
    runs.append(("05: one timed epoch, conv VAE", ConvVAE(), 54_000, 6_000, 1, 128))
    return runs


def course_training(device: torch.device | None = None, min_run_time: float = 0.2) -> list[CourseTraining]:
    """Every training run of the course's retrain path (:func:`course_runs`) at the machine's matmul limit,
    with every thread of one job, with one thread (what each job of ``tools.course --train`` has when
    several run side by side), and with one thread in bfloat16 where the CPU has it natively. Prints the
    table and the totals: the least time the course's epochs need on this machine."""
    from ..config import native_bf16

    device = device or get_device()
    bf16 = native_bf16(device)
    limits: dict[str, PerImageLimit] = {}
    rows = []
    for name, model, images, val, epochs, batch in course_runs():
        model = model.to(device)
        key = repr((model.config(), batch))  # the sweeps share architectures: time each once
        if key not in limits:
            limits[key] = per_image_limit(model, batch, bf16, min_run_time)
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
        "\n### The course's training at the matmul limit (retrain path: each recipe once, 08's CelebA VAE, 05's timed epochs)\n"
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


# --------------------------------------------------------------------------------------------
# One job on every core, or one job per core? What the retrain path's parallel jobs rest on
# --------------------------------------------------------------------------------------------
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


def _epoch_processes(name: str, images: int, copies: int, threads: int, precision: str = "fp32") -> list[float]:
    """Run ``copies`` processes of :func:`one_epoch_seconds` at once, each with ``threads`` threads."""
    code = (
        "import json; from vae_helpers.tools.bench import one_epoch_seconds; "
        f"print(json.dumps(one_epoch_seconds({name!r}, {images}, precision={precision!r})))"
    )
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
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
    from ..config import native_bf16

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
        alone = _epoch_processes(name, images, 1, cores)[0]
        side = _epoch_processes(name, images, cores, 1)
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
            side_bf16 = _epoch_processes(name, images, cores, 1, precision="bf16")
            results[name].update(
                side_by_side_bf16=side_bf16, bf16_speedup=max(side) / max(side_bf16), limit_bf16_1thread=limit_bf16
            )
            row += (
                f" {' / '.join(f'{s:.2f}' for s in side_bf16)} ({max(side_bf16) / limit_bf16:.2f}x) "
                f"| {results[name]['bf16_speedup']:.2f}x |"
            )
        print(row)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("throughput", help="reference loop vs vae_helpers")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--repeats", type=int, default=1)
    t.add_argument("--fast", action="store_true", help="1 epoch on 5,000 images, no profile")
    t.add_argument("--no-bf16", action="store_true", help="skip the bf16-autocast row")
    l_ = sub.add_parser("loglik", help="IWAE log-likelihood on binarized MNIST")
    l_.add_argument("--epochs", type=int, default=100)
    l_.add_argument("--k", type=int, default=5000)
    l_.add_argument("--n-test", type=int, default=None)
    l_.add_argument("--models", default="mlp,conv")
    l_.add_argument("--fast", action="store_true", help="1 epoch on 2,000 images, k=50 on 200 test images")
    st = sub.add_parser(
        "steps", help="training-step options (eager, bf16, channels_last, torch.compile) vs the matmul limit"
    )
    st.add_argument("--models", default="mlp,conv")
    st.add_argument("--steps", type=int, default=20)
    st.add_argument("--repeats", type=int, default=3)
    st.add_argument("--no-compile", action="store_true", help="skip the torch.compile row")
    st.add_argument("--fast", action="store_true", help="3 steps x 1 repeat, no compile")
    iw = sub.add_parser("iwae", help="IWAE evaluation speed vs the decoder's matmul limit")
    iw.add_argument("--n-images", type=int, default=20)
    iw.add_argument("--k", type=int, default=5000)
    iw.add_argument("--epochs", type=int, default=2)
    iw.add_argument("--repeats", type=int, default=2)
    iw.add_argument("--no-direct", action="store_true", help="skip the direct (old) computation")
    iw.add_argument("--fast", action="store_true", help="2 images, k=200, 1 epoch on 2,000 images")
    co = sub.add_parser("course", help="the retrain path's training (every model, every epoch) vs the matmul limit")
    co.add_argument("--fast", action="store_true", help="shorter timings of each product (0.02 s instead of 0.2 s)")
    jb = sub.add_parser("jobs", help="one training job on every core vs one one-thread job per core")
    jb.add_argument("--models", default="mlp,conv,ar")
    jb.add_argument("--images", type=int, default=54_000)
    jb.add_argument("--fast", action="store_true", help="the MLP only, on 1,000 images")
    for p in (t, l_, st, iw, co):
        p.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    if args.command == "jobs":  # CPU processes side by side
        if args.fast:
            jobs_side_by_side(("mlp",), images=1000, min_run_time=0.02)
        else:
            jobs_side_by_side(tuple(args.models.split(",")), args.images)
        return 0
    device = get_device(args.device)
    if args.command == "course":
        course_training(device, min_run_time=0.02 if args.fast else 0.2)
    elif args.command == "throughput":
        if args.fast:
            throughput(epochs=1, repeats=1, train_limit=5000, device=device, profile_steps=0, bf16=not args.no_bf16)
        else:
            throughput(epochs=args.epochs, repeats=args.repeats, device=device, bf16=not args.no_bf16)
    elif args.command == "steps":
        models = tuple(args.models.split(","))
        if args.fast:
            step_options(models, steps=3, repeats=1, compile_=False, device=device)
        else:
            step_options(models, args.steps, args.repeats, not args.no_compile, device)
    elif args.command == "iwae":
        if args.fast:
            iwae_speed(n_images=2, k=200, epochs=1, repeats=1, device=device, train_limit=2000)
        else:
            iwae_speed(args.n_images, args.k, args.epochs, args.repeats, direct=not args.no_direct, device=device)
    else:
        models = tuple(args.models.split(","))
        if args.fast:
            loglik(epochs=1, k=50, n_test=200, device=device, models=models, train_limit=2000)
        else:
            loglik(epochs=args.epochs, k=args.k, n_test=args.n_test, device=device, models=models)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

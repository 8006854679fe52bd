"""Benchmarks that print markdown tables: ``python -m vae_helpers.tools.bench {throughput,loglik} [--fast]``.

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
"""

from __future__ import annotations

import argparse
import os
import platform
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
from ..models import MLPVAE, ConvVAE
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
    for _ in range(repeats):  # alternate, so that a change in the machine's load hits every loop alike
        ref.append(run_reference(root, epochs, train_limit, device))
        for precision in precisions:
            ours[precision].append(run_ours(mnist, epochs, train_limit, device, precision))
    load_after = os.getloadavg()

    def median(runs: list[dict]) -> float:
        return sorted(r["seconds"] for r in runs)[len(runs) // 2]

    ref_s = median(ref)
    ref_loss = ref[-1]["test_loss"]
    n_train = train_limit or 60000
    print(
        f"\n### Training throughput: MNIST 784-400-20 VAE, batch 128, Adam 1e-3, {epochs} epochs on {n_train:,} images\n"
    )
    print(
        f"device: {describe_device(device)} | torch {torch.__version__} | {platform.processor() or platform.machine()} | "
        f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} before / {load_after[0]:.2f} after | {date.today()}\n"
    )
    print(
        f"| loop | wall s (median of {repeats}) | s / epoch | speed-up vs reference | data loading share "
        f"| test loss (nats/image, fp32) | within {LOSS_TOLERANCE} nats of the reference |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    print(
        f"| pytorch/examples pattern | {ref_s:.1f} | {ref_s / epochs:.2f} | 1.00x | "
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
        }
        print(
            f"| {labels[precision]} | {seconds:.1f} | {seconds / epochs:.2f} | {ref_s / seconds:.2f}x | "
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
        rows.append(
            LoglikRow(
                f"{type(model).__name__} (D=50)",
                model.num_parameters(),
                len(result.history["epoch"]),
                seconds,
                time.perf_counter() - started,
                elbo,
                iwae,
                k,
                len(test),
            )
        )
    print(f"\n### Test log-likelihood, dynamically binarized MNIST (test binarization seed {TEST_BINARIZATION_SEED})\n")
    print(f"device: {describe_device(device)} | torch {torch.__version__} | {date.today()}\n")
    print("| model | parameters | epochs | train wall s | test ELBO | IWAE bound (k) | IWAE wall s | test images |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r.model} | {r.parameters:,} | {r.epochs} | {r.seconds:.0f} | {r.elbo:.2f} | {r.iwae:.2f} (k={r.k}) "
            f"| {r.iwae_seconds:.0f} | {r.n_test:,} |"
        )
    print(f"| Burda et al. 2015, VAE, 1 stochastic layer | | 3,280 passes | | | {BURDA_VAE} (k=5000) | | 10,000 |")
    print(
        f"| Burda et al. 2015, IWAE k=50, 1 stochastic layer | | 3,280 passes | | | {BURDA_IWAE_K50} (k=5000) | | 10,000 |"
    )
    return rows


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
    for p in (t, l_):
        p.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    device = get_device(args.device)
    if args.command == "throughput":
        if args.fast:
            throughput(epochs=1, repeats=1, train_limit=5000, device=device, profile_steps=0, bf16=not args.no_bf16)
        else:
            throughput(epochs=args.epochs, repeats=args.repeats, device=device, bf16=not args.no_bf16)
    else:
        models = tuple(args.models.split(","))
        if args.fast:
            loglik(epochs=1, k=50, n_test=200, device=device, models=models, train_limit=2000)
        else:
            loglik(epochs=args.epochs, k=args.k, n_test=args.n_test, device=device, models=models)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

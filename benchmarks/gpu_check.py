"""The GPU check: the course's GPU path proven and timed in one command, in about 8 minutes on a CUDA machine.

Parts, each in its own process under its own time cap (a part that fails or runs out of time is recorded as
"skipped: reason" and the check goes on):

notebooks
    every notebook (``notebooks/NN_*.ipynb``) in fast mode under nbval, the command ``make notebooks`` runs: device
    placement proven in every notebook; notebooks passed and failed, seconds per notebook.
mnist_reference
    the course's reference protocol, pytorch/examples' MNIST VAE (784-400-20, batch 128, Adam 1e-3, seed 1, 10 epochs
    on all 60,000 images, test loss on the 10,000 test images): its own DataLoader loop, then ``fit`` in fp32 and in
    the precision ``precision="auto"`` picks; seconds and test loss (nats per image), next to the CPU figures.
conv_epoch
    one conv VAE epoch (``fit``, with its validation pass) on the full Fashion-MNIST training split, 60,000 images:
    the first epoch (warm-up included) and the second, in seconds.
iwae_k5000
    the IWAE bound at k=5000 on all 10,000 test images: the MLP VAE 784-400-50 on binarized MNIST (the CPU figure's
    protocol) and the conv VAE on Fashion-MNIST; seconds and the bound (nats per image; one training epoch, so the
    bound is a timing workload, not a result).
celeba
    notebook 10's model (ConvVAE64, D=128, Gaussian decoder sigma 0.1, batch 64, at most 60 epochs with patience 10) on
    the 6,000 CelebA faces for its full budget or as many epochs as fit in the part's cap; seconds per epoch.

The figures, the GPU's name and memory, the torch and CUDA versions go to one JSON file (``--out``) and a Markdown
table beside it (same name, ``.md``) for docs/benchmarks.md (``--render FILE.json --write-docs`` puts it there).
``--dry-run`` runs every part on the CPU with tiny sizes in a few seconds each (the notebooks are only collected),
so the check is tested on machines without a GPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import re
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):  # run as a file (python benchmarks/gpu_check.py): the repo root holds the package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks import REPO_ROOT  # noqa: E402
from benchmarks.machine import cpu_model  # noqa: E402

SUMMARY = (
    "the GPU path in one command (python -m benchmarks gpu-check, or make gpu-check): every notebook under nbval in "
    "fast mode, pytorch/examples' MNIST job in fp32 and in precision='auto', one conv VAE epoch on Fashion-MNIST, the "
    "IWAE bound at k=5000 on 10,000 test images, notebook 10's CelebA training; --dry-run: the same on the CPU, tiny."
)
SCHEMA = 1
#: A numeric figure's unit is the end of its name: seconds, nats per image, a count, or a ratio.
UNIT_SUFFIXES = {"_s": "seconds", "_nats": "nats per image", "_n": "count", "_x": "ratio"}
#: The CPU figures each GPU figure is read against: a 2-core AMD EPYC with native bf16 (AVX512-BF16), 24 GiB, no GPU,
#: torch 2.14.1, quiet (docs/benchmarks.md has the runs they come from).
CPU_MACHINE = "2-core AMD EPYC with native bf16 (AVX512-BF16), 24 GiB, no GPU, torch 2.14.1"
CPU_FIGURES = {
    "notebooks_s": 163.0,  # every notebook under nbval, fast mode, 2026-12-02
    "reference_loop_s": 73.4,  # pytorch/examples loop, 10 epochs, 2026-11-22
    "reference_loop_nats": 105.57,
    "fit_fp32_s": 31.7,
    "fit_fp32_nats": 105.72,
    "fit_bf16_s": 26.3,  # precision="auto" picks bf16 on that CPU
    "fit_bf16_nats": 105.64,
    "conv_epoch_54000_images_s": 18.27,  # 54,000 training + 6,000 validation images, 2 threads, 2026-12-02
    "iwae_mlp_10000_images_s": 259.0,  # MLP 784-400-50, k=5000, binarized MNIST, 2026-11-22
    "celeba_epoch_s": 22.7,  # notebook 10's model, 4,560 faces, batch 64, one thread beside another job, 2026-12-02
}


@dataclass(frozen=True)
class Sizes:
    """How big each part runs: the real check, or the CPU dry run."""

    mnist_epochs: int
    mnist_train_images: int | None  # None: all 60,000
    mnist_test_images: int | None  # None: all 10,000
    conv_train_images: int | None
    conv_val_images: int | None  # None: the 10,000 test images fit monitors on under the full-training protocol
    iwae_k: int
    iwae_test_images: int | None  # None: all 10,000
    iwae_train_images: int | None
    celeba_per_split: int | None  # None: every face present
    celeba_epochs: int
    celeba_batch: int


FULL = Sizes(
    mnist_epochs=10,
    mnist_train_images=None,
    mnist_test_images=None,
    conv_train_images=None,
    conv_val_images=None,
    iwae_k=5000,
    iwae_test_images=None,
    iwae_train_images=None,
    celeba_per_split=None,
    celeba_epochs=60,
    celeba_batch=64,
)
DRY = Sizes(
    mnist_epochs=1,
    mnist_train_images=256,
    mnist_test_images=500,
    conv_train_images=256,
    conv_val_images=256,
    iwae_k=20,
    iwae_test_images=8,
    iwae_train_images=256,
    celeba_per_split=16,
    celeba_epochs=2,
    celeba_batch=16,
)


@dataclass(frozen=True)
class Part:
    description: str
    cap_s: float  # on the GPU: 460 s in all, about 8 minutes with each process's start
    dry_cap_s: float


PARTS: dict[str, Part] = {
    "notebooks": Part("every notebook under nbval, fast mode (make notebooks' command)", 200, 120),
    "mnist_reference": Part(
        "pytorch/examples' MNIST job, 10 epochs: its loop, fit fp32, fit precision='auto'", 90, 120
    ),
    "conv_epoch": Part("one conv VAE epoch on the full Fashion-MNIST training split (60,000 images)", 35, 90),
    "iwae_k5000": Part("the IWAE bound at k=5000 on all 10,000 test images (MLP on MNIST, conv on Fashion)", 60, 90),
    "celeba": Part("notebook 10's CelebA VAE for its budget (60 epochs, patience 10) or its cap", 75, 90),
}


# --------------------------------------------------------------------------------------------
# The parts: each returns its figures (a dict) or raises Skip with the reason
# --------------------------------------------------------------------------------------------
class Skip(Exception):
    """A part that cannot run here: its message is the reason recorded in the JSON."""


def notebook_paths() -> list[Path]:
    """The course's notebooks, by glob (``notebooks/NN_*.ipynb``; the student copies are not among them)."""
    return sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def nbval_command(notebooks: list[Path], collect_only: bool = False) -> list[str]:
    """``make notebooks``' nbval command, one line per cell (fast mode comes from ``VAE_FAST=1``)."""
    command = [sys.executable, "-m", "pytest", "--nbval-lax", "--sanitize-with", "tests/nbval_sanitize.cfg"]
    command += ["-p", "no:cacheprovider"] + (["--collect-only", "-q"] if collect_only else ["-v"])
    return command + [str(p.relative_to(REPO_ROOT)) for p in notebooks]


CELL_LINE = re.compile(r"(?:^|/)([^/\s]+)\.ipynb::Cell \d+ (PASSED|FAILED|ERROR|SKIPPED)")


def tally_cells(lines: list[tuple[float, str]]) -> dict[str, dict]:
    """Per notebook, from pytest -v's lines ``(seconds since the start, line)``: cells passed, failed, skipped,
    and seconds (from the previous notebook's last cell, or the start, to its own last cell)."""
    tally: dict[str, dict] = {}
    last_time = 0.0
    for at, line in lines:
        found = CELL_LINE.search(line)
        if not found:
            continue
        name, outcome = found.groups()
        row = tally.setdefault(name, {"passed_n": 0, "failed_n": 0, "skipped_n": 0, "time_s": 0.0})
        row["failed_n" if outcome in ("FAILED", "ERROR") else outcome.lower() + "_n"] += 1
        row["time_s"] += at - last_time
        last_time = at
    return tally


def part_notebooks(sizes: Sizes, device: torch.device, cap_s: float, dry: bool) -> dict:
    notebooks = notebook_paths()
    if not notebooks:
        raise Skip(f"no notebooks matched {REPO_ROOT / 'notebooks'}/[0-9][0-9]_*.ipynb")
    missing = [m for m in ("nbval", "ipykernel", "ipywidgets") if importlib.util.find_spec(m) is None]
    if missing:
        raise Skip(
            f"{', '.join(missing)} not installed for {sys.executable}: install requirements.txt "
            "(on a machine without network, carry their wheels: CONTRIBUTING.md, 'The GPU check')"
        )
    env = {**os.environ, "VAE_FAST": "1", "PYTHONPATH": _python_path(), "PYTHONUNBUFFERED": "1"}
    if dry:  # collect every cell (no kernel starts): the command and the notebook list are right
        done = subprocess.run(
            nbval_command(notebooks, collect_only=True), cwd=REPO_ROOT, env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"nbval could not collect the notebooks (exit {done.returncode}):\n{done.stdout[-2000:]}"
            )
        cells = sum(int(n) for n in re.findall(r"(\d+) tests? collected", done.stdout))
        return {"notebooks_n": len(notebooks), "cells_collected_n": cells, "executed": "no (dry run: collected only)"}
    started = time.perf_counter()
    lines: list[tuple[float, str]] = []
    process = subprocess.Popen(
        nbval_command(notebooks), cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    timer = _Deadline(process, cap_s - 15)
    for line in process.stdout:  # timestamped as it comes, so a run cut short still counts its cells
        lines.append((time.perf_counter() - started, line.rstrip()))
    process.wait()
    timer.cancel()
    tally = tally_cells(lines)
    failed = sorted(name for name, row in tally.items() if row["failed_n"])
    return {
        "notebooks_n": len(notebooks),
        "passed_n": len(tally) - len(failed),
        "failed": ", ".join(failed) or "none",
        "not_reached": ", ".join(p.stem for p in notebooks if p.stem not in tally) or "none",
        "stopped": "time cap" if timer.fired else f"exit code {process.returncode}",
        "wall_s": time.perf_counter() - started,
        "per_notebook": tally,
        "tail": "\n".join(line for _, line in lines[-25:]) if process.returncode else "",
    }


class _Deadline:
    """Kill ``process`` after ``seconds`` (a thread's timer), so that a hung notebook cannot eat the other parts."""

    def __init__(self, process: subprocess.Popen, seconds: float) -> None:
        import threading

        self.fired = False
        self.timer = threading.Timer(max(1.0, seconds), self._kill, args=(process,))
        self.timer.start()

    def _kill(self, process: subprocess.Popen) -> None:
        self.fired = True
        process.kill()

    def cancel(self) -> None:
        self.timer.cancel()


def _python_path() -> str:
    """PYTHONPATH for a child process: the repo root first (the benchmarks are not installed)."""
    return os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))


def part_mnist_reference(sizes: Sizes, device: torch.device, cap_s: float, dry: bool) -> dict:
    from benchmarks.reference import LOSS_TOLERANCE, run_reference
    from benchmarks.throughput import run_ours
    from vae_helpers.config import native_bf16
    from vae_helpers.data import load_dataset

    mnist = load_dataset("mnist")
    if "LAST-RESORT" in mnist.note:
        raise Skip("the full MNIST files (torchvision layout) were not found: " + mnist.note.splitlines()[0])
    root = Path(mnist.source).parent.parent
    auto = "bf16" if native_bf16(device) else "fp32"
    epochs, images, test = sizes.mnist_epochs, sizes.mnist_train_images, sizes.mnist_test_images
    reference = run_reference(root, epochs, images, device, test)
    fp32 = run_ours(mnist, epochs, images, device, "fp32", test)
    picked = run_ours(mnist, epochs, images, device, "auto", test)
    figures = {
        "epochs_n": sizes.mnist_epochs,
        "train_images_n": sizes.mnist_train_images or 60_000,
        "test_images_n": sizes.mnist_test_images or 10_000,
        "auto_precision": auto,
        "reference_loop_s": reference["seconds"],
        "reference_loop_nats": reference["test_loss"],
        "fit_fp32_s": fp32["seconds"],
        "fit_fp32_nats": fp32["test_loss"],
        "fit_auto_s": picked["seconds"],
        "fit_auto_nats": picked["test_loss"],
    }
    if not dry:  # the full protocol: fit's losses agree with the reference loop's within the tolerance
        agree = all(
            abs(figures[k] - figures["reference_loop_nats"]) <= LOSS_TOLERANCE
            for k in ("fit_fp32_nats", "fit_auto_nats")
        )
        figures["within_tolerance"] = f"{'yes' if agree else 'no'} ({LOSS_TOLERANCE} nats of the reference loop's loss)"
    return figures


def part_conv_epoch(sizes: Sizes, device: torch.device, cap_s: float, dry: bool) -> dict:
    from vae_helpers.config import seed_everything
    from vae_helpers.data import load_dataset
    from vae_helpers.models import ConvVAE
    from vae_helpers.training import TrainConfig, fit

    data = load_dataset("fashion-mnist").full_training_set().subset(sizes.conv_train_images, sizes.conv_val_images)
    seed_everything(0)
    result = fit(ConvVAE(), data, TrainConfig(epochs=2, seed=0, progress=False), device=device)
    first, second = result.history["seconds"][:2]
    return {
        "train_images_n": len(data.train),
        "val_images_n": len(data.val),
        "first_epoch_s": first,
        "epoch_s": second,
        "val_nats": result.history["val_loss"][-1],
    }


def _iwae_timed(model, test, k: int, budget_s: float) -> dict:
    """The IWAE bound of ``model`` on ``test`` at ``k`` samples: first on 5% of the images, then on the rest if
    the projection fits in ``budget_s`` (else the figures of the first part and the projected seconds)."""
    from vae_helpers.data import ImageSplit
    from vae_helpers.evaluation import iwae_log_likelihood

    chunk = min(k, 1000)
    kwargs = {"k": k, "batch_size": max(1, 20_000 // chunk), "chunk": chunk, "return_per_image": True}
    n = len(test.images)
    first = max(1, n // 20)
    started = time.perf_counter()
    values = [iwae_log_likelihood(model, ImageSplit(test.images[:first], test.labels[:first]), **kwargs)]
    seconds = time.perf_counter() - started
    projected = seconds * n / first
    if first < n and projected <= budget_s:
        started = time.perf_counter()
        values.append(iwae_log_likelihood(model, ImageSplit(test.images[first:], test.labels[first:]), **kwargs))
        seconds += time.perf_counter() - started
    per_image = torch.cat([v.reshape(-1).double().cpu() for v in values])
    return {
        "k_n": k,
        "test_images_n": len(per_image),
        "wall_s": seconds,
        "projected_all_images_s": seconds * n / len(per_image),
        "bound_nats": per_image.mean().item(),
    }


def part_iwae_k5000(sizes: Sizes, device: torch.device, cap_s: float, dry: bool) -> dict:
    from benchmarks.reference import binarized_test_split
    from vae_helpers.config import seed_everything
    from vae_helpers.data import load_dataset
    from vae_helpers.models import MLPVAE, ConvVAE
    from vae_helpers.training import TrainConfig, fit

    started = time.perf_counter()
    figures = {}
    mnist = load_dataset("mnist")
    seed_everything(0)
    mlp = MLPVAE(hidden=(400,), latent_dim=50)
    config = TrainConfig(epochs=1, binarize=True, progress=False)
    fit(mlp, mnist.subset(train=sizes.iwae_train_images), config, device=device)
    test = binarized_test_split(mnist.test).head(sizes.iwae_test_images)
    budget = (cap_s - (time.perf_counter() - started)) / 2
    figures["mlp_mnist"] = _iwae_timed(mlp, test, sizes.iwae_k, budget)
    fashion = load_dataset("fashion-mnist")
    seed_everything(0)
    conv = ConvVAE()
    fit(conv, fashion.subset(train=sizes.iwae_train_images), TrainConfig(epochs=1, progress=False), device=device)
    budget = cap_s - (time.perf_counter() - started) - 5
    figures["conv_fashion"] = _iwae_timed(conv, fashion.test.head(sizes.iwae_test_images), sizes.iwae_k, budget)
    return figures


def _committed_celeba_run() -> dict:
    """Epochs and seconds per epoch of notebook 10's committed full run (its training cell's output)."""
    nb = json.loads((REPO_ROOT / "notebooks" / "10_celeba_faces.ipynb").read_text())
    pattern = r"(\d+) epochs \((\w+)\), [\d,]+ steps, \d+ s of training on .*?\(([\d.]+) s/epoch\)"
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            found = re.search(pattern, "".join(out.get("text", "")))
            if found:
                return {"committed_epochs_n": int(found.group(1)), "committed_epoch_s": float(found.group(3))}
    return {}


def part_celeba(sizes: Sizes, device: torch.device, cap_s: float, dry: bool) -> dict:
    from vae_helpers.config import seed_everything
    from vae_helpers.data import DataNotFoundError, load_dataset
    from vae_helpers.models import ConvVAE64
    from vae_helpers.training import TrainConfig, fit

    try:
        faces = load_dataset("celeba", max_per_split=sizes.celeba_per_split)
    except DataNotFoundError as error:
        raise Skip("the CelebA faces were not found: " + str(error).strip().splitlines()[0]) from None
    seed_everything(0)
    model = ConvVAE64(latent_dim=128)
    config = TrainConfig(
        epochs=sizes.celeba_epochs,
        batch_size=sizes.celeba_batch,
        lr=1e-3,
        likelihood="gaussian",
        sigma=0.1,
        patience=10,
        seed=0,
        progress=False,
    )
    with _interrupt_after(cap_s - 10):  # fit stops cleanly on KeyboardInterrupt and returns its history
        result = fit(model, faces, config, device=device)
    seconds = result.history["seconds"]
    if not seconds:
        raise Skip(f"no epoch finished within the cap of {cap_s:.0f} s")
    return {
        "train_images_n": len(faces.train),
        "epochs_n": len(seconds),
        "budget_epochs_n": sizes.celeba_epochs,
        "stopped": result.stopped if result.stopped != "interrupted" else "time cap",
        "first_epoch_s": seconds[0],
        "epoch_s": sum(seconds[1:]) / (len(seconds) - 1) if len(seconds) > 1 else seconds[0],  # after the warm-up
        "best_val_nats": result.best_val,
        **_committed_celeba_run(),
    }


class _interrupt_after:
    """Raise KeyboardInterrupt in the main thread after ``seconds`` (where signals allow it)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = max(1.0, seconds)

    def __enter__(self) -> None:
        if hasattr(signal, "setitimer"):
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc) -> None:
        if hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)

    @staticmethod
    def _fire(signum, frame) -> None:
        raise KeyboardInterrupt


PART_FUNCTIONS: dict[str, Callable[[Sizes, torch.device, float, bool], dict]] = {
    "notebooks": part_notebooks,
    "mnist_reference": part_mnist_reference,
    "conv_epoch": part_conv_epoch,
    "iwae_k5000": part_iwae_k5000,
    "celeba": part_celeba,
}


# --------------------------------------------------------------------------------------------
# Running the parts, each in its own process under its cap, and the report
# --------------------------------------------------------------------------------------------
def machine(device: torch.device) -> dict:
    """The GPU's name and memory, torch and CUDA versions, the CPU: what the figures depend on."""
    gpu = torch.cuda.get_device_properties(device) if device.type == "cuda" else None
    return {
        "device": str(device),
        "gpu": gpu.name if gpu else None,
        "gpu_memory_gib": round(gpu.total_memory / 2**30, 1) if gpu else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }


def run_part(name: str, dry: bool) -> dict:
    """Run part ``name`` in this process: ``{"seconds_s", "figures"}`` or ``{"seconds_s", "skipped"}``."""
    device = torch.device("cpu") if dry else torch.device("cuda")
    cap = PARTS[name].dry_cap_s if dry else PARTS[name].cap_s
    started = time.perf_counter()
    try:
        figures = PART_FUNCTIONS[name](DRY if dry else FULL, device, cap, dry)
    except Skip as reason:
        return {"seconds_s": time.perf_counter() - started, "skipped": str(reason)}
    return {"seconds_s": time.perf_counter() - started, "figures": figures}


def run_part_process(name: str, dry: bool) -> dict:
    """Run part ``name`` in a child process under its cap; a failure or a timeout becomes a skip reason."""
    cap = PARTS[name].dry_cap_s if dry else PARTS[name].cap_s
    result_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"gpu_check_{name}_{os.getpid()}.json"
    result_file.unlink(missing_ok=True)
    command = [sys.executable, "-m", "benchmarks.gpu_check", "--part", name, "--part-result", str(result_file)]
    started = time.perf_counter()
    # its own process group: on a timeout, its children (nbval's pytest, the kernels) go with it
    process = subprocess.Popen(
        command + (["--dry-run"] if dry else []),
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": _python_path()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=cap + 30)  # the process start and imports on top of the cap
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return {"seconds_s": time.perf_counter() - started, "skipped": f"did not finish within its cap of {cap:.0f} s"}
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    if done.returncode != 0 or not result_file.exists():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"seconds_s": time.perf_counter() - started, "skipped": f"failed (exit {done.returncode}): {last}"}
    result = json.loads(result_file.read_text())
    result_file.unlink()
    return result


def gpu_check(parts: list[str], dry: bool, isolate: bool = True, log: Callable[[str], None] = print) -> dict:
    """Run ``parts`` (names of :data:`PARTS`) and return the report (see the module's docstring)."""
    if not dry and not torch.cuda.is_available():
        raise SystemExit(
            "gpu_check: no CUDA device is visible (torch.cuda.is_available() is False, torch "
            f"{torch.__version__}, CUDA build {torch.version.cuda}). Run it on a machine with an NVIDIA GPU, "
            "or use --dry-run to check the script on the CPU with tiny sizes."
        )
    device = torch.device("cpu") if dry else torch.device("cuda")
    report = {
        "schema": SCHEMA,
        "mode": "dry-run" if dry else "gpu",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(device),
        "cpu_reference": {"machine": CPU_MACHINE, **CPU_FIGURES},
        "parts": {},
    }
    started = time.perf_counter()
    for name in parts:
        log(f"== {name}: {PARTS[name].description} (cap {PARTS[name].dry_cap_s if dry else PARTS[name].cap_s:.0f} s)")
        result = run_part_process(name, dry) if isolate else run_part(name, dry)
        report["parts"][name] = {"description": PARTS[name].description, **result}
        log(f"   {result.get('skipped') or 'done'} ({result['seconds_s']:.1f} s)")
    report["total_s"] = time.perf_counter() - started
    return report


def check_report(report: dict) -> list[str]:
    """What is wrong with a report (empty if nothing): keys, types, units, figures or a skip reason per part."""
    problems = []
    for key in ("schema", "mode", "date", "machine", "cpu_reference", "parts", "total_s"):
        if key not in report:
            problems.append(f"missing key {key!r}")
    for key in ("gpu", "torch", "cuda", "cpu", "cores"):
        if key not in report.get("machine", {}):
            problems.append(f"machine: missing {key!r}")

    def check_figures(path: str, figures: dict) -> None:
        for key, value in figures.items():
            if isinstance(value, dict):
                check_figures(f"{path}.{key}", value)
            elif isinstance(value, bool) or not isinstance(value, (int, float, str)):
                problems.append(f"{path}.{key}: {type(value).__name__} is not a number or a string")
            elif not isinstance(value, str) and not key.endswith(tuple(UNIT_SUFFIXES)):
                problems.append(f"{path}.{key}: a number whose name ends in no unit ({', '.join(UNIT_SUFFIXES)})")

    for name, part in report.get("parts", {}).items():
        if name not in PARTS:
            problems.append(f"parts.{name}: not a part of the check")
        if not isinstance(part.get("seconds_s"), (int, float)):
            problems.append(f"parts.{name}: no seconds_s")
        has_figures, skipped = bool(part.get("figures")), part.get("skipped")
        if has_figures == bool(skipped):
            problems.append(
                f"parts.{name}: needs either figures or a skip reason (has {'both' if skipped else 'neither'})"
            )
        if has_figures:
            check_figures(f"parts.{name}", part["figures"])
    return problems


# --------------------------------------------------------------------------------------------
# The Markdown table for docs/benchmarks.md
# --------------------------------------------------------------------------------------------
def _fmt_s(seconds: float) -> str:
    return (
        "-"
        if seconds is None or not math.isfinite(seconds)
        else (f"{seconds:.1f} s" if seconds < 100 else f"{seconds:.0f} s")
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def markdown(report: dict) -> str:
    """A short table: each measurement on this machine next to the CPU figure."""
    m, cpu = report["machine"], report["cpu_reference"]
    host = f"{m['cpu']}, {m['cores']} cores"
    where = f"{m['gpu']} ({m['gpu_memory_gib']} GiB), host CPU {host}" if m["gpu"] else f"CPU only: {host}"
    lines = [
        f"### GPU check ({report['mode']}), {report['date'][:10]}",
        "",
        f"{where} | torch {m['torch']} | CUDA {m['cuda']} | cuDNN {m['cudnn']} "
        f"| `python -m benchmarks gpu-check{' --dry-run' if report['mode'] == 'dry-run' else ''}` "
        f"| {report['total_s']:.0f} s in all",
        "",
        f"| measurement | this machine | CPU: {cpu['machine']} |",
        "| --- | --- | --- |",
    ]
    parts = report["parts"]

    def row(name: str, label: str, ours: Callable[[dict], str], theirs: str) -> None:
        if name not in parts:
            return
        part = parts[name]
        text = f"skipped: {part['skipped']}" if part.get("skipped") else ours(part["figures"])
        lines.append(f"| {label} | {text} | {theirs} |")

    row(
        "notebooks",
        "every notebook under nbval, fast mode",
        lambda f: (
            f"{f['passed_n']} of {f['notebooks_n']} passed (failed: {f['failed']}) in {_fmt_s(f['wall_s'])}"
            if "passed_n" in f
            else f"{f['notebooks_n']} notebooks, {f['cells_collected_n']} cells collected (not run)"
        ),
        f"9 of 9 in {_fmt_s(cpu['notebooks_s'])}",
    )
    for key, label, cpu_key in (
        ("reference_loop", "pytorch/examples loop", "reference_loop"),
        ("fit_fp32", "`fit`, fp32", "fit_fp32"),
        ("fit_auto", "`fit`, precision='auto'", "fit_bf16"),
    ):
        row(
            "mnist_reference",
            f"MNIST reference job: {label}",
            lambda f, key=key: (
                f"{_fmt_s(f[key + '_s'])}, test loss {f[key + '_nats']:.2f}"
                + (f" ({f['auto_precision']})" if key == "fit_auto" else "")
                + f" ({_plural(f['epochs_n'], 'epoch')}, {f['train_images_n']:,} images)"
            ),
            f"{_fmt_s(cpu[cpu_key + '_s'])}, test loss {cpu[cpu_key + '_nats']:.2f}"
            + (" (bf16)" if key == "fit_auto" else ""),
        )
    row(
        "conv_epoch",
        "conv VAE, one epoch on Fashion-MNIST",
        lambda f: (
            f"{_fmt_s(f['epoch_s'])} ({f['train_images_n']:,} + {f['val_images_n']:,} validation images; "
            f"first epoch {_fmt_s(f['first_epoch_s'])})"
        ),
        f"{_fmt_s(cpu['conv_epoch_54000_images_s'])} (54,000 + 6,000 images)",
    )
    for key, label, theirs in (
        ("mlp_mnist", "IWAE bound, MLP 784-400-50, binarized MNIST", _fmt_s(cpu["iwae_mlp_10000_images_s"])),
        ("conv_fashion", "IWAE bound, conv VAE, Fashion-MNIST", "about 2 h (projected)"),
    ):
        row(
            "iwae_k5000",
            label,
            lambda f, key=key: (
                f"{_fmt_s(f[key]['wall_s'])} on {f[key]['test_images_n']:,} images, k={f[key]['k_n']}"
                + (
                    f" (all: {_fmt_s(f[key]['projected_all_images_s'])} projected)"
                    if f[key]["wall_s"] < f[key]["projected_all_images_s"] * 0.99
                    else ""
                )
            ),
            theirs + " on 10,000 images, k=5000",
        )
    row(
        "celeba",
        "notebook 10's CelebA VAE",
        lambda f: (
            f"{_fmt_s(f['epoch_s'])} / epoch, {f['epochs_n']} of {f['budget_epochs_n']} epochs ({f['stopped']}), "
            f"{f['train_images_n']:,} faces"
        ),
        f"{_fmt_s(cpu['celeba_epoch_s'])} / epoch (60 epochs, 4,560 faces, one thread beside another job)",
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks gpu-check", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "gpu_check.json", help="the JSON report")
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes, notebooks collected only")
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated, in this order by default: {','.join(PARTS)}"
    )
    parser.add_argument("--render", type=Path, metavar="JSON", help="print the Markdown table of an earlier report")
    parser.add_argument(
        "--write-docs", action="store_true", help="put the Markdown table in docs/benchmarks.md's gpu-check section"
    )
    parser.add_argument("--part", help=argparse.SUPPRESS)  # one part in this process (the child of a check)
    parser.add_argument("--part-result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.part:
        try:
            result = run_part(args.part, args.dry_run)
        except Exception:
            traceback.print_exc()
            raise
        args.part_result.write_text(json.dumps(result, allow_nan=True))
        return 0
    if args.render:
        report = json.loads(args.render.read_text())
    else:
        parts = [p.strip() for p in args.parts.split(",") if p.strip()]
        unknown = [p for p in parts if p not in PARTS]
        if unknown:
            parser.error(f"--parts: unknown {', '.join(unknown)}; the parts are {', '.join(PARTS)}")
        report = gpu_check(parts, args.dry_run)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(markdown(report))
        print(f"\nwrote {args.out} and {args.out.with_suffix('.md')}")
    problems = check_report(report)
    table = markdown(report)
    print("\n" + table)
    if args.write_docs:
        from benchmarks.report import write_section

        print(f"wrote the gpu-check section of {write_section('gpu-check', table)}")
    if problems:
        print("the report has problems:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How long a training run will take on this device, said before it starts, and a budget that fits on a CPU.

On a CPU, :func:`training_budget` caps the images at :data:`CPU_IMAGE_EPOCHS` unless a full run is asked for
(all of CelebA would take more than a day); on a GPU it never caps.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch

from .config import describe_device
from .data.containers import ImageDataset
from .errors import ConfigError

#: Images x epochs trained on a CPU by default: about an hour of the 64x64 convolutional VAE on one core.
CPU_IMAGE_EPOCHS = 300_000


@dataclass(frozen=True)
class TrainingBudget:
    """What a run will train on (``train_images``: the first of the split, which is in a seeded random order), how
    long that should take here (``seconds_per_image``: of a training step on ``device``), and the ``switch`` that
    lifts the cap."""

    available_images: int
    train_images: int
    epochs: int
    seconds_per_image: float
    device: str
    capped: bool
    switch: str = "FULL_RUN = True"

    def seconds(self, images: int | None = None) -> float:
        """Estimated training time of ``epochs`` over ``images`` (default: the budget's) images."""
        return (self.train_images if images is None else images) * self.epochs * self.seconds_per_image

    def apply(self, data: ImageDataset) -> ImageDataset:
        """``data`` with its training split cut to the budget (the same object when nothing is capped)."""
        return data.subset(train=self.train_images) if self.capped else data

    def __str__(self) -> str:
        plan = (
            f"Training on {self.device}: {self.train_images:,} images x up to {self.epochs} epochs, "
            f"about {_duration(self.seconds())} here ({self.seconds_per_image * 1000:.1f} ms per image and epoch)."
        )
        if not self.capped:
            return plan
        return (
            f"{plan} All {self.available_images:,} training images would take about "
            f"{_duration(self.seconds(self.available_images))} on this CPU, so this run trains on the first "
            f"{self.train_images:,} ({CPU_IMAGE_EPOCHS:,} images x epochs). Set {self.switch} in the parameters "
            "cell for every image (or run on a GPU, which the course uses when there is one)."
        )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def measure_seconds_per_image(
    model: torch.nn.Module, device: torch.device | str, batch_size: int = 64, steps: int = 2
) -> float:
    """Seconds per image of a training step (forward, backward, Adam) of a copy of ``model`` on random images,
    after a warm-up step; ``model`` and the global random state are left as they were."""
    from .objective import model_objective

    device = torch.device(device)
    trial = copy.deepcopy(model).to(device).train()
    optimizer = torch.optim.Adam(trial.parameters(), lr=1e-3)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        x = torch.rand(batch_size, *trial.image_shape, device=device)
        y = torch.zeros(batch_size, dtype=torch.long, device=device)
        elapsed = 0.0
        for step in range(steps + 1):  # step 0 warms up (allocations, kernel choice)
            start = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            model_objective(trial, x, y).loss.backward()
            optimizer.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if step:
                elapsed += time.perf_counter() - start
    return elapsed / (steps * batch_size)


def training_budget(
    model: torch.nn.Module | None,
    available_images: int,
    epochs: int,
    device: torch.device | str,
    *,
    full_run: bool = False,
    batch_size: int = 64,
    seconds_per_image: float | None = None,
    max_image_epochs: int = CPU_IMAGE_EPOCHS,
) -> TrainingBudget:
    """The images a run of ``epochs`` trains on here, and the time it should take.

    On a CPU without ``full_run`` the training images are capped at ``max_image_epochs // epochs``.
    :func:`measure_seconds_per_image` times ``model`` unless ``seconds_per_image`` is given (``model`` may then be
    None). Counts below 1, or neither a model nor ``seconds_per_image``, raise :class:`ConfigError`.
    """
    device = torch.device(device)
    for name, value in (("available_images", available_images), ("epochs", epochs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"training_budget: {name}={value!r} must be a whole number >= 1.")
    if seconds_per_image is None:
        if model is None:
            raise ConfigError("training_budget: pass the model to time, or seconds_per_image.")
        seconds_per_image = measure_seconds_per_image(model, device, batch_size)
    cap = max(1, max_image_epochs // epochs)
    capped = device.type == "cpu" and not full_run and available_images > cap
    where = describe_device(device) if device.type != "cuda" or torch.cuda.is_available() else str(device)
    return TrainingBudget(
        available_images, cap if capped else available_images, epochs, seconds_per_image, where, capped
    )

"""What every absolute time depends on: the CPU model and cores, the GPU, native bf16, torch version and date."""

from __future__ import annotations

import os
import platform
from datetime import date
from pathlib import Path

import torch

from vae_helpers.config import describe_device, native_bf16


def machine_line(device: torch.device) -> str:
    """CPU model, threads, native bf16, torch version and date: what every absolute time depends on."""
    return (
        f"device: {describe_device(device)} | CPU: {cpu_model()}, {os.cpu_count()} cores | native bf16: "
        f"{'yes' if native_bf16(device) else 'no'} | torch {torch.__version__} | load average "
        f"{os.getloadavg()[0]:.2f} | {date.today()}"
    )


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()

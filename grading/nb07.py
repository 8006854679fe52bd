"""Hidden tests of notebook 07's exercises (the teacher's grading module; never shipped to students).

Called only from the hidden-test regions of ``notebooks/06_*.ipynb``, which nbgrader removes from the student
version and restores when it autogrades. They reuse the visible checks' helpers of
:mod:`vae_helpers.exercises.nb07` on other inputs and sizes, and test the mistakes a visible check could let through.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vae_helpers.exercises.nb07 import _check_active, _check_kl_dims, _ok, posterior_means

__all__ = ["reference_dims_for_kl_fraction", "hidden_active_units", "hidden_kl_dims"]


def reference_dims_for_kl_fraction(kl: torch.Tensor, fraction: float) -> int:
    """Exercise 2's answer: the smallest k whose k largest KLs (of ``kl [D]``) reach ``fraction`` of the total."""
    s = kl.double().sort(descending=True).values
    return int((s.cumsum(0) < fraction * s.sum()).sum()) + 1


def hidden_active_units(active_units: Callable) -> None:
    """Hidden tests of exercise 1: other sizes, other thresholds (the argument is used), a count near the threshold."""
    ex = "Exercise 1 (active_units), hidden tests"
    stds = [0.09, 0.3, 0.001, 0.12, 0.02, 1.5, 0.5, 0.05, 0.0, 0.2, 0.11]
    mu = posterior_means(stds, n=25, seed=3)
    for threshold in (0.01, 0.001, 0.1):
        _check_active(ex, active_units, mu, threshold)
    _check_active(ex, active_units, posterior_means([0.4, 0.01, 0.3], n=500, seed=4).double(), 0.05)
    _ok(f"{ex}: passed.")


def _check(ex: str, dims_for_kl_fraction: Callable, kl: torch.Tensor, fraction: float) -> None:
    _check_kl_dims(ex, dims_for_kl_fraction, kl, fraction, reference_dims_for_kl_fraction(kl, fraction))


def hidden_kl_dims(dims_for_kl_fraction: Callable) -> None:
    """Hidden tests of exercise 2: other vectors, fractions and dtypes; the input is left unchanged."""
    ex = "Exercise 2 (dims_for_kl_fraction), hidden tests"
    g = torch.Generator().manual_seed(6)
    kl = torch.rand(37, generator=g) ** 6 * 4
    for fraction in (0.5, 0.9, 0.99):
        _check(ex, dims_for_kl_fraction, kl, fraction)
    _check(ex, dims_for_kl_fraction, torch.tensor([0.2, 0.9, 0.1, 2.5], dtype=torch.float64), 0.75)
    _check(ex, dims_for_kl_fraction, torch.full((6,), 0.5), 0.9)
    _ok(f"{ex}: passed.")

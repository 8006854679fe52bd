"""Hidden tests of notebook 04's exercises (the teacher's grading module; never shipped to students).

Called only from the hidden-test regions of ``notebooks/03_*.ipynb``, which nbgrader removes from the student
version and restores when it autogrades. They reuse the visible checks' helpers of
:mod:`vae_helpers.exercises.nb04` on other inputs and sizes, and test the mistakes a visible check could let through.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vae_helpers.exercises.nb04 import _call, _check_reparam, _fail, _ok, _scalar

__all__ = ["hidden_reparameterize", "hidden_score_function"]


def hidden_reparameterize(reparameterize: Callable) -> None:
    ex = "Exercise 1 (reparameterize), hidden tests"
    _check_reparam(ex, reparameterize, seed=31, n=9, d=5)
    _ok(f"{ex}: passed.")


def hidden_score_function(score_function_grad: Callable) -> None:
    """Unbiased: with many samples it estimates d/dmu E[(z - 3)^2] = 2 (mu - 3)."""
    ex = "Exercise 2 (score_function_grad), hidden tests"
    g = torch.Generator().manual_seed(77)
    mu, sigma = -0.5, 0.7
    z = mu + sigma * torch.randn(400000, generator=g, dtype=torch.float64)
    got = _scalar(ex, "the gradient estimate", _call(ex, score_function_grad, (z - 3.0) ** 2, z, mu, sigma))
    if abs(got - 2 * (mu - 3.0)) > 0.1:
        raise _fail(
            ex, f"with 400,000 samples the estimate {got:.3f} should be near the exact gradient {2 * (mu - 3):.3f}."
        )
    _ok(f"{ex}: passed.")

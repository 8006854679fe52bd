"""Hidden tests of notebook 02's exercises (the teacher's grading module; never shipped to students).

Called only from the hidden-test regions of ``notebooks/02_*.ipynb``, which nbgrader removes from the student
version and restores when it autogrades. They reuse the visible checks' helpers of
:mod:`vae_helpers.exercises.nb02` on other inputs and sizes, and test the mistakes a visible check could let through.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vae_helpers.exercises.nb02 import _call, _fail, _grad_of, _kl_mistakes, _match, _ok, _tensor, kl_per_dim

__all__ = ["hidden_kl_closed_form", "hidden_kl_monte_carlo"]


def hidden_kl_closed_form(kl_closed_form: Callable) -> None:
    ex = "Exercise 1 (kl_closed_form), hidden tests"
    g = torch.Generator().manual_seed(21)
    mu, logvar = torch.randn(6, 7, generator=g), torch.randn(6, 7, generator=g)
    got = _tensor(ex, "the KL", _call(ex, kl_closed_form, mu, logvar), (6,))
    _match(ex, got, kl_per_dim(mu, logvar).sum(1), "the KL on another batch (N=6, D=7)", _kl_mistakes(mu, logvar))
    g_mu, _ = _grad_of(ex, kl_closed_form, "the KL", [mu, logvar], [0, 1])
    if g_mu is None or not torch.allclose(g_mu, mu, atol=1e-5):
        raise _fail(ex, "the gradient with respect to mu should be mu: part of the formula is detached.")
    _ok(f"{ex}: passed.")


def hidden_kl_monte_carlo(kl_monte_carlo_estimate: Callable) -> None:
    ex = "Exercise 2 (kl_monte_carlo_estimate), hidden tests"
    mu, logvar = torch.tensor([[0.0, 2.0], [1.0, -1.0]]), torch.tensor([[0.0, -1.0], [1.0, 0.5]])
    exact = kl_per_dim(mu, logvar).sum(1).double()
    est = _tensor(
        ex,
        "the estimate",
        _call(ex, kl_monte_carlo_estimate, mu, logvar, 40000, torch.Generator().manual_seed(9)),
        (2,),
    )
    if not torch.allclose(est, exact, rtol=0.03, atol=0.03):
        raise _fail(
            ex, f"with 40000 samples on another batch the estimate {est.tolist()} is far from {exact.tolist()}."
        )
    zero = _tensor(
        ex,
        "the estimate",
        _call(ex, kl_monte_carlo_estimate, torch.zeros(3, 4), torch.zeros(3, 4), 5, torch.Generator().manual_seed(1)),
        (3,),
    )
    if not torch.allclose(zero, torch.zeros(3, dtype=torch.float64), atol=1e-5):
        raise _fail(ex, "when q = p (mu = 0, logvar = 0) every sample gives log q - log p = 0 exactly.")
    _ok(f"{ex}: passed.")

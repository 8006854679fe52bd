"""Checks of notebook 04's exercises: the reparameterized sample and the score-function gradient."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._common import _call, _fail, _grad_of, _match, _ok, _scalar, _tensor, checks_a_function

__all__ = ["check_reparameterize", "check_score_function"]


def _inputs(seed: int, n: int, d: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)


def _reparam_mistakes(mu, logvar, eps):
    return [
        (
            mu + logvar.exp() * eps,
            "You multiply eps by the variance exp(logvar): use the standard deviation exp(logvar / 2).",
        ),
        (mu + logvar * eps, "`logvar` is log(sigma^2): sigma = exp(0.5 * logvar), not logvar itself."),
        (mu + torch.sqrt(logvar.abs()) * eps, "`logvar` is log(sigma^2): sigma = exp(0.5 * logvar)."),
        (mu + eps, "The noise must be scaled by sigma = exp(0.5 * logvar)."),
        (mu * eps + logvar.mul(0.5).exp(), "mu and sigma are swapped: z = mu + sigma * eps."),
        (mu.expand_as(eps).clone(), "You ignore eps: z = mu + sigma * eps."),
    ]


def _check_reparam(ex: str, fn: Callable, seed: int, n: int, d: int) -> None:
    mu, logvar, eps = _inputs(seed, n, d)
    got = _tensor(ex, "z", _call(ex, fn, mu, logvar, eps), (n, d))
    _match(ex, got, mu + (0.5 * logvar).exp() * eps, "z", _reparam_mistakes(mu, logvar, eps))
    g_mu, g_lv = _grad_of(ex, fn, "z", [mu, logvar, eps], [0, 1])
    if g_mu is None or g_lv is None or g_mu.abs().sum() == 0 or g_lv.abs().sum() == 0:
        raise _fail(
            ex,
            "no gradient reaches mu or logvar: that is exactly what the trick must avoid. Build z with torch "
            "operations on mu and logvar (no .detach(), no torch.no_grad(), no new tensor from their values).",
        )
    if not torch.allclose(g_mu, torch.ones_like(mu)) or not torch.allclose(
        g_lv, 0.5 * (0.5 * logvar).exp() * eps, atol=1e-5
    ):
        raise _fail(ex, "the gradients are wrong: dz/dmu = 1 and dz/dlogvar = 0.5 * sigma * eps.")


@checks_a_function
def check_reparameterize(reparameterize: Callable) -> None:
    """Exercise 1: ``reparameterize(mu, logvar, eps) -> z = mu + exp(logvar / 2) * eps``, differentiable."""
    ex = "Exercise 1 (reparameterize)"
    _check_reparam(ex, reparameterize, seed=0, n=4, d=3)
    _ok(f"{ex}: z = mu + sigma * eps, and gradients reach mu and logvar. Well done!")


def _score_mistakes(f, z, mu, sigma):
    return [
        (-(f * (z - mu) / sigma**2).mean(), "Wrong sign: the score of N(mu, sigma^2) in mu is +(z - mu) / sigma^2."),
        ((f * (z - mu) / sigma).mean(), "The score in mu is (z - mu) / sigma^2: divide by the variance, not sigma."),
        ((f * (z - mu)).mean(), "You forgot to divide by sigma^2: the score in mu is (z - mu) / sigma^2."),
        (((z - mu) / sigma**2).mean(), "Each score must be weighted by f(z): the estimator is mean of f(z) * score."),
        ((f * (z - mu) / sigma**2).sum(), "Average over the samples (mean), do not sum."),
    ]


@checks_a_function
def check_score_function(score_function_grad: Callable) -> None:
    """Exercise 2: ``score_function_grad(f_values, z, mu, sigma) -> scalar``: the REINFORCE estimate of
    d/dmu E_{z ~ N(mu, sigma^2)}[f(z)] = mean over samples of f(z) * (z - mu) / sigma^2."""
    ex = "Exercise 2 (score_function_grad)"
    z = torch.tensor([0.3, -1.2, 2.5, 0.9, -0.4], dtype=torch.float64)
    f = (z - 3.0) ** 2
    mu, sigma = 0.5, 1.5
    got = _scalar(ex, "the gradient estimate", _call(ex, score_function_grad, f, z, mu, sigma))
    expected = (f * (z - mu) / sigma**2).mean()
    _match(
        ex,
        torch.tensor([got], dtype=torch.float64),
        expected.reshape(1),
        "the gradient estimate",
        [(v.reshape(1), m) for v, m in _score_mistakes(f, z, mu, sigma)],
    )
    _ok(f"{ex}: {got:.4f} on the fixed samples. Well done!")

"""Checks of notebook 02's exercises: the closed-form Gaussian KL and its Monte Carlo estimate."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..losses import kl_per_dim
from ._common import _call, _fail, _grad_of, _match, _ok, _tensor, checks_a_function, fixed_batch

__all__ = ["check_kl_closed_form", "check_kl_monte_carlo"]


def _kl_mistakes(mu: torch.Tensor, logvar: torch.Tensor) -> list[tuple[torch.Tensor, str]]:
    per = kl_per_dim(mu, logvar)
    var = logvar.exp()
    return [
        (
            per.mean(1),
            "You average over latent dimensions: the KL of a diagonal Gaussian is the *sum* over dimensions.",
        ),
        (-per.sum(1), "Wrong sign: KL(q || p) >= 0. Check the sign of each term."),
        (0.5 * (mu**2 + var - logvar).sum(1), "You are missing the '- 1' of each dimension."),
        ((mu**2 + var - logvar - 1).sum(1), "You are missing the factor 1/2."),
        (
            0.5 * (mu**2 + var**2 - 2 * logvar - 1).sum(1),
            "`logvar` is log(sigma^2), not log(sigma): sigma^2 = exp(logvar).",
        ),
        (0.5 * (mu + var - logvar - 1).sum(1), "The mean enters squared: mu^2."),
    ]


@checks_a_function
def check_kl_closed_form(kl_closed_form: Callable) -> None:
    """Exercise 1: ``kl_closed_form(mu, logvar) -> [N]``, KL(N(mu, diag exp(logvar)) || N(0, I)) per row."""
    ex = "Exercise 1 (kl_closed_form)"
    b = fixed_batch()
    mu, logvar = b["mu"].double(), b["logvar"].double()
    got = _tensor(ex, "the KL", _call(ex, kl_closed_form, mu, logvar), (4,))
    _match(ex, got, kl_per_dim(mu, logvar).sum(1), "the KL per row", _kl_mistakes(mu, logvar))
    g_mu, g_lv = _grad_of(ex, kl_closed_form, "the KL", [mu, logvar], [0, 1])
    if (
        g_mu is None
        or not torch.allclose(g_mu, mu)
        or g_lv is None
        or not torch.allclose(g_lv, 0.5 * (logvar.exp() - 1))
    ):
        raise _fail(ex, "the values are right but the gradients are not: part of the formula is detached.")
    _ok(f"{ex}: KL per row {[round(v, 4) for v in got.tolist()]} nats, gradients flow. Well done!")


@checks_a_function
def check_kl_monte_carlo(kl_monte_carlo_estimate: Callable) -> None:
    """Exercise 2: ``kl_monte_carlo_estimate(mu, logvar, n, generator) -> [N]``: the average over n samples
    z ~ q of log q(z) - log p(z), drawn as ``mu + exp(logvar / 2) * torch.randn(n, *mu.shape, generator=generator)``."""
    ex = "Exercise 2 (kl_monte_carlo_estimate)"
    b = fixed_batch()
    mu, logvar = b["mu"].double(), b["logvar"].double()
    exact = kl_per_dim(mu, logvar).sum(1)
    big = _tensor(
        ex,
        "the estimate",
        _call(ex, kl_monte_carlo_estimate, mu, logvar, 20000, torch.Generator().manual_seed(0)),
        (4,),
    )
    small = [
        _tensor(
            ex,
            "the estimate",
            _call(ex, kl_monte_carlo_estimate, mu, logvar, 1, torch.Generator().manual_seed(s)),
            (4,),
        )
        for s in (1, 2)
    ]
    if torch.allclose(small[0], small[1]) and torch.allclose(small[0], exact, atol=1e-6):
        raise _fail(ex, "you return the closed form: this exercise estimates the KL from samples z ~ q(z|x).")
    if torch.allclose(big, -exact, rtol=0.05, atol=0.05):
        raise _fail(ex, "your estimate has the wrong sign: average log q(z) - log p(z) (not log p - log q).")
    if torch.allclose(big, exact / 3, rtol=0.05, atol=0.05):
        raise _fail(ex, "you average the log-densities over the latent dimensions: sum them over dimensions.")
    if torch.allclose(small[0], small[1]):
        raise _fail(ex, "two different generators give the same estimate: draw the samples with `generator`.")
    if not torch.allclose(big, exact, rtol=0.03, atol=0.03):
        raise _fail(
            ex,
            f"with n=20000 samples the estimate {[round(v, 3) for v in big.tolist()]} should be close to the "
            f"closed form {[round(v, 3) for v in exact.tolist()]}. Check both log-densities: each has a "
            "-0.5*log(2 pi) per dimension, and log q has -0.5*logvar - (z - mu)^2 / (2 exp(logvar)).",
        )
    _ok(f"{ex}: with 20,000 samples the estimate agrees with the closed form to within 3%. Well done!")

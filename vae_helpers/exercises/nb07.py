"""Checks of notebook 07's exercises: active units (Burda et al. 2015) and how the KL is shared between dimensions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._common import _call, _fail, _ok, _tensor, checks_a_function

__all__ = [
    "check_active_units",
    "check_kl_dims",
    "posterior_means",
]


# --------------------------------------------------------------------------------------------
# Exercise 1: active units
# --------------------------------------------------------------------------------------------
def posterior_means(stds: list[float], n: int = 40, seed: int = 0) -> torch.Tensor:
    """Posterior means ``[n x D]`` whose column ``i`` has unbiased standard deviation exactly ``stds[i]``
    (and a different offset and pattern per column), so every variance is known in advance."""
    g = torch.Generator().manual_seed(seed)
    cols = []
    for i, s in enumerate(stds):
        v = torch.randn(n, generator=g, dtype=torch.float64)
        v = (v - v.mean()) / v.std()
        cols.append(0.3 * (i - 2) + s * v)
    return torch.stack(cols, 1).float()


#: Exercise 1's fixed means: variances 4, 0.25, 0.04, 0.0064, 0.0025, 1e-6, 9e-6; 3 active at threshold 0.01, but 5 of
#: the standard deviations exceed 0.01.
FIXED_STDS = [2.0, 0.5, 0.2, 0.08, 0.05, 0.001, 0.003]


def _int(ex: str, what: str, value: Any) -> int:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise _fail(ex, f"{what} should be a single number, got a tensor of shape {tuple(value.shape)}.")
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail(ex, f"{what} should be an int (a count of dimensions), got {value!r}.")
    return value


def _check_active(ex: str, fn: Callable, mu: torch.Tensor, threshold: float) -> int:
    n, d = mu.shape
    out = _call(ex, fn, mu.clone(), threshold)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise _fail(ex, "return a tuple (count, variances): the number of active units and the [D] variances.")
    count, variances = out
    if isinstance(variances, torch.Tensor) and tuple(variances.shape) == (n,) and n != d:
        raise _fail(
            ex,
            f"the variances have shape ({n},), one per image: take the variance over the images (dim 0) of the "
            f"[N x D] means, one number per latent dimension (shape ({d},)).",
        )
    var = _tensor(ex, "the variances", variances, (d,))
    unbiased, biased = mu.double().var(0, unbiased=True), mu.double().var(0, unbiased=False)
    if torch.allclose(var, mu.double().std(0), rtol=1e-4, atol=1e-7):
        raise _fail(ex, "you return the standard deviations: the criterion is on the variance Var_x(E[z_i|x]).")
    if not (torch.allclose(var, unbiased, rtol=1e-4, atol=1e-7) or torch.allclose(var, biased, rtol=1e-4, atol=1e-7)):
        raise _fail(
            ex,
            "the variances are wrong: for each latent dimension, the variance over the N images of its posterior "
            "mean, mu.var(0) (the mean over x of (mu - mean)^2).",
        )
    got = _int(ex, "the count", count)
    want = int((unbiased > threshold).sum())
    if got != want:
        by_std = int((mu.double().std(0) > threshold).sum())
        if got == by_std:
            raise _fail(
                ex,
                f"you count {got} active units, expected {want}: you compared the standard deviation with the "
                f"threshold; Burda et al.'s criterion is Var_x(E[z_i|x]) > {threshold} (the variance).",
            )
        if got == d - want:
            raise _fail(
                ex, f"you count {got}, expected {want}: you counted the *inactive* units (variance <= threshold)."
            )
        raise _fail(
            ex,
            f"you count {got} active units, expected {want} (variances {[round(v, 5) for v in var.tolist()]} "
            f"against the threshold {threshold}). Count the dimensions whose variance exceeds the threshold argument.",
        )
    return got


@checks_a_function
def check_active_units(active_units: Callable) -> None:
    """Exercise 1: ``active_units(mu, threshold) -> (count, variances)`` for posterior means ``mu [N x D]``:
    ``variances [D]`` = Var over the images of each dimension's mean, ``count`` = how many exceed the threshold."""
    ex = "Exercise 1 (active_units)"
    got = _check_active(ex, active_units, posterior_means(FIXED_STDS), 0.01)
    _ok(f"{ex}: {got} of {len(FIXED_STDS)} dimensions active on the fixed means. Well done!")


# --------------------------------------------------------------------------------------------
# Exercise 2: how many dimensions carry a fraction of the KL
# --------------------------------------------------------------------------------------------
#: KL per dimension (nats) of exercise 2's check: total 10.0635; the 3 largest carry 9.5 (94%).
FIXED_KL = [0.01, 3.0, 0.2, 5.0, 0.001, 1.5, 0.05, 0.3, 0.002, 0.0005]
#: How many of the ``FIXED_KL`` dimensions carry 90% of its KL.
FIXED_KL_DIMS_FOR_90_PERCENT = 3


def _kl_dims_mistakes(kl: torch.Tensor, fraction: float) -> list[tuple[int, str]]:
    k = kl.double()
    s = k.sort(descending=True).values
    return [
        (
            int((s.cumsum(0) < fraction * s.sum()).sum()),
            "off by one: you count the dimensions *before* the cumulative KL reaches the fraction; the answer is "
            "the smallest k whose k largest dimensions reach it (that dimension included).",
        ),
        (
            int((k.cumsum(0) < fraction * k.sum()).sum()) + 1,
            "you accumulate the KL in the dimensions' original order: sort it, largest first, before the cumulative sum.",
        ),
        (
            int((k.sort().values.cumsum(0) < fraction * k.sum()).sum()) + 1,
            "you sorted in ascending order: take the largest dimensions first (sort(descending=True)).",
        ),
        (
            int(torch.tensor(fraction * len(k)).ceil()),
            "that is the fraction of the *number* of dimensions: use the fraction of the total KL.",
        ),
        (
            int((s > (1 - fraction) * s.sum() / len(s)).sum()),
            "count with the cumulative sum of the sorted KL, not with a threshold on each dimension.",
        ),
    ]


def _check_kl_dims(ex: str, fn: Callable, kl: torch.Tensor, fraction: float, want: int) -> int:
    """Check ``fn(kl [D], fraction)`` against ``want``, the number of dimensions that carry ``fraction`` of the KL."""
    original = kl.clone()
    got = _int(ex, "the number of dimensions", _call(ex, fn, kl, fraction))
    if not torch.equal(kl, original):
        raise _fail(ex, "your function changed the KL tensor it was given (an in-place sort?): work on a copy.")
    if got != want:
        for value, message in _kl_dims_mistakes(kl, fraction):
            if got == value:
                raise _fail(
                    ex, f"you found {got} dimension(s), expected {want} for {fraction:.0%} of the KL: {message}"
                )
        raise _fail(
            ex,
            f"you found {got} dimension(s), expected {want}: the smallest k such that the k largest KLs sum to at "
            f"least {fraction:.0%} of the total (KL per dimension {[round(v, 4) for v in kl.tolist()]}).",
        )
    return got


@checks_a_function
def check_kl_dims(dims_for_kl_fraction: Callable) -> None:
    """Exercise 2: ``dims_for_kl_fraction(kl [D], fraction) -> int``, the smallest number of dimensions whose KLs
    (largest first) sum to at least ``fraction`` of the total KL."""
    ex = "Exercise 2 (dims_for_kl_fraction)"
    got = _check_kl_dims(ex, dims_for_kl_fraction, torch.tensor(FIXED_KL), 0.9, FIXED_KL_DIMS_FOR_90_PERCENT)
    _ok(f"{ex}: {got} of {len(FIXED_KL)} dimensions carry 90% of the KL on the fixed vector. Well done!")

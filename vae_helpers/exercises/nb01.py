"""Checks of notebook 01's exercises: the empirical Gaussian of an AE's codes, and decoding samples from it."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._common import _call, _fail, _match, _ok, _tensor, checks_a_function

__all__ = [
    "fixed_codes",
    "tiny_decoder",
    "check_empirical_gaussian",
    "check_decode_samples",
]


def fixed_codes(n: int = 6, d: int = 3, seed: int | None = None) -> torch.Tensor:
    """Deterministic "encoded training codes" ``[n x d]``, with per-dimension means far from 0 and stds far from 1."""
    if seed is None:
        i = torch.arange(n * d, dtype=torch.float64).view(n, d)
        codes = 1.5 + torch.arange(d, dtype=torch.float64) + 2.5 * torch.sin(1.7 * i + 0.3)
    else:
        g = torch.Generator().manual_seed(seed)
        codes = torch.randn(n, d, generator=g, dtype=torch.float64) * (
            0.3 + 3 * torch.rand(d, generator=g, dtype=torch.float64)
        )
        codes = codes + 4 * torch.randn(d, generator=g, dtype=torch.float64)
    return codes.float()


def tiny_decoder(
    d: int = 3, shape: tuple[int, ...] = (1, 2, 3), seed: int = 0
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A fixed linear "decoder" ``z [n x d] -> logits [n x *shape]`` (the role of ``ae20.decode``)."""
    pixels = int(torch.tensor(shape).prod())
    i = torch.arange(d * pixels, dtype=torch.float64).view(d, pixels)
    weight = (0.8 * torch.cos(0.9 * i + seed)).float()
    bias = (0.5 * torch.sin(torch.arange(pixels, dtype=torch.float64) + seed)).float()

    def decode(z: torch.Tensor) -> torch.Tensor:
        return (z.float() @ weight + bias).view(len(z), *shape)

    return decode


def fixed_noise(n: int = 4, d: int = 3, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


#: The per-dimension mean ``[3]`` and (unbiased) std ``[3]`` of :func:`fixed_codes`, measured once.
FIXED_CODES_GAUSSIAN = (
    torch.tensor([1.6378339, 2.7424779, 3.2996822]),
    torch.tensor([1.8569147, 1.9610706, 1.912919]),
)
#: What :func:`tiny_decoder` gives the 4 samples of ``FIXED_CODES_GAUSSIAN`` made from ``fixed_noise()``: pixel means
#: ``[4 x 1 x 2 x 3]`` (flattened), measured once.
FIXED_DECODED = (
    0.968314,
    0.998032,
    0.986016,
    0.266597,
    0.003969,
    0.003031,
    0.937743,
    0.992144,
    0.962124,
    0.290916,
    0.012693,
    0.011426,
    0.648700,
    0.964856,
    0.968825,
    0.708025,
    0.087330,
    0.023164,
    0.618265,
    0.959341,
    0.967050,
    0.724359,
    0.100694,
    0.025914,
)


# --------------------------------------------------------------------------------------------
# Exercise 1: the empirical Gaussian
# --------------------------------------------------------------------------------------------
def _check_gaussian(
    ex: str, fn: Callable, codes: torch.Tensor, want_mean: torch.Tensor, unbiased: torch.Tensor
) -> None:
    """Check ``fn(codes [N x D])`` against the per-dimension mean ``[D]`` and (unbiased) std ``[D]`` of the codes."""
    n, d = codes.shape
    out = _call(ex, fn, codes.clone())
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise _fail(ex, "return a tuple (mean, std) of two tensors of shape [D], e.g. `return mean, std`.")
    for what, value in zip(("mean", "std"), out):
        if isinstance(value, torch.Tensor) and tuple(value.shape) == (n,):
            raise _fail(
                ex,
                f"the {what} has shape ({n},), one value per *code*: you reduced over the latent dimensions. "
                f"Reduce over the codes (dim=0) to get one value per latent dimension, shape ({d},).",
            )
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            raise _fail(
                ex, f"the {what} is a single number: reduce over the codes only (dim=0), one value per dimension."
            )
    mean, std = (_tensor(ex, f"the {w}", v, (d,)) for w, v in zip(("mean", "std"), out))
    want_mean, unbiased = want_mean.double(), unbiased.double()
    biased = unbiased * math.sqrt((n - 1) / n)  # the maximum-likelihood std
    if torch.allclose(mean, want_mean, rtol=1e-4, atol=1e-5) and torch.allclose(std, biased, rtol=1e-4, atol=1e-5):
        return  # the maximum-likelihood std (ddof=0) is fine too
    _match(
        ex,
        mean,
        want_mean,
        "the mean",
        [
            (unbiased, "You returned (std, mean): the order is (mean, std)."),
            (torch.zeros(d, dtype=torch.float64), "This is N(0, I)'s mean (zeros): fit the mean to the codes."),
        ],
    )
    _match(
        ex,
        std,
        unbiased,
        "the std",
        [
            (unbiased**2, "This is the *variance*: the Gaussian's scale is the standard deviation, its square root."),
            (biased**2, "This is the *variance*: the Gaussian's scale is the standard deviation."),
            (torch.ones(d, dtype=torch.float64), "This is N(0, I)'s std (ones): fit the std to the codes."),
            (want_mean, "You returned (std, mean): the order is (mean, std)."),
        ],
    )


@checks_a_function
def check_empirical_gaussian(empirical_gaussian: Callable) -> None:
    """Exercise 1: ``empirical_gaussian(codes [N x D]) -> (mean [D], std [D])``, per latent dimension."""
    ex = "Exercise 1 (empirical_gaussian)"
    _check_gaussian(ex, empirical_gaussian, fixed_codes(), *FIXED_CODES_GAUSSIAN)
    _ok(f"{ex}: per-dimension mean and std of the 6 fixed codes. Well done!")


# --------------------------------------------------------------------------------------------
# Exercise 2: decoding samples of the empirical Gaussian
# --------------------------------------------------------------------------------------------
def _check_decode(
    ex: str,
    fn: Callable,
    decode: Callable,
    gaussian: tuple[torch.Tensor, torch.Tensor],
    eps: torch.Tensor,
    want: torch.Tensor,
) -> None:
    """Check ``fn(decode, mean [D], std [D], eps [n x D])`` against the decoded pixel means ``want``."""
    mean, std = (v.float() for v in gaussian)
    n = len(eps)
    with torch.no_grad():
        out = _call(ex, fn, decode, mean.clone(), std.clone(), eps.clone())
        shape = tuple(decode(mean[None]).shape[1:])
        mistakes = [
            (
                decode(mean + std * eps),
                "These are the decoder's *logits*: apply a sigmoid to get pixel means in [0, 1].",
            ),
            (
                torch.sigmoid(decode(eps)),
                "You decoded z = eps, a sample of N(0, I): shift and scale it, z = mean + std * eps.",
            ),
            (
                torch.sigmoid(decode(mean + std**2 * eps)),
                "You scaled eps by the *variance* std**2: z = mean + std * eps.",
            ),
            (torch.sigmoid(decode(mean + eps)), "You forgot to scale eps by the std: z = mean + std * eps."),
            (torch.sigmoid(decode(std + mean * eps)), "mean and std are swapped: z = mean + std * eps."),
            (
                torch.sigmoid(decode(mean.expand_as(eps))),
                "You decoded the mean only: add the noise, z = mean + std * eps.",
            ),
        ]
    got = _tensor(ex, "the decoded image batch", out, (n, *shape))
    _match(ex, got, want, "the decoded image batch", mistakes)


@checks_a_function
def check_decode_samples(decode_samples: Callable) -> None:
    """Exercise 2: ``decode_samples(decode, mean, std, eps) -> images``: the pixel means (in [0, 1]) that the decoder
    gives to z = mean + std * eps, on a tiny fixed linear decoder with 3 latent dimensions and 2x3 images."""
    ex = "Exercise 2 (decode_samples)"
    want = torch.tensor(FIXED_DECODED).view(4, 1, 2, 3)
    _check_decode(ex, decode_samples, tiny_decoder(), FIXED_CODES_GAUSSIAN, fixed_noise(), want)
    _ok(f"{ex}: 4 samples of the empirical Gaussian decoded by the tiny fixed decoder. Well done!")

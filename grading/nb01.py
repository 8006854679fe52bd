"""Hidden tests of notebook 01's exercises (the teacher's grading module; never shipped to students).

Called only from the hidden-test regions of ``notebooks/01_*.ipynb``, which nbgrader removes from the student
version and restores when it autogrades. They reuse the visible checks' helpers of
:mod:`vae_helpers.exercises.nb01` on other inputs and sizes, and test the mistakes a visible check could let through.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vae_helpers.exercises.nb01 import _check_decode, _check_gaussian, _ok, fixed_codes, fixed_noise, tiny_decoder

__all__ = [
    "reference_empirical_gaussian",
    "reference_decode_samples",
    "hidden_empirical_gaussian",
    "hidden_decode_samples",
]


def reference_empirical_gaussian(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exercise 1's answer: the per-dimension mean ``[D]`` and unbiased std ``[D]`` of ``codes [N x D]``."""
    return codes.mean(0), codes.std(0)


def reference_decode_samples(
    decode: Callable, mean: torch.Tensor, std: torch.Tensor, eps: torch.Tensor
) -> torch.Tensor:
    """Exercise 2's answer: the pixel means the decoder gives to z = mean + std * eps."""
    return torch.sigmoid(decode(mean + std * eps))


def hidden_empirical_gaussian(empirical_gaussian: Callable) -> None:
    """Hidden tests of exercise 1: other sizes (N=50, D=20; N=9, D=2), random codes."""
    ex = "Exercise 1 (empirical_gaussian), hidden tests"
    for seed, n, d in ((11, 50, 20), (12, 9, 2)):
        codes = fixed_codes(n, d, seed=seed)
        _check_gaussian(ex, empirical_gaussian, codes, *reference_empirical_gaussian(codes.double()))
    _ok(f"{ex}: passed.")


def _check(ex: str, decode_samples: Callable, decode: Callable, codes: torch.Tensor, eps: torch.Tensor) -> None:
    mean, std = reference_empirical_gaussian(codes)
    with torch.no_grad():
        want = reference_decode_samples(decode, mean, std, eps)
    _check_decode(ex, decode_samples, decode, (mean, std), eps, want)


def hidden_decode_samples(decode_samples: Callable) -> None:
    """Hidden tests of exercise 2: other decoders (D=3 with other weights, D=5 with 1x4x4 images) and other noise."""
    ex = "Exercise 2 (decode_samples), hidden tests"
    _check(ex, decode_samples, tiny_decoder(seed=5), fixed_codes(10, 3, seed=20), fixed_noise(6, 3, 25))
    _check(ex, decode_samples, tiny_decoder(5, (1, 4, 4), seed=3), fixed_codes(30, 5, seed=21), fixed_noise(7, 5, 22))
    _check(ex, decode_samples, tiny_decoder(2, (1, 3, 3), seed=4), fixed_codes(8, 2, seed=23), fixed_noise(1, 2, 24))
    _ok(f"{ex}: passed.")

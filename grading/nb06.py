"""Hidden tests of notebook 06's exercises (the teacher's grading module; never shipped to students).

Called only from the hidden-test regions of ``notebooks/05_*.ipynb``, which nbgrader removes from the student
version and restores when it autogrades. They reuse the visible checks' helpers of
:mod:`vae_helpers.exercises.nb06` on other inputs and sizes, and test the mistakes a visible check could let through.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from vae_helpers.exercises.nb06 import _check_counts, _check_decoder, _check_encoder, _fail, _ok, fixed_codes

__all__ = ["reference_param_counts", "hidden_param_counts", "hidden_conv_encoder", "hidden_conv_decoder"]


def reference_param_counts(c_in: int, size_in: int, c_out: int, size_out: int, k: int) -> tuple[int, int]:
    """Exercise 1's answer: the parameters of a k x k conv layer and of a dense layer, biases included."""
    conv = c_out * c_in * k * k + c_out
    dense = (c_in * size_in**2) * (c_out * size_out**2) + c_out * size_out**2
    return conv, dense


def hidden_param_counts(param_counts: Callable) -> None:
    """Hidden tests of exercise 1: 3x32x32 -> 16x32x32 with 3x3 filters, 8x10x10 -> 4x5x5 with 2x2 filters."""
    ex = "Exercise 1 (param_counts), hidden tests"
    for layer in ((3, 32, 16, 32, 3), (8, 10, 4, 5, 2)):
        _check_counts(ex, param_counts, layer, reference_param_counts(*layer))
    _ok(f"{ex}: passed.")


def hidden_conv_encoder(conv_encoder: Callable) -> None:
    """Hidden tests of exercise 2: other output sizes (4 and 64) and batch sizes (1 and 5)."""
    ex = "Exercise 2 (conv_encoder), hidden tests"
    _check_encoder(ex, conv_encoder, 4, 1)
    _check_encoder(ex, conv_encoder, 64, 5)
    _ok(f"{ex}: passed.")


def hidden_conv_decoder(conv_decoder: Callable) -> None:
    """Hidden tests of exercise 3: other latent sizes (2 and 50) and batch sizes (1 and 5), so neither may be
    hard-coded, each traced and loaded with ``ConvVAE``'s decoder weights as in the visible check; and a training
    step's gradient reaches every parameter (nothing detached, frozen or computed under ``torch.no_grad``)."""
    ex = "Exercise 3 (conv_decoder), hidden tests"
    _check_decoder(ex, conv_decoder, 2, 1)
    decoder = _check_decoder(ex, conv_decoder, 50, 5)
    decoder.zero_grad()
    logits = decoder(fixed_codes(5, 50))
    target = torch.full_like(logits, 0.25)
    if not logits.requires_grad:
        raise _fail(ex, "the logits are not connected to the decoder's weights (torch.no_grad or .detach()?).")
    F.binary_cross_entropy_with_logits(logits, target).backward()
    for name, p in decoder.named_parameters():
        if p.grad is None or p.grad.abs().max() == 0:
            raise _fail(
                ex,
                f"no gradient reaches `{name}`: a training step could not change it (requires_grad=False, a "
                ".detach() or torch.no_grad inside the decoder?).",
            )
    _ok(f"{ex}: passed.")

"""Hidden tests of notebook 08's exercises (the teacher's grading module; never shipped to students).

Called only from the hidden-test regions of ``notebooks/08_*.ipynb``, which nbgrader removes from the student
version and restores when it autogrades. They reuse the visible checks' helpers of
:mod:`vae_helpers.exercises.nb08` on other inputs and sizes, and test the mistakes a visible check could let through.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vae_helpers.exercises._common import _random_batch
from vae_helpers.exercises.nb08 import _TOL, _call, _check_loss_gradients, _close, _fail, _ok, _scalar
from vae_helpers.losses import kl_per_dim

__all__ = ["hidden_beta_vae_loss", "hidden_gaussian_nll"]


def hidden_beta_vae_loss(beta_vae_loss: Callable) -> None:
    """Hidden tests of exercise 1: another batch and other betas; every returned term and every gradient."""
    from vae_helpers.losses import bernoulli_nll

    ex = "Exercise 1 (beta_vae_loss), hidden tests"
    b = _random_batch(101)
    recon = float(bernoulli_nll(b["logits"], b["x"]).mean())
    kl = float(kl_per_dim(b["mu"], b["logvar"]).sum(1).mean())
    for beta in (0.3, 3.0):
        loss_b, recon_b, kl_b = (
            _scalar(ex, name, v)
            for name, v in zip(
                ("loss", "recon", "kl"), _call(ex, beta_vae_loss, b["logits"], b["x"], b["mu"], b["logvar"], beta=beta)
            )
        )
        if _close(kl_b, beta * kl) and not _close(kl_b, kl):
            raise _fail(ex, f"at beta={beta} the returned kl is beta * KL: return the plain KL, beta goes in the loss.")
        for what, got, want in (("recon", recon_b, recon), ("kl", kl_b, kl), ("loss", loss_b, recon + beta * kl)):
            if not _close(got, want):
                raise _fail(ex, f"on another batch (N=7, D=5), beta={beta}: {what} is {got:.4f}, expected {want:.4f}.")
    _check_loss_gradients(ex, beta_vae_loss, b, beta=3.0)
    _ok(f"{ex}: passed.")


def hidden_gaussian_nll(gaussian_nll: Callable) -> None:
    """Hidden tests of exercise 2: another batch and sigma, RGB images, gradient."""
    from vae_helpers.losses import gaussian_nll as reference

    ex = "Exercise 2 (gaussian_nll), hidden tests"
    b = _random_batch(404, n=5, shape=(3, 2, 2))
    lg = b["logits"].clone().requires_grad_(True)
    got = _call(ex, gaussian_nll, lg, b["x"], sigma=0.3)
    want = reference(b["logits"], b["x"], sigma=0.3)
    if not isinstance(got, torch.Tensor) or got.shape != want.shape or not torch.allclose(got.detach(), want, **_TOL):
        raise _fail(
            ex, "on 3-channel images with sigma=0.3 the values differ from -log N(x; sigmoid(logits), sigma^2 I)."
        )
    if not got.requires_grad:
        raise _fail(ex, "the result is detached from `logits`.")
    got.sum().backward()
    lg2 = b["logits"].clone().requires_grad_(True)
    reference(lg2, b["x"], sigma=0.3).sum().backward()
    if not torch.allclose(lg.grad, lg2.grad, **_TOL):
        raise _fail(ex, "the gradient with respect to `logits` is wrong: part of the computation is detached.")
    _ok(f"{ex}: passed.")

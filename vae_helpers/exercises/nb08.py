"""Check functions and support code for the exercises of notebook 08 (the β-VAE and the likelihood behind the loss).

Each ``check_*`` function takes the student's implementation, evaluates it on small fixed inputs
whose correct results are known constants (written out below, and verified against
:mod:`vae_helpers.losses` by ``tests/test_exercises_08.py``), and either prints a one-line success
message or raises :class:`ExerciseCheckError` (an ``AssertionError``) whose text says what is
probably wrong: the checks recompute the typical mistakes (a mean where a sum belongs, a sign, β on
the wrong term, ...) and name the one that matches the student's numbers.

A student function that still raises ``NotImplementedError`` is reported as such (the
``NotImplementedError`` propagates, with a pointer to the cell to fill in).

:func:`make_loss_fn` (from :mod:`._common`) turns the student's ``loss(logits, x, mu, logvar, beta) -> (loss, recon,
kl)`` into the ``loss_fn`` hook of :func:`vae_helpers.training.fit`, so that the student's function trains the models.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..losses import LOG_2PI
from ._common import (
    _TOL,
    KNOWN_GAUSSIAN_NLL_SIGMA_HALF,
    KNOWN_KL,
    KNOWN_RECON,
    _call,
    _check_loss_gradients,
    _close,
    _diagnose,
    _fail,
    _kl_variants,
    _ok,
    _recon_variants,
    _scalar,
    checks_a_function,
    fixed_batch,
    make_loss_fn,
)

__all__ = [
    "check_beta_vae_loss",
    "check_gaussian_nll",
    "make_loss_fn",
]


# --------------------------------------------------------------------------------------------
# Exercise 1: the β-VAE loss
# --------------------------------------------------------------------------------------------
@checks_a_function
def check_beta_vae_loss(beta_vae_loss: Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> None:
    """Exercise 1: ``beta_vae_loss(logits, x, mu, logvar, beta) -> (loss, recon, kl)``.

    Checks, on :func:`fixed_batch`: recon and KL equal the known values (Bernoulli NLL summed over
    pixels, KL summed over latent dimensions, both averaged over the batch); loss = recon + beta*KL
    for beta in {0.5, 1, 4}; and the loss is differentiable (d loss / d mu = beta * mu / N).
    """
    ex = "Exercise 1 (beta_vae_loss)"
    b = fixed_batch()
    out = _call(ex, beta_vae_loss, b["logits"], b["x"], b["mu"], b["logvar"], beta=1.0)
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        raise _fail(ex, "return a tuple (loss, recon, kl) of three scalars: the loss to minimise, then its two terms.")
    loss, recon, kl = (_scalar(ex, name, v) for name, v in zip(("loss", "recon", "kl"), out))
    _diagnose(ex, kl, KNOWN_KL, "the KL", _kl_variants(b["mu"], b["logvar"]))
    _diagnose(ex, recon, KNOWN_RECON, "the reconstruction term", _recon_variants(b["logits"], b["x"]))
    for beta in (0.5, 1.0, 4.0):
        loss = _scalar(ex, "loss", _call(ex, beta_vae_loss, b["logits"], b["x"], b["mu"], b["logvar"], beta=beta)[0])
        _diagnose(
            ex,
            loss,
            KNOWN_RECON + beta * KNOWN_KL,
            f"the loss at beta={beta}",
            [
                (
                    beta * KNOWN_RECON + KNOWN_KL,
                    "You put beta on the reconstruction term: the beta-VAE weights the KL, loss = recon + beta * KL.",
                ),
                (
                    KNOWN_RECON + KNOWN_KL,
                    "The loss does not change with beta: use the `beta` argument, loss = recon + beta * KL.",
                ),
                (
                    KNOWN_RECON - beta * KNOWN_KL,
                    "You subtract the KL: the loss is the *negative* ELBO, recon + beta * KL.",
                ),
                (-(KNOWN_RECON + beta * KNOWN_KL), "You return the ELBO, not the loss: minimise recon + beta * KL."),
                (KNOWN_RECON + KNOWN_KL / beta, "You divide by beta: the loss is recon + beta * KL."),
            ],
        )
    for beta in (0.5, 4.0):  # the returned terms are the plain ones; beta only enters the loss
        _, recon_b, kl_b = _call(ex, beta_vae_loss, b["logits"], b["x"], b["mu"], b["logvar"], beta=beta)
        kl_b, recon_b = _scalar(ex, "kl", kl_b), _scalar(ex, "recon", recon_b)
        if _close(kl_b, beta * KNOWN_KL) and not _close(kl_b, KNOWN_KL):
            raise _fail(
                ex,
                f"at beta={beta} you return kl = {kl_b:.4f} = beta * KL: return the plain KL ({KNOWN_KL:.4f}) as "
                "`kl` and put beta only in the loss (the rate R that the plots and tables report is the plain KL).",
            )
        _diagnose(ex, kl_b, KNOWN_KL, f"the returned kl at beta={beta}", [])
        _diagnose(ex, recon_b, KNOWN_RECON, f"the returned recon at beta={beta}", [])
    _check_loss_gradients(ex, beta_vae_loss, b, beta=2.0)
    _ok(
        f"{ex}: recon {KNOWN_RECON:.4f}, KL {KNOWN_KL:.4f} nats/image on the fixed batch; beta weights the KL; "
        "gradients flow. Well done!"
    )


# --------------------------------------------------------------------------------------------
# Exercise 2: the Gaussian likelihood behind MSE
# --------------------------------------------------------------------------------------------
@checks_a_function
def check_gaussian_nll(gaussian_nll: Callable[..., torch.Tensor]) -> None:
    """Exercise 2: ``gaussian_nll(logits, x, sigma) -> [N]``: -log N(x; sigmoid(logits), sigma^2 I) per image.

    = sum_pixels [ (x - sigmoid(logits))^2 / (2 sigma^2) + log sigma + 0.5 log(2 pi) ].
    Known values (fixed batch, sigma = 0.5): :data:`KNOWN_GAUSSIAN_NLL_SIGMA_HALF`.
    """
    ex = "Exercise 2 (gaussian_nll)"
    b = fixed_batch()
    logits, x = b["logits"], b["x"]
    out = _call(ex, gaussian_nll, logits, x, sigma=0.5)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (len(x),):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise _fail(
            ex,
            f"return one value per image, shape [N] = ({len(x)},), got {shape}: sum over pixels, "
            "do not average over the batch here.",
        )
    expected = torch.tensor(KNOWN_GAUSSIAN_NLL_SIGMA_HALF)
    got = out.detach().float()
    if not torch.allclose(got, expected, **_TOL):
        d = x[0].numel()
        sq = (torch.sigmoid(logits) - x).pow(2).flatten(1)
        const = d * (math.log(0.5) + 0.5 * LOG_2PI)
        mistakes = [
            (
                sq.sum(1) / (2 * 0.25),
                "You are missing the normalising constant: each pixel adds log(sigma) + 0.5*log(2*pi). "
                "Without it the value is not a likelihood in nats (it still trains the same way).",
            ),
            (sq.sum(1) / 0.25 + const, "You might be missing the 1/2 in (x - mean)^2 / (2 sigma^2)."),
            (sq.sum(1) / (2 * 0.5) + const, "Divide by sigma^2, not sigma: (x - mean)^2 / (2 sigma^2)."),
            (
                sq.mean(1) / (2 * 0.25) + const / d,
                "You might be averaging over pixels: sum over pixels (nats per image).",
            ),
            (
                (logits - x).pow(2).flatten(1).sum(1) / (2 * 0.25) + const,
                "The mean of the Gaussian is sigmoid(logits) (the decoder returns logits).",
            ),
            (
                sq.sum(1) / (2 * 0.25) - const,
                "The constant has the wrong sign: -log N(x; m, s^2) = (x-m)^2/(2s^2) + log s + 0.5 log 2pi.",
            ),
        ]
        for candidate, message in mistakes:
            if torch.allclose(got, candidate.float(), **_TOL):
                raise _fail(ex, f"got {got.tolist()}, expected {expected.tolist()}. {message}")
        raise _fail(
            ex,
            f"got {got.tolist()}, expected {expected.tolist()} on the fixed batch with sigma=0.5. "
            "Compute sum_pixels (x - sigmoid(logits))^2 / (2 sigma^2) + D * (log sigma + 0.5 log 2pi).",
        )
    # sigma must be used, not hard-coded
    other = _call(ex, gaussian_nll, logits, x, sigma=2.0)
    sq = (torch.sigmoid(logits) - x).pow(2).flatten(1).sum(1)
    if not torch.allclose(other.detach().float(), sq / 8.0 + 6 * (math.log(2.0) + 0.5 * LOG_2PI), **_TOL):
        raise _fail(ex, "the result is right for sigma=0.5 but not for sigma=2: use the `sigma` argument.")
    lg = logits.clone().requires_grad_(True)
    value = _call(ex, gaussian_nll, lg, x, sigma=0.5)
    if not isinstance(value, torch.Tensor) or not value.requires_grad:
        raise _fail(
            ex,
            "the result must stay a tensor connected to `logits` (no .detach(), .item(), numpy or "
            "torch.no_grad()), or the decoder cannot be trained with it.",
        )
    value.sum().backward()
    p = torch.sigmoid(logits)
    want = (p - x) / 0.25 * p * (1 - p)
    if lg.grad is None or not torch.allclose(lg.grad, want, **_TOL):
        raise _fail(
            ex,
            "the value is right but its gradient with respect to `logits` is not (sum over images of "
            "(mean - x) / sigma^2 * sigmoid'(logits)): part of it is detached or computed outside torch.",
        )
    _ok(f"{ex}: the Gaussian negative log-likelihood in nats per image, constant included. Well done!")

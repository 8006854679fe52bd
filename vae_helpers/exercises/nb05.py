"""Checks of notebook 05's exercises: the VAE loss with the right reductions, the linear probe on the codes, and
(in :mod:`.nb05_vae_module`, re-exported here) the whole VAE module written from scratch and its training recipe."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ._common import (
    KNOWN_KL,
    KNOWN_RECON,
    _call,
    _check_loss_gradients,
    _diagnose,
    _fail,
    _kl_variants,
    _ok,
    _recon_variants,
    _scalar,
    checks_a_function,
    fixed_batch,
)

__all__ = [
    "check_vae_loss",
    "check_linear_probe",
    "probe_data",
    "check_vae_module",
    "BuildRecipe",
    "build_recipe",
    "CourseModel",
    "through_your_forward",
    "train_briefly",
]

# Exercise 3 (the whole VAE module) has its own module; its names are this notebook's too.
from .nb05_vae_module import (  # noqa: E402
    BuildRecipe,
    CourseModel,
    build_recipe,
    check_vae_module,
    through_your_forward,
    train_briefly,
)


# --------------------------------------------------------------------------------------------
# Exercise 1: the VAE loss
# --------------------------------------------------------------------------------------------
def _terms(ex: str, vae_loss: Callable, b: dict[str, torch.Tensor]) -> tuple[float, float, float]:
    out = _call(ex, vae_loss, b["logits"], b["x"], b["mu"], b["logvar"])
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        raise _fail(ex, "return a tuple (loss, recon, kl) of three scalars: the loss to minimise, then its two terms.")
    return tuple(_scalar(ex, name, v) for name, v in zip(("loss", "recon", "kl"), out))


def _with_beta(vae_loss: Callable) -> Callable:
    """The student's loss with the ``beta=`` keyword the shared gradient check passes (beta = 1 here)."""

    def loss(logits, x, mu, logvar, beta=1.0):
        return vae_loss(logits, x, mu, logvar)

    loss.__name__ = getattr(vae_loss, "__name__", "vae_loss")
    return loss


@checks_a_function
def check_vae_loss(vae_loss: Callable) -> None:
    """Exercise 1: ``vae_loss(logits, x, mu, logvar) -> (loss, recon, kl)``, the negative ELBO in nats per image:
    Bernoulli NLL summed over pixels plus KL summed over latent dimensions, both averaged over the batch."""
    ex = "Exercise 1 (vae_loss)"
    b = fixed_batch()
    loss, recon, kl = _terms(ex, vae_loss, b)
    _diagnose(ex, kl, KNOWN_KL, "the KL", _kl_variants(b["mu"], b["logvar"]))
    _diagnose(ex, recon, KNOWN_RECON, "the reconstruction term", _recon_variants(b["logits"], b["x"]))
    _diagnose(
        ex,
        loss,
        KNOWN_RECON + KNOWN_KL,
        "the loss",
        [
            (KNOWN_RECON - KNOWN_KL, "You subtract the KL: the loss is the *negative* ELBO, recon + KL."),
            (-(KNOWN_RECON + KNOWN_KL), "You return the ELBO, not the loss to minimise: loss = recon + KL."),
            (KNOWN_RECON, "The loss is only the reconstruction term (that is the AE's loss): add the KL."),
            ((KNOWN_RECON + KNOWN_KL) * 4, "You sum over the batch: the loss is averaged over the 4 images."),
        ],
    )
    _check_loss_gradients(ex, _with_beta(vae_loss), b, beta=1.0)
    _ok(f"{ex}: recon {KNOWN_RECON:.4f} + KL {KNOWN_KL:.4f} nats/image on the fixed batch; gradients flow. Well done!")


# --------------------------------------------------------------------------------------------
# Exercise 2: the linear probe
# --------------------------------------------------------------------------------------------
def probe_data(
    seed: int = 0, n_train: int = 45, n_test: int = 400, dim: int = 10, classes: int = 3, spread: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Synthetic "codes": ``classes`` overlapping Gaussian clusters in ``dim`` dimensions.

    Returns ``(train_codes [n_train x dim], train_labels [n_train], test_codes [n_test x dim], test_labels [n_test])``.
    With few training codes the training accuracy is far above the test accuracy."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, dim, generator=g) * spread / dim**0.5 * 2

    def draw(n):
        y = torch.arange(n) % classes
        return centers[y] + torch.randn(n, dim, generator=g), y

    return (*draw(n_train), *draw(n_test))


#: A probe result within this distance of the reference passes (with or without standardisation, other solvers).
PROBE_TOL = 0.02


def _probe_mistakes(accuracies: tuple[float, float, float]) -> list[tuple[float, str]]:
    ref, on_training_codes, fitted_on_test_codes = accuracies
    return [
        (
            on_training_codes,
            "This is the accuracy on the *training* codes: score the fitted classifier on the test codes "
            "(a probe measures how well the code generalises, not how well it is memorised).",
        ),
        (
            fitted_on_test_codes,
            "You fitted the classifier on the test codes: fit on the training codes, score on the test codes.",
        ),
        (100 * ref, "Return the accuracy as a fraction in [0, 1], not a percentage."),
        (1 - ref, "This is the error rate: return the accuracy (fraction of correct predictions)."),
    ]


def _probe(ex: str, fn: Callable, tr, ytr, te, yte) -> float:
    value: Any = _call(ex, fn, tr, ytr, te, yte)
    if isinstance(value, np.ndarray | np.generic):
        value = value.item() if value.size == 1 else value
    return _scalar(ex, "the test accuracy", value)


def _check_probe(ex: str, fn: Callable, data: tuple, accuracies: tuple[float, float, float]) -> float:
    """Check ``fn(*data)`` against ``accuracies`` = (the probe's test accuracy, the accuracy of a probe scored on
    its own training codes, the accuracy of a probe fitted and scored on the test codes), measured beforehand."""
    tr, ytr, te, yte = data
    got = _probe(ex, fn, tr, ytr, te, yte)
    ref = accuracies[0]
    if abs(got - ref) <= PROBE_TOL:
        return got
    for value, message in _probe_mistakes(accuracies):
        if abs(got - value) <= 0.005 * max(1.0, abs(value)):
            raise _fail(ex, f"the test accuracy is {got:.4f} but should be about {ref:.4f}. {message}")
    raise _fail(
        ex,
        f"the test accuracy is {got:.4f} but should be about {ref:.4f} (standardised codes, logistic regression "
        f"fitted on the {len(ytr)} training codes, accuracy on the {len(yte)} test codes).",
    )


#: The accuracies that :func:`_check_probe` compares with on ``probe_data(0)`` (standardised codes, scikit-learn's
#: default logistic regression): the probe's, one scored on its own training codes, one fitted on the test codes.
FIXED_PROBE_ACCURACIES = (0.7975, 44 / 45, 0.8925)


@checks_a_function
def check_linear_probe(linear_probe: Callable) -> None:
    """Exercise 2: ``linear_probe(train_codes, train_labels, test_codes, test_labels) -> float``, the test accuracy
    of a logistic regression fitted on the training codes (fixed synthetic codes: 3 classes, 10 dimensions)."""
    ex = "Exercise 2 (linear_probe)"
    got = _check_probe(ex, linear_probe, probe_data(0), FIXED_PROBE_ACCURACIES)
    _ok(f"{ex}: test accuracy {got:.3f} on the fixed synthetic codes. Well done!")

"""Check functions and support code for exercise 1 of notebook 09 (posterior collapse, KL annealing, free bits);
exercise 2 (the conditional VAE) is in :mod:`.nb09_conditional`, whose names are re-exported here.

Each ``check_*`` function takes the student's implementation, evaluates it on small fixed inputs
whose correct results are known, and either prints a one-line success message or raises
:class:`ExerciseCheckError` (an ``AssertionError``) whose text says what is probably wrong (an
off-by-one step, a free-bits floor applied per image instead of per dimension, ...). Exercise 1d's check judges a
trained model instead: is its code used (a linear probe), and at what price in ELBO?

Support code, used by the notebook so that the students' functions are what trains the models:
:func:`make_loss_fn` (from :mod:`._common`) and exercise 1d's :func:`used_code_recipe` and :func:`used_code_data`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .. import config
from ..data import ImageDataset, ImageSplit, load_dataset
from ..evaluation import evaluate
from ..latent import latent_usage
from ..losses import kl_per_dim
from ..models import AutoregressiveVAE
from ..vae_variants import AutoregressiveVAEConfig
from ._common import (
    _TOL,
    KNOWN_KL_PER_DIM,
    _call,
    _diagnose,
    _fail,
    _ok,
    _scalar,
    checks_a_function,
    fixed_batch,
    make_loss_fn,
)

__all__ = [
    "check_linear_warmup",
    "check_cyclical_schedule",
    "check_free_bits_kl",
    "UsedCodeRecipe",
    "used_code_recipe",
    "used_code_data",
    "run_used_code",
    "check_used_code",
    "check_conditional_vae",
    "check_generate_class",
    "check_interpolate_classes",
    "make_loss_fn",
    "decode_soft_label",
]

# Exercise 2 (the conditional VAE) has its own module; its names are this notebook's too.
from .nb09_conditional import (  # noqa: E402
    check_conditional_vae,
    check_generate_class,
    check_interpolate_classes,
    decode_soft_label,
)


# --------------------------------------------------------------------------------------------
# Exercise 1: KL schedules and free bits
# --------------------------------------------------------------------------------------------
def _schedule_value(ex: str, fn: Callable, *args: Any, **kwargs: Any) -> float:
    value = _call(ex, fn, *args, **kwargs)
    return _scalar(ex, "beta", value)


@checks_a_function
def check_linear_warmup(linear_warmup: Callable[..., float]) -> None:
    """Exercise 1a: ``linear_warmup(step, warmup_steps, beta_max=1.0) -> float``, 0-based steps.

    Known values (warmup_steps=100): 0 at step 0, 0.25 at 25, 0.5 at 50, 0.99 at 99, 1 at 100 and
    after; with beta_max=2: 1.0 at step 50 and 2.0 at 500.
    """
    ex = "Exercise 1a (linear_warmup)"
    cases = [
        ((0, 100), {}, 0.0),
        ((25, 100), {}, 0.25),
        ((50, 100), {}, 0.5),
        ((99, 100), {}, 0.99),
        ((100, 100), {}, 1.0),
        ((1000, 100), {}, 1.0),
        ((50, 100), {"beta_max": 2.0}, 1.0),
        ((500, 100), {"beta_max": 2.0}, 2.0),
        ((3, 4), {}, 0.75),
    ]
    for args, kwargs, expected in cases:
        got = _schedule_value(ex, linear_warmup, *args, **kwargs)
        step, warm = args
        bmax = kwargs.get("beta_max", 1.0)
        where = f"beta at step {step} (warmup_steps={warm}, beta_max={bmax})"
        _diagnose(
            ex,
            got,
            expected,
            where,
            [
                (
                    bmax * min(1.0, (step + 1) / warm),
                    "Off by one: steps are 0-based, so beta must be exactly 0 at step 0 "
                    "and reach beta_max at step == warmup_steps: beta = beta_max * min(1, step / warmup_steps).",
                ),
                (
                    bmax * min(1.0, step / (warm - 1)) if warm > 1 else math.nan,
                    "Off by one: divide by warmup_steps, not warmup_steps - 1 (beta reaches beta_max at step == warmup_steps).",
                ),
                (
                    bmax * step / warm,
                    "beta keeps growing after the warm-up: clip it, beta = beta_max * min(1, step / warmup_steps).",
                ),
                (min(1.0, step / warm), "You ignore beta_max: the ramp goes from 0 to beta_max."),
                (bmax * (1.0 - min(1.0, step / warm)), "Your ramp goes down: beta starts at 0 and rises to beta_max."),
            ],
        )
    _ok(f"{ex}: 0 at step 0, linear to beta_max at warmup_steps, constant after. Well done!")


@checks_a_function
def check_cyclical_schedule(cyclical_beta: Callable[..., float]) -> None:
    """Exercise 1b: ``cyclical_beta(step, total_steps, n_cycles=4, ratio=0.5, beta_max=1.0) -> float``.

    Fu et al. (2019): with period T/M and tau = (step mod period) / period, beta = beta_max *
    min(1, tau / R), steps 0-based. Known values for total_steps=1000, M=4, R=0.5 (period 250,
    ramp 125 steps): 0 at steps 0, 250 and 750; 0.2 at 25; 0.8 at 100; 1 from 125 to 249; 0.4 at 300.
    And for M=2, R=0.25 (period 500): 0.4 at 50, 0.8 at 600, 1 at 700.
    """
    ex = "Exercise 1b (cyclical_beta)"
    cases = [  # (step, total, M, R, beta_max, expected)
        (0, 1000, 4, 0.5, 1.0, 0.0),
        (25, 1000, 4, 0.5, 1.0, 0.2),
        (100, 1000, 4, 0.5, 1.0, 0.8),
        (125, 1000, 4, 0.5, 1.0, 1.0),
        (249, 1000, 4, 0.5, 1.0, 1.0),
        (250, 1000, 4, 0.5, 1.0, 0.0),
        (300, 1000, 4, 0.5, 1.0, 0.4),
        (750, 1000, 4, 0.5, 1.0, 0.0),
        (999, 1000, 4, 0.5, 1.0, 1.0),
        (50, 1000, 2, 0.25, 1.0, 0.4),
        (600, 1000, 2, 0.25, 1.0, 0.8),
        (700, 1000, 2, 0.25, 1.0, 1.0),
        (100, 1000, 4, 0.5, 3.0, 2.4),
    ]
    for step, total, m, r, bmax, expected in cases:
        got = _schedule_value(ex, cyclical_beta, step, total, n_cycles=m, ratio=r, beta_max=bmax)
        period = total / m
        tau = (step % period) / period
        where = f"beta at step {step} (total_steps={total}, n_cycles={m}, ratio={r}, beta_max={bmax})"
        _diagnose(
            ex,
            got,
            expected,
            where,
            [
                (
                    bmax * tau,
                    "The ramp should take only the first `ratio` of each cycle: beta = beta_max * min(1, tau / ratio), "
                    "then stay at beta_max for the rest of the cycle.",
                ),
                (
                    bmax * min(1.0, (step / period) / r),
                    "beta must fall back to 0 at the start of every cycle: use the "
                    "position inside the cycle, tau = (step % period) / period.",
                ),
                (
                    bmax * min(1.0, ((step + 1) % period) / period / r),
                    "Off by one: steps are 0-based, so beta is exactly 0 "
                    "at step 0 and at the first step of each cycle.",
                ),
                (
                    bmax * min(1.0, tau * r),
                    "Divide by the ratio, do not multiply: beta = beta_max * min(1, tau / ratio).",
                ),
                (min(1.0, tau / r), "You ignore beta_max: the plateau of each cycle is beta_max."),
                (
                    bmax * min(1.0, ((step % m) / m) / r),
                    "The period is total_steps / n_cycles steps, not n_cycles steps.",
                ),
            ],
        )
    _ok(f"{ex}: Fu et al.'s schedule: M cycles of a linear ramp over the first R of each, then beta_max. Well done!")


@checks_a_function
def check_free_bits_kl(free_bits_kl: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> None:
    """Exercise 1c: ``free_bits_kl(mu, logvar, free_bits) -> scalar``: sum_d max(lambda, mean_n KL_nd).

    On :func:`fixed_batch` the per-dimension batch-mean KLs are 0.7705, 0.7961, 0.9563, so
    lambda = 0 gives the KL (2.5229), lambda = 0.8 gives 0.8 + 0.8 + 0.9563 = 2.5563 and
    lambda = 1 gives 3.
    """
    ex = "Exercise 1c (free_bits_kl)"
    b = fixed_batch()
    mu, logvar = b["mu"], b["logvar"]
    kl = kl_per_dim(mu, logvar)
    dims = torch.tensor(KNOWN_KL_PER_DIM)
    for lam in (0.0, 0.8, 1.0):
        got = _scalar(ex, "the free-bits KL", _call(ex, free_bits_kl, mu, logvar, lam))
        expected = float(dims.clamp(min=lam).sum())
        _diagnose(
            ex,
            got,
            expected,
            f"the free-bits KL with free_bits={lam}",
            [
                (
                    float(kl.clamp(min=lam).sum(1).mean()),
                    "Apply the floor to the *batch-averaged* KL of each dimension "
                    "(Kingma et al. 2016), not to each image's KL: average over the batch first, then floor.",
                ),
                (
                    max(float(dims.sum()), lam),
                    "The floor is per latent dimension: sum_d max(free_bits, KL_d), not max(free_bits, sum_d KL_d).",
                ),
                (
                    float(dims.clamp(max=lam).sum()),
                    "Use max(KL_d, free_bits) (clamp(min=...)): free bits stop the "
                    "penalty from pushing a dimension *below* the floor.",
                ),
                (
                    float(dims.mean().clamp(min=lam)) if lam else float(dims.mean()),
                    "You might be missing a sum over latent dimensions after the floor.",
                ),
                (
                    float((dims - lam).clamp(min=0).sum()),
                    "Do not subtract the floor: the penalty is max(KL_d, free_bits), "
                    "so its value never drops below free_bits per dimension.",
                ),
            ],
        )
    mu_g = mu.clone().requires_grad_(True)
    value = _call(ex, free_bits_kl, mu_g, logvar, 0.8)
    if not isinstance(value, torch.Tensor) or not value.requires_grad:
        raise _fail(
            ex, "return a tensor connected to mu and logvar (no .item() or float()), so the encoder gets gradients."
        )
    value.backward()
    # With the floor at 0.8, dimensions 0 and 1 sit below it: no gradient may reach their means;
    # dimension 2 is above it and gets the plain KL gradient mu / N.
    if mu_g.grad[:, :2].abs().max() > 1e-7 or not torch.allclose(mu_g.grad[:, 2], mu[:, 2] / len(mu), **_TOL):
        raise _fail(
            ex,
            "a dimension whose batch-mean KL is below the floor must get *no* gradient (that is the point "
            "of free bits), and the others must get the full KL gradient. Use clamp(min=free_bits) on the "
            "per-dimension means.",
        )
    _ok(f"{ex}: the floor applies per dimension to the batch-mean KL; dimensions under it get no gradient. Well done!")


# --------------------------------------------------------------------------------------------
# Exercise 1d: a training run whose code stays in use
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UsedCodeRecipe:
    """Exercise 1d's budget and targets; the notebook, the visible check and the hidden test share them.

    Attributes:
        train_images: the first training images of the course's split (Fashion-MNIST).
        epochs: passes over them (batch 128): about 940 optimisation steps at full size, 480 in fast mode.
        test_images: test images the run is judged on (the hidden test uses the next as many).
        min_probe: the least test accuracy of a linear probe reading the class from one sample z ~ q(z|x).
        min_elbo: the lowest test ELBO accepted (nats per image): the price a remedy may pay in bound.

    Measured on a 2-core CPU (1 thread, seed 0, Adam lr 3e-3), probe from z / test ELBO. Full size: plain ELBO
    21.4% / -223.8 (collapsed: KL 0.9 nats); linear warm-up over the whole run 40.9% / -226.5; free bits 0.25:
    50.8% / -226.8; 0.5: 62.0% / -229.4; 1.0: 72.5% / -236.6 (a used code, too dear). Fast mode: plain 35.9% /
    -231.6; free bits 0.25: 51.2% / -233.3; 0.5: 61.5% / -235.9. Majority rate 10%.
    """

    train_images: int
    epochs: int
    test_images: int
    min_probe: float
    min_elbo: float


def used_code_recipe() -> UsedCodeRecipe:
    """Exercise 1d's recipe at full size, or the fast mode's (``VAE_FAST=1``)."""
    return config.pick(
        full=UsedCodeRecipe(30_000, 4, 2_000, min_probe=0.45, min_elbo=-234.0),
        fast=UsedCodeRecipe(5_000, 12, 1_000, min_probe=0.45, min_elbo=-240.0),
    )


def used_code_data(recipe: UsedCodeRecipe | None = None, hidden: bool = False) -> tuple[ImageDataset, ImageSplit]:
    """``(training data, test images)`` of exercise 1d: the recipe's first training images (validation: the
    course's) and its first ``test_images`` test images (``hidden=True``: the next as many)."""
    recipe = recipe or used_code_recipe()
    fashion = load_dataset("fashion-mnist")
    start = recipe.test_images if hidden else 0
    test = ImageSplit(*(t[start : start + recipe.test_images] for t in (fashion.test.images, fashion.test.labels)))
    return fashion.subset(train=recipe.train_images), test


def run_used_code(train_with_a_used_code: Callable, data: ImageDataset, recipe: UsedCodeRecipe, seed: int = 0) -> Any:
    """Exercise 1d's training run: ``train_with_a_used_code(data, recipe.epochs, seed=seed)``, with its budget and
    time printed (a stub that is not filled in yet stops with a pointer to its cell)."""
    steps = recipe.epochs * math.ceil(len(data.train) / 128)
    print(f"budget: {recipe.epochs} epochs on {len(data.train):,} training images ({steps:,} steps of 128)")
    started = time.perf_counter()
    model = _call("Exercise 1d (a code in use)", train_with_a_used_code, data, recipe.epochs, seed=seed)
    print(f"trained in {time.perf_counter() - started:.0f} s")
    return model


def judge_used_code(ex: str, model: Any, data: ImageDataset, test: ImageSplit, recipe: UsedCodeRecipe) -> str:
    """Exercise 1d's verdict on a trained model: the architecture, then the probe, then the price in ELBO."""
    if not isinstance(model, AutoregressiveVAE):
        raise _fail(
            ex,
            f"return the trained AutoregressiveVAE, got {type(model).__name__}. A weaker decoder (an MLP's) needs its "
            "code anyway; the exercise is to keep a decoder that could do without z from ignoring it.",
        )
    if model.model_config != AutoregressiveVAEConfig():
        raise _fail(ex, f"use the course's architecture, AutoregressiveVAE() with its defaults; got {model.config}.")
    usage = latent_usage(model, data.train, test, probe_images=len(data.train), seed=0)
    metrics = evaluate(model, test)
    measured = (
        f"probe from z {usage.probe_accuracy:.1%} (from μ {usage.probe_accuracy_mu:.1%}), swap cost "
        f"{usage.swap_cost:.1f} nats, KL {metrics.kl:.2f}, test ELBO {metrics.elbo:.2f} nats per image"
    )
    if usage.probe_accuracy < recipe.min_probe:
        raise _fail(
            ex,
            f"{measured}. The code is hardly used: a linear probe reads the class from a sample z in fewer than "
            f"{recipe.min_probe:.0%} of the test images (the plain ELBO collapses to about 20-35%; the majority rate is "
            "10%). With this decoder the ELBO is best without z: keep a floor under each dimension's KL "
            "(TrainConfig(free_bits=...)) or keep beta below 1 for long enough that the decoder learns to read z.",
        )
    if metrics.elbo < recipe.min_elbo:
        raise _fail(
            ex,
            f"{measured}. The code is used, but the bound paid too much: the test ELBO is below {recipe.min_elbo:g}. "
            "A remedy trades bound for usage; ask for less (a lower free-bits floor, a shorter warm-up).",
        )
    return measured


def check_used_code(model: Any, data: ImageDataset, test: ImageSplit) -> None:
    """Exercise 1d: ``model`` is the course's ``AutoregressiveVAE`` trained by ``train_with_a_used_code`` on ``data``
    (the :func:`used_code_recipe`'s budget); on ``test`` its code must be read by a linear probe (class from one
    sample z, trained on ``data.train``'s codes) in at least ``min_probe`` of the images, at a test ELBO of at
    least ``min_elbo``."""
    ex = "Exercise 1d (a code in use)"
    if callable(model) and not isinstance(model, torch.nn.Module):
        raise _fail(ex, "pass the trained model (what train_with_a_used_code returns), not the function.")
    recipe = used_code_recipe()
    measured = judge_used_code(ex, model, data, test, recipe)
    _ok(
        f"{ex}: {measured}; targets: probe >= {recipe.min_probe:.0%}, ELBO >= {recipe.min_elbo:g}. The decoder reads "
        "your code, and the bound paid a fair price for it."
    )

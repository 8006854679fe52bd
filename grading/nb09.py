"""Hidden tests of notebook 09's exercises (the teacher's grading module; never shipped to students).

Called only from the hidden-test regions of ``notebooks/09_*.ipynb``, which nbgrader removes from the student
version and restores when it autogrades. They reuse the visible checks' helpers of
:mod:`vae_helpers.exercises.nb09` on other inputs and sizes, and test the mistakes a visible check could let through.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vae_helpers.exercises._common import _close, _random_batch
from vae_helpers.exercises.nb09 import (
    _TOL,
    _call,
    _fail,
    _ok,
    _scalar,
    judge_used_code,
    kl_per_dim,
    used_code_data,
    used_code_recipe,
)
from vae_helpers.exercises.nb09_conditional import _cvae_outputs, _reference_pair, _tiny_cvae, decode_soft_label

__all__ = ["hidden_schedules", "hidden_used_code", "hidden_conditional_vae", "hidden_generation"]


def hidden_schedules(linear_warmup: Callable, cyclical_beta: Callable, free_bits_kl: Callable) -> None:
    """Hidden tests of exercise 1: the schedules against the library's KLSchedule, free bits and its gradient."""
    from vae_helpers.losses import KLSchedule

    ex = "Exercise 1 (schedules and free bits), hidden tests"
    lin = KLSchedule("linear", beta_max=3.0, warmup_steps=37)
    cyc = KLSchedule("cyclical", beta_max=2.0, total_steps=300, n_cycles=3, ratio=0.25)
    for step in (0, 1, 18, 36, 37, 38, 200):
        got = _scalar(ex, "beta", _call(ex, linear_warmup, step, 37, beta_max=3.0))
        if not _close(got, lin(step)):
            raise _fail(ex, f"linear_warmup({step}, 37, beta_max=3) is {got:.4f}, expected {lin(step):.4f}.")
    for step in (0, 10, 24, 25, 99, 100, 101, 150, 299):
        got = _scalar(ex, "beta", _call(ex, cyclical_beta, step, 300, n_cycles=3, ratio=0.25, beta_max=2.0))
        if not _close(got, cyc(step)):
            raise _fail(
                ex,
                f"cyclical_beta({step}, 300, n_cycles=3, ratio=0.25, beta_max=2) is {got:.4f}, expected {cyc(step):.4f}.",
            )
    b = _random_batch(202, n=9, d=6)
    mu = b["mu"].clone().requires_grad_(True)
    lam = 0.5
    per_dim = kl_per_dim(b["mu"], b["logvar"]).mean(0)
    value = _call(ex, free_bits_kl, mu, b["logvar"], lam)
    got = _scalar(ex, "the free-bits KL", value)
    if not _close(got, float(per_dim.clamp(min=lam).sum())):
        raise _fail(
            ex, f"free_bits_kl on another batch is {got:.4f}, expected {float(per_dim.clamp(min=lam).sum()):.4f}."
        )
    if not isinstance(value, torch.Tensor) or not value.requires_grad:
        raise _fail(ex, "free_bits_kl must return a tensor connected to mu and logvar.")
    value.backward()
    below = per_dim < lam
    want = torch.where(below, torch.zeros_like(b["mu"]), b["mu"] / len(b["mu"]))
    if not torch.allclose(mu.grad, want, **_TOL):
        raise _fail(
            ex, "free_bits_kl: dimensions under the floor must get no gradient, the others the full KL gradient."
        )
    _ok(f"{ex}: passed.")


def hidden_conditional_vae(cvae_cls: type) -> None:
    """Hidden tests of exercise 2a: other sizes (5 classes, 3x5 images), y on every row, gradients to both nets."""
    ex = "Exercise 2a (conditional VAE), hidden tests"
    ref, stu = _reference_pair(cvae_cls, n_classes=5, image_shape=(1, 3, 5), hidden=(8,), latent_dim=3)
    g = torch.Generator().manual_seed(303)
    x, z = torch.rand(6, 1, 3, 5, generator=g), torch.randn(6, 3, generator=g)
    y = torch.tensor([4, 0, 2, 1, 3, 4])
    stu.train()
    mu, logvar, logits = _cvae_outputs(ex, stu, x, y, z)
    with torch.no_grad():
        rmu, rlogvar = ref.encode(x, y)
        rlogits = ref.decode(z, y)
    for name, got, want in (("mu", mu, rmu), ("logvar", logvar, rlogvar), ("logits", logits, rlogits)):
        if not isinstance(got, torch.Tensor) or got.shape != want.shape or not torch.allclose(got, want, **_TOL):
            raise _fail(
                ex,
                f"with 5 classes and 3x5 images, {name} differs from the reference: do not hard-code 10 classes "
                "or 28x28 (use self.n_classes and self.image_shape).",
            )
    (mu.sum() + logvar.sum() + logits.sum()).backward()
    for part in ("encoder", "to_stats", "decoder"):
        grads = [p.grad for p in getattr(stu, part).parameters()]
        if any(gr is None or gr.abs().sum() == 0 for gr in grads):
            raise _fail(ex, f"no gradient reaches self.{part}: something in encode/decode is detached.")
    _ok(f"{ex}: passed.")


def hidden_generation(generate_class: Callable, interpolate_classes: Callable) -> None:
    """Hidden tests of exercises 2b and 2c: another label, n, pair of classes and number of steps."""
    ex = "Exercise 2b/2c (generation), hidden tests"
    model = _tiny_cvae()
    images = _call(ex, generate_class, model, 8, 3, generator=torch.Generator().manual_seed(5))
    want = model.sample(3, y=torch.full((3,), 8), generator=torch.Generator().manual_seed(5))
    if (
        not isinstance(images, torch.Tensor)
        or images.shape != want.shape
        or not torch.allclose(images.cpu(), want, **_TOL)
    ):
        raise _fail(ex, "generate_class(model, 8, 3, generator) differs from 3 prior samples decoded with label 8.")
    z = torch.linspace(1.0, -1.0, model.latent_dim)
    out = _call(ex, interpolate_classes, model, z, 9, 1, 4)
    eye, t = torch.eye(10), torch.linspace(0, 1, 4)[:, None]
    with torch.no_grad():
        want = torch.sigmoid(decode_soft_label(model, z.reshape(1, -1).repeat(4, 1), (1 - t) * eye[9] + t * eye[1]))
    if not isinstance(out, torch.Tensor) or out.shape != want.shape or not torch.allclose(out.cpu(), want, **_TOL):
        raise _fail(ex, "interpolate_classes(model, z, 9, 1, steps=4) differs from the reference path from 9 to 1.")
    _ok(f"{ex}: passed.")


def hidden_used_code(train_with_a_used_code: Callable) -> None:
    """Hidden tests of exercise 1d: the student's function trains again from another seed (1) and is judged on
    other test images, with the visible check's targets: a setting that only passed by a lucky seed fails here."""
    ex = "Exercise 1d (a code in use), hidden tests"
    recipe = used_code_recipe()
    data, test = used_code_data(recipe, hidden=True)
    model = _call(ex, train_with_a_used_code, data, recipe.epochs, seed=1)
    measured = judge_used_code(ex, model, data, test, recipe)
    _ok(f"{ex}: passed with seed 1 on {len(test):,} other test images ({measured}).")

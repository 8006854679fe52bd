"""Hidden tests of notebook 05's exercises (the teacher's grading module; never shipped to students).

Called only from the hidden-test regions of ``notebooks/05_*.ipynb``, which nbgrader removes from the student
version and restores when it autogrades. They reuse the visible checks' helpers of
:mod:`vae_helpers.exercises.nb05` on other inputs and sizes, and test the mistakes a visible check could let through.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from vae_helpers.data import load_dataset
from vae_helpers.exercises._common import _check_loss_gradients, _close, _fail, _ok, _random_batch
from vae_helpers.exercises.nb05 import _check_probe, _terms, _with_beta, probe_data
from vae_helpers.exercises.nb05_vae_module import _check_module, build_recipe, train_briefly
from vae_helpers.losses import bernoulli_nll, kl_per_dim

__all__ = ["hidden_vae_loss", "reference_probe", "hidden_linear_probe", "hidden_vae_module"]


def hidden_vae_loss(vae_loss: Callable) -> None:
    """Hidden tests of exercise 1: another batch (N=7, D=5, 4x4 images), every term and every gradient."""
    ex = "Exercise 1 (vae_loss), hidden tests"
    for seed, n, d, shape in ((404, 7, 5, (1, 4, 4)), (405, 3, 8, (1, 2, 5))):
        b = _random_batch(seed, n=n, d=d, shape=shape)
        recon = float(bernoulli_nll(b["logits"], b["x"]).mean())
        kl = float(kl_per_dim(b["mu"], b["logvar"]).sum(1).mean())
        got = _terms(ex, vae_loss, b)
        for what, value, want in zip(("loss", "recon", "kl"), got, (recon + kl, recon, kl)):
            if not _close(value, want):
                raise _fail(ex, f"on another batch (N={n}, D={d}): {what} is {value:.4f}, expected {want:.4f}.")
        _check_loss_gradients(ex, _with_beta(vae_loss), b, beta=1.0)
    _ok(f"{ex}: passed.")


def reference_probe(train_codes, train_labels, test_codes, test_labels) -> float:
    """The notebook's probe: standardise (fit on the training codes), logistic regression, test accuracy."""
    scaler = StandardScaler().fit(np.asarray(train_codes))
    clf = LogisticRegression(max_iter=1000).fit(scaler.transform(np.asarray(train_codes)), np.asarray(train_labels))
    return float(clf.score(scaler.transform(np.asarray(test_codes)), np.asarray(test_labels)))


def _accuracies(tr, ytr, te, yte) -> tuple[float, float, float]:
    """What :func:`vae_helpers.exercises.nb05._check_probe` compares with: the probe's test accuracy, the accuracy
    of a probe scored on its training codes, and of one fitted on the test codes."""
    return reference_probe(tr, ytr, te, yte), reference_probe(tr, ytr, tr, ytr), reference_probe(te, yte, te, yte)


def _check(ex: str, linear_probe: Callable, tr, ytr, te, yte) -> None:
    _check_probe(ex, linear_probe, (tr, ytr, te, yte), _accuracies(tr, ytr, te, yte))


def hidden_linear_probe(linear_probe: Callable) -> None:
    """Hidden tests of exercise 2: other data (5 classes, 16 dimensions, other sizes); labels shuffled in training
    give chance accuracy (the probe uses the training labels it is given)."""
    ex = "Exercise 2 (linear_probe), hidden tests"
    tr, ytr, te, yte = probe_data(7, n_train=100, n_test=500, dim=16, classes=5, spread=1.2)
    _check(ex, linear_probe, tr, ytr, te, yte)
    tr, ytr, te, yte = probe_data(8, n_train=200, n_test=600, dim=6, classes=4, spread=0.8)
    _check(ex, linear_probe, tr.double(), ytr, te.double(), yte)
    shuffled = ytr[torch.randperm(len(ytr), generator=torch.Generator().manual_seed(9))]
    _check(ex, linear_probe, tr, shuffled, te, yte)
    _ok(f"{ex}: passed.")


def hidden_vae_module(vae_cls: type) -> None:
    """Hidden tests of exercise 3: the interface at other sizes (D=7 with 64 hidden units, D=1, batches of 5 and
    1), then the training: ``train_briefly`` (fixed seed, the recipe of :func:`build_recipe`) must reach the
    recipe's test ELBO (its docstring lists what correct and wrong modules measured)."""
    ex = "Exercise 3 (VAE), hidden tests"
    _check_module(ex, vae_cls, 7, 64, 5)
    _check_module(ex, vae_cls, 1, 16, 1)
    recipe = build_recipe()
    _, run, metrics = train_briefly(vae_cls, load_dataset("fashion-mnist"), recipe)
    if not metrics.elbo >= recipe.target_elbo:
        raise _fail(
            ex,
            f"trained for {recipe.epochs} epochs on {recipe.train_images:,} images (seed {recipe.seed}), your VAE's "
            f"test ELBO is {metrics.elbo:.1f} nats per image (recon {metrics.recon:.1f}, KL {metrics.kl:.1f}); a "
            f"correct 784-400-20 VAE reaches at least {recipe.target_elbo:.0f}. Check the layers (784 -> 400 -> ReLU "
            "-> mu and logvar; z -> 400 -> ReLU -> 784 logits) and that forward samples z.",
        )
    _ok(f"{ex}: passed (test ELBO {metrics.elbo:.1f} nats per image, target {recipe.target_elbo:.0f}).")

"""Notebook 08's exercises (the β-VAE loss, the Gaussian likelihood): the student/solution pair, the check functions,
and the `loss_fn` hook of `fit` that trains the models with the student's loss.

What CI checks here (the solution notebook itself runs under nbval in `make test`'s notebook stage):

1. every exercise cell of the solution is followed by its visible check and its hidden tests (nbgrader cells);
2. in the student version (nbgrader's release, tested in tests/test_nbgrader.py), each check stops with
   NotImplementedError and a pointer to the cell to fill in;
3. every check function passes on the solution notebook's own code and fails, with its teaching
   message, on the typical wrong implementations;
4. the `loss_fn` hook of `fit`.

Notebook 09's exercises (schedules, free bits, the conditional VAE) are in tests/test_exercises_09.py.
"""

from __future__ import annotations

import math
import re

import nbformat
import pytest
import torch
import torch.nn.functional as F
from _solutions import solutions

from grading import nb08 as g08
from vae_helpers import exercises as ex
from vae_helpers.config import REPO_ROOT, seed_everything
from vae_helpers.losses import bernoulli_nll, gaussian_nll, kl_per_dim, vae_loss
from vae_helpers.models import MLPVAE
from vae_helpers.training import TrainConfig, fit

SOLUTION = REPO_ROOT / "notebooks" / "08_beta_vae_and_likelihoods.ipynb"
STUDENT = REPO_ROOT / "notebooks" / "student" / "08_beta_vae_and_likelihoods.ipynb"


@pytest.fixture(scope="module")
def solution() -> dict:
    """The solution notebook's exercise cells, executed: the reference implementations the course ships."""
    namespace = solutions("08_beta_vae_and_likelihoods.ipynb")
    namespace.update(kl_per_dim=kl_per_dim, exercises=ex)
    return namespace


# ------------------------------------------------------------------------------------------------
# 1-2: the solution notebook's exercise cells (the release itself is tested in tests/test_nbgrader.py)
# ------------------------------------------------------------------------------------------------
def test_each_exercise_is_followed_by_its_check_and_hidden_tests():
    cells = nbformat.read(SOLUTION, as_version=4).cells
    checks = {"beta_vae_loss": "check_beta_vae_loss", "gaussian_nll": "check_gaussian_nll"}
    seen = 0
    for i, cell in enumerate(cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution"):
            check, hidden = cells[i + 1], cells[i + 2]
            assert check.metadata["nbgrader"]["grade"] and hidden.metadata["nbgrader"]["grade"]
            assert any(key in cell.source and f"exercises.{chk}(" in check.source for key, chk in checks.items())
            assert "### BEGIN HIDDEN TESTS" in hidden.source and 'teacher_grading("nb08").hidden_' in hidden.source
            seen += 1
    assert seen == len(checks)


def test_student_exercise_cells_make_their_checks_stop_with_not_implemented_error():
    """Each solution cell of the student version runs (definitions only), and its check cell then stops with
    NotImplementedError and the pointer to the cell to fill in: never with another error, never silently."""
    cells = nbformat.read(STUDENT, as_version=4).cells
    namespace: dict = {}
    exec(
        "import math\nimport torch\nimport torch.nn.functional as F\nfrom vae_helpers import exercises\n"
        "from vae_helpers.losses import kl_per_dim\n",
        namespace,
    )
    checked = 0
    for i, cell in enumerate(cells):
        if not (cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")):
            continue
        assert "raise NotImplementedError()" in cell.source
        exec(cell.source, namespace)
        with pytest.raises(NotImplementedError, match="not implemented yet"):
            exec(cells[i + 1].source, namespace)
        checked += 1
    assert checked == 2


# ------------------------------------------------------------------------------------------------
# 3: the check functions
# ------------------------------------------------------------------------------------------------
def test_known_constants_agree_with_the_library():
    b = ex.fixed_batch()
    assert bernoulli_nll(b["logits"], b["x"]).mean().item() == pytest.approx(ex.KNOWN_RECON, abs=1e-5)
    assert kl_per_dim(b["mu"], b["logvar"]).sum(1).mean().item() == pytest.approx(ex.KNOWN_KL, abs=1e-5)
    assert kl_per_dim(b["mu"], b["logvar"]).mean(0).tolist() == pytest.approx(ex.KNOWN_KL_PER_DIM, abs=1e-5)
    assert gaussian_nll(b["logits"], b["x"], 0.5).tolist() == pytest.approx(ex.KNOWN_GAUSSIAN_NLL_SIGMA_HALF, abs=1e-5)
    terms = vae_loss(b["logits"], b["x"], b["mu"], b["logvar"], beta=2.0, free_bits=0.8)
    assert terms.loss.item() == pytest.approx(ex.KNOWN_RECON + 2.0 * (0.8 + 0.8 + ex.KNOWN_KL_PER_DIM[2]), abs=1e-5)


def test_checks_pass_on_the_solution_notebook(solution, capsys):
    ex.check_beta_vae_loss(solution["beta_vae_loss"])
    ex.check_gaussian_nll(solution["gaussian_nll"])
    assert capsys.readouterr().out.count("✓") == 2


def test_hidden_tests_pass_on_the_solution_notebook(solution, capsys):
    g08.hidden_beta_vae_loss(solution["beta_vae_loss"])
    g08.hidden_gaussian_nll(solution["gaussian_nll"])
    assert capsys.readouterr().out.count("✓") == 2


def _bce(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()


def _kl(mu, logvar):
    return (0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)).sum(1).mean()


def _loss(recon_fn=_bce, kl_fn=_kl, combine=lambda r, k, b: r + b * k):
    def f(logits, x, mu, logvar, beta=1.0):
        r, k = recon_fn(logits, x), kl_fn(mu, logvar)
        return combine(r, k, beta), r, k

    return f


WRONG_LOSSES = [
    (
        "KL mean over dims",
        _loss(kl_fn=lambda m, lv: (0.5 * (m.pow(2) + lv.exp() - lv - 1)).mean()),
        "missing a sum over latent dimensions",
    ),
    (
        "KL summed over batch",
        _loss(kl_fn=lambda m, lv: (0.5 * (m.pow(2) + lv.exp() - lv - 1)).sum()),
        "summing over the batch",
    ),
    ("KL sign", _loss(kl_fn=lambda m, lv: -_kl(m, lv)), "wrong sign"),
    ("KL without -1", _loss(kl_fn=lambda m, lv: (0.5 * (m.pow(2) + lv.exp() - lv)).sum(1).mean()), "'- 1'"),
    (
        "logvar as log sigma",
        _loss(kl_fn=lambda m, lv: (0.5 * (m.pow(2) + (2 * lv).exp() - 2 * lv - 1)).sum(1).mean()),
        "log(sigma^2)",
    ),
    (
        "recon mean over pixels",
        _loss(recon_fn=lambda lo, x: F.binary_cross_entropy_with_logits(lo, x)),
        "averaging the reconstruction term over pixels",
    ),
    (
        "double sigmoid",
        _loss(
            recon_fn=lambda lo, x: F.binary_cross_entropy(torch.sigmoid(torch.sigmoid(lo)), x, reduction="sum") / len(x)
        ),
        "sigmoid twice",
    ),
    (
        "squared error",
        _loss(recon_fn=lambda lo, x: (torch.sigmoid(lo) - x).pow(2).flatten(1).sum(1).mean()),
        "squared error",
    ),
    ("beta on recon", _loss(combine=lambda r, k, b: b * r + k), "beta on the reconstruction"),
    ("beta ignored", _loss(combine=lambda r, k, b: r + k), "does not change with beta"),
    ("ELBO not loss", _loss(combine=lambda r, k, b: -(r + b * k)), "return the ELBO"),
    ("detached", _loss(combine=lambda r, k, b: (r + b * k).detach()), "stay a tensor connected"),
    ("detached recon", _loss(recon_fn=lambda lo, x: _bce(lo.detach(), x)), "no gradient reaches `logits`"),
    ("detached kl", _loss(kl_fn=lambda m, lv: _kl(m.detach(), lv.detach())), "no gradient reaches `mu`"),
    (
        "beta on the returned kl",
        lambda lo, x, mu, lv, beta=1.0: (_bce(lo, x) + beta * _kl(mu, lv), _bce(lo, x), beta * _kl(mu, lv)),
        "= beta * KL",
    ),
    ("returns only loss", lambda lo, x, mu, lv, beta=1.0: _bce(lo, x) + beta * _kl(mu, lv), "return a tuple"),
]


@pytest.mark.parametrize("name, fn, message", WRONG_LOSSES, ids=[w[0] for w in WRONG_LOSSES])
def test_beta_vae_loss_check_teaches(name, fn, message):
    with pytest.raises(ex.ExerciseCheckError, match=re.escape(message)):
        ex.check_beta_vae_loss(fn)


def _g(body):
    def f(logits, x, sigma=1.0):
        sq = (x - torch.sigmoid(logits)).pow(2).flatten(1)
        return body(sq, x[0].numel(), sigma, logits, x)

    return f


_C = 0.5 * math.log(2 * math.pi)
WRONG_GAUSSIAN = [
    ("no constant", _g(lambda sq, d, s, lo, x: sq.sum(1) / (2 * s**2)), "normalising constant"),
    ("no half", _g(lambda sq, d, s, lo, x: sq.sum(1) / s**2 + d * (math.log(s) + _C)), "1/2"),
    ("sigma not squared", _g(lambda sq, d, s, lo, x: sq.sum(1) / (2 * s) + d * (math.log(s) + _C)), "not sigma"),
    (
        "mean over pixels",
        _g(lambda sq, d, s, lo, x: sq.mean(1) / (2 * s**2) + math.log(s) + _C),
        "averaging over pixels",
    ),
    (
        "logits as mean",
        _g(lambda sq, d, s, lo, x: (lo - x).pow(2).flatten(1).sum(1) / (2 * s**2) + d * (math.log(s) + _C)),
        "sigmoid(logits)",
    ),
    (
        "batch mean",
        _g(lambda sq, d, s, lo, x: (sq.sum(1) / (2 * s**2) + d * (math.log(s) + _C)).mean()),
        "one value per image",
    ),
    (
        "sigma hard-coded",
        _g(lambda sq, d, s, lo, x: sq.sum(1) / 0.5 + d * (math.log(0.5) + _C)),
        "use the `sigma` argument",
    ),
]


WRONG_GAUSSIAN.append(
    (
        "detached mean",
        _g(
            lambda sq, d, s, lo, x: (
                (x - torch.sigmoid(lo).detach()).pow(2).flatten(1).sum(1) / (2 * s**2) + d * (math.log(s) + _C)
            )
        ),
        "connected to `logits`",
    )
)


@pytest.mark.parametrize("name, fn, message", WRONG_GAUSSIAN, ids=[w[0] for w in WRONG_GAUSSIAN])
def test_gaussian_nll_check_teaches(name, fn, message):
    with pytest.raises(ex.ExerciseCheckError, match=re.escape(message)):
        ex.check_gaussian_nll(fn)


@pytest.mark.parametrize("check", [ex.check_beta_vae_loss, ex.check_gaussian_nll])
def test_unimplemented_exercise_raises_not_implemented(check):
    def todo(*args, **kwargs):
        raise NotImplementedError("Hint: something")

    with pytest.raises(NotImplementedError, match="not implemented yet"):
        check(todo)


def test_exercise_messages_name_the_exercise_of_notebook_08():
    with pytest.raises(ex.ExerciseCheckError, match=r"Exercise 1 \(beta_vae_loss\)"):
        ex.check_beta_vae_loss(_loss(combine=lambda r, k, b: r + k))
    with pytest.raises(ex.ExerciseCheckError, match=r"Exercise 2 \(gaussian_nll\)"):
        ex.check_gaussian_nll(_g(lambda sq, d, s, lo, x: sq.sum(1) / (2 * s**2)))


def test_hidden_tests_catch_what_the_visible_checks_cannot():
    """Detached terms and beta on the returned KL fail the hidden tests."""
    with pytest.raises(ex.ExerciseCheckError, match="beta \\* KL"):
        g08.hidden_beta_vae_loss(
            lambda lo, x, mu, lv, beta=1.0: (_bce(lo, x) + beta * _kl(mu, lv), _bce(lo, x), beta * _kl(mu, lv))
        )
    with pytest.raises(ex.ExerciseCheckError, match="no gradient reaches `logits`"):
        g08.hidden_beta_vae_loss(_loss(recon_fn=lambda lo, x: _bce(lo.detach(), x)))
    with pytest.raises(ex.ExerciseCheckError, match="detached"):
        g08.hidden_gaussian_nll(lambda lo, x, sigma=1.0: gaussian_nll(lo, x, sigma).detach())


# ------------------------------------------------------------------------------------------------
# 4: training support
# ------------------------------------------------------------------------------------------------
def test_fit_with_students_loss_equals_builtin_objective(small_fashion, solution):
    data = small_fashion.subset(train=512, val=256)
    histories = []
    for loss_fn in (None, ex.make_loss_fn(solution["beta_vae_loss"])):
        seed_everything(0)
        model = MLPVAE(hidden=(64,), latent_dim=4)
        run = fit(model, data, TrainConfig(epochs=2, beta=2.0, seed=0, progress=False), loss_fn=loss_fn, device="cpu")
        histories.append(run.history)
    for key in ("train_loss", "train_recon", "train_kl", "val_loss", "val_kl"):
        assert histories[0][key] == pytest.approx(histories[1][key], rel=1e-4), key


def test_fit_rejects_a_loss_fn_returning_a_tuple(small_fashion):
    data = small_fashion.subset(train=64, val=64)
    bad = lambda model, x, y, beta: (torch.zeros((), requires_grad=True),) * 3  # noqa: E731
    with pytest.raises(TypeError, match="LossTerms"):
        fit(MLPVAE(hidden=(8,), latent_dim=2), data, TrainConfig(epochs=1, progress=False), loss_fn=bad, device="cpu")

"""Notebooks 02 and 04: the checks and hidden tests accept the solution notebooks' code and name typical mistakes."""

from __future__ import annotations

import math
import re

import pytest
import torch
from _solutions import solutions as _solutions

from grading import nb02 as g02
from grading import nb04 as g04
from vae_helpers.exercises import ExerciseCheckError, nb02, nb04


def test_notebook_02_solutions_pass(capsys):
    s = _solutions("02_elbo_and_kl.ipynb")
    nb02.check_kl_closed_form(s["kl_closed_form"])
    g02.hidden_kl_closed_form(s["kl_closed_form"])
    nb02.check_kl_monte_carlo(s["kl_monte_carlo_estimate"])
    g02.hidden_kl_monte_carlo(s["kl_monte_carlo_estimate"])
    assert capsys.readouterr().out.count("✓") == 4


def test_notebook_04_solutions_pass(capsys):
    s = _solutions("04_reparameterization.ipynb")
    nb04.check_reparameterize(s["reparameterized_sample"])
    g04.hidden_reparameterize(s["reparameterized_sample"])
    nb04.check_score_function(s["score_function_grad"])
    g04.hidden_score_function(s["score_function_grad"])
    assert capsys.readouterr().out.count("✓") == 4


def _kl(body):
    return lambda mu, lv: body(mu, lv)


WRONG_KL = [
    ("mean over dims", _kl(lambda m, lv: 0.5 * (m**2 + lv.exp() - lv - 1).mean(-1)), "sum* over dimensions"),
    ("no -1", _kl(lambda m, lv: 0.5 * (m**2 + lv.exp() - lv).sum(-1)), "'- 1'"),
    ("logvar as log sigma", _kl(lambda m, lv: 0.5 * (m**2 + (2 * lv).exp() - 2 * lv - 1).sum(-1)), "log(sigma^2)"),
    ("detached", _kl(lambda m, lv: 0.5 * (m**2 + lv.exp() - lv - 1).sum(-1).detach()), "stay a tensor connected"),
    ("batch mean", _kl(lambda m, lv: 0.5 * (m**2 + lv.exp() - lv - 1).sum(-1).mean()), "shape (4,)"),
]


@pytest.mark.parametrize("name, fn, message", WRONG_KL, ids=[w[0] for w in WRONG_KL])
def test_kl_closed_form_check_teaches(name, fn, message):
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        nb02.check_kl_closed_form(fn)


def _mc(sign=1.0, dim_reduce="sum", use_generator=True):
    def f(mu, logvar, n, generator):
        eps = torch.randn(n, *mu.shape, generator=generator if use_generator else None, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps
        lq = -0.5 * (math.log(2 * math.pi) + logvar) - (z - mu) ** 2 / (2 * logvar.exp())
        lp = -0.5 * math.log(2 * math.pi) - z**2 / 2
        r = lq - lp
        return sign * (r.sum(-1) if dim_reduce == "sum" else r.mean(-1)).mean(0)

    return f


WRONG_MC = [
    ("sign", _mc(sign=-1.0), "wrong sign"),
    ("mean over dims", _mc(dim_reduce="mean"), "sum them over dimensions"),
    ("closed form", lambda mu, lv, n, g: 0.5 * (mu**2 + lv.exp() - lv - 1).sum(-1), "return the closed form"),
]


@pytest.mark.parametrize("name, fn, message", WRONG_MC, ids=[w[0] for w in WRONG_MC])
def test_kl_monte_carlo_check_teaches(name, fn, message):
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        nb02.check_kl_monte_carlo(fn)


WRONG_REPARAM = [
    ("variance", lambda m, lv, e: m + lv.exp() * e, "variance exp(logvar)"),
    ("logvar as sigma", lambda m, lv, e: m + lv * e, "not logvar itself"),
    ("no scale", lambda m, lv, e: m + e, "scaled by sigma"),
    ("detached", lambda m, lv, e: (m + torch.exp(0.5 * lv) * e).detach(), "stay a tensor connected"),
    (
        "new tensor",
        lambda m, lv, e: torch.tensor((m + torch.exp(0.5 * lv) * e).tolist(), requires_grad=True),
        "no gradient",
    ),
]


@pytest.mark.parametrize("name, fn, message", WRONG_REPARAM, ids=[w[0] for w in WRONG_REPARAM])
def test_reparameterize_check_teaches(name, fn, message):
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        nb04.check_reparameterize(fn)


WRONG_SCORE = [
    ("sign", lambda f, z, m, s: -(f * (z - m) / s**2).mean(), "Wrong sign"),
    ("sigma not squared", lambda f, z, m, s: (f * (z - m) / s).mean(), "not sigma"),
    ("no f", lambda f, z, m, s: ((z - m) / s**2).mean(), "weighted by f(z)"),
    ("sum", lambda f, z, m, s: (f * (z - m) / s**2).sum(), "do not sum"),
]


@pytest.mark.parametrize("name, fn, message", WRONG_SCORE, ids=[w[0] for w in WRONG_SCORE])
def test_score_function_check_teaches(name, fn, message):
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        nb04.check_score_function(fn)


def test_hidden_tests_catch_a_biased_score_function():
    with pytest.raises(ExerciseCheckError, match="exact gradient"):
        g04.hidden_score_function(lambda f, z, m, s: (f * (z - m) / s**2).mean() + 1.0)

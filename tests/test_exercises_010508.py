"""Notebooks 01, 05 and 08: the checks and hidden tests accept the solution notebooks' code and name typical mistakes."""

from __future__ import annotations

import nbformat
import pytest
import torch

from vae_helpers.config import REPO_ROOT
from vae_helpers.exercises import ExerciseCheckError, nb01


def _solutions(name: str) -> dict:
    namespace: dict = {}
    exec("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n", namespace)
    for cell in nbformat.read(REPO_ROOT / "notebooks" / name, as_version=4).cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            exec(cell.source, namespace)
    return namespace


# ------------------------------------------------------------------------------------------------
# 01: empirical Gaussian, decoded samples
# ------------------------------------------------------------------------------------------------
def test_notebook_01_solutions_pass(capsys):
    s = _solutions("01_autoencoder_limitations.ipynb")
    nb01.check_empirical_gaussian(s["empirical_gaussian"])
    nb01.hidden_empirical_gaussian(s["empirical_gaussian"])
    nb01.check_decode_samples(s["decode_samples"])
    nb01.hidden_decode_samples(s["decode_samples"])
    assert capsys.readouterr().out.count("✓") == 4


def test_empirical_gaussian_accepts_the_maximum_likelihood_std():
    nb01.check_empirical_gaussian(lambda c: (c.mean(0), c.std(0, unbiased=False)))
    nb01.hidden_empirical_gaussian(lambda c: (c.mean(0), c.std(0, unbiased=False)))


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda c: (c.mean(0), c.var(0)), "*variance*"),
        (lambda c: (c.mean(1), c.std(1)), "you reduced over the latent dimensions"),
        (lambda c: (torch.zeros(c.shape[1]), torch.ones(c.shape[1])), "N(0, I)'s mean"),
        (lambda c: (c.mean(0), torch.ones(c.shape[1])), "N(0, I)'s std"),
        (lambda c: (c.std(0), c.mean(0)), "(std, mean)"),
        (lambda c: (c.mean(), c.std()), "single number"),
        (lambda c: c.mean(0), "return a tuple"),
    ],
)
def test_empirical_gaussian_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError) as err:
        nb01.check_empirical_gaussian(wrong)
    assert message in str(err.value)


def test_empirical_gaussian_hidden_tests_catch_hard_coded_values():
    known = nb01.fixed_codes()
    with pytest.raises(ExerciseCheckError):
        nb01.hidden_empirical_gaussian(lambda c: (known.mean(0), known.std(0)))


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda d, m, s, e: d(m + s * e), "*logits*"),
        (lambda d, m, s, e: torch.sigmoid(d(e)), "a sample of N(0, I)"),
        (lambda d, m, s, e: torch.sigmoid(d(m + s**2 * e)), "*variance*"),
        (lambda d, m, s, e: torch.sigmoid(d(m + e)), "forgot to scale eps"),
        (lambda d, m, s, e: torch.sigmoid(d(s + m * e)), "swapped"),
        (lambda d, m, s, e: torch.sigmoid(d(m.expand_as(e))), "the mean only"),
        (lambda d, m, s, e: torch.sigmoid(d(m + s * e)).flatten(1), "should have shape"),
    ],
)
def test_decode_samples_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError) as err:
        nb01.check_decode_samples(wrong)
    assert message in str(err.value)


def test_decode_samples_hidden_tests_use_the_given_decoder():
    known = nb01.tiny_decoder()
    with pytest.raises(ExerciseCheckError):
        nb01.hidden_decode_samples(lambda d, m, s, e: torch.sigmoid(known(m + s * e)))


def test_not_implemented_points_at_the_exercise_cell():
    def stub(codes):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError, match="Exercise 1 .*not implemented yet"):
        nb01.check_empirical_gaussian(stub)

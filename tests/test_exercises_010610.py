"""Notebooks 01, 06 and 10: the checks and hidden tests accept the solution notebooks' code and name typical
mistakes."""

from __future__ import annotations

import pytest
import torch
from _solutions import solutions as _solutions

from grading import nb01 as g01
from grading import nb06 as g06
from grading import nb10 as g10
from vae_helpers.exercises import ExerciseCheckError, nb01, nb06, nb10


# ------------------------------------------------------------------------------------------------
# 01: empirical Gaussian, decoded samples
# ------------------------------------------------------------------------------------------------
def test_notebook_01_solutions_pass(capsys):
    s = _solutions("01_autoencoder_limitations.ipynb")
    nb01.check_empirical_gaussian(s["empirical_gaussian"])
    g01.hidden_empirical_gaussian(s["empirical_gaussian"])
    nb01.check_decode_samples(s["decode_samples"])
    g01.hidden_decode_samples(s["decode_samples"])
    assert capsys.readouterr().out.count("✓") == 4


def test_empirical_gaussian_accepts_the_maximum_likelihood_std():
    nb01.check_empirical_gaussian(lambda c: (c.mean(0), c.std(0, unbiased=False)))
    g01.hidden_empirical_gaussian(lambda c: (c.mean(0), c.std(0, unbiased=False)))


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
        g01.hidden_empirical_gaussian(lambda c: (known.mean(0), known.std(0)))


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
        g01.hidden_decode_samples(lambda d, m, s, e: torch.sigmoid(known(m + s * e)))


def test_not_implemented_points_at_the_exercise_cell():
    def stub(codes):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError, match="Exercise 1 .*not implemented yet"):
        nb01.check_empirical_gaussian(stub)


# ------------------------------------------------------------------------------------------------
# 06: parameter counts, conv encoder
# ------------------------------------------------------------------------------------------------
def test_notebook_06_solutions_pass(capsys):
    s = _solutions("06_conv_vae.ipynb")
    nb06.check_param_counts(s["param_counts"])
    g06.hidden_param_counts(s["param_counts"])
    nb06.check_conv_encoder(s["conv_encoder"])
    g06.hidden_conv_encoder(s["conv_encoder"])
    assert capsys.readouterr().out.count("✓") == 4


def test_param_counts_agree_with_torch():
    import torch.nn as nn

    s = _solutions("06_conv_vae.ipynb")
    conv, dense = s["param_counts"](1, 28, 32, 14, 4)
    assert conv == sum(p.numel() for p in nn.Conv2d(1, 32, 4, 2, 1).parameters())
    assert dense == sum(p.numel() for p in nn.Linear(784, 32 * 14 * 14).parameters())


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda ci, si, co, so, k: (co * ci * k * k, (ci * si**2) * (co * so**2) + co * so**2), "forgot the biases"),
        (lambda ci, si, co, so, k: (co * ci * k + co, (ci * si**2) * (co * so**2) + co * so**2), "not k."),
        (lambda ci, si, co, so, k: (co * k * k + co, (ci * si**2) * (co * so**2) + co * so**2), "*all* input channels"),
        (
            lambda ci, si, co, so, k: ((co * ci * k * k + co) * so**2, (ci * si**2) * (co * so**2) + co * so**2),
            "*shares* its filter",
        ),
        (lambda ci, si, co, so, k: (co * ci * k * k + co, (ci * si**2) * (co * so**2)), "dense layer's biases"),
        (lambda ci, si, co, so, k: (co * ci * k * k + co, ci * co + co), "every input *number*"),
        (lambda ci, si, co, so, k: ((ci * si**2) * (co * so**2) + co * so**2, co * ci * k * k + co), "(dense, conv)"),
        (lambda ci, si, co, so, k: co * ci * k * k + co, "return a tuple"),
    ],
)
def test_param_counts_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError) as err:
        nb06.check_param_counts(wrong)
    assert message in str(err.value)


def test_param_counts_hidden_tests_catch_hard_coded_values():
    with pytest.raises(ExerciseCheckError):
        g06.hidden_param_counts(lambda *a: (544, 784 * 6272 + 6272))


def _encoder(conv1=None, conv2=None, flatten=True, relu=True, linear_in=3136, extra=()):
    def build(out_features):
        import torch.nn as nn

        layers = [conv1 or nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU() if relu else nn.Identity()]
        layers += [conv2 or nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU()]
        layers += [nn.Flatten()] if flatten else []
        layers += [nn.Linear(linear_in, out_features), *extra]
        return nn.Sequential(*layers)

    return build


@pytest.mark.parametrize(
    "wrong, message",
    [
        (_encoder(conv1=torch.nn.Conv2d(1, 32, 4, 2, 0)), "no padding"),
        (_encoder(conv1=torch.nn.Conv2d(1, 32, 3, 1, 1)), "stride is 1"),
        (_encoder(conv1=torch.nn.Conv2d(1, 32, 3, 2, 1)), "kernel_size=3"),
        (_encoder(conv1=torch.nn.Conv2d(1, 16, 4, 2, 1), conv2=torch.nn.Conv2d(16, 64, 4, 2, 1)), "channel widths"),
        (_encoder(flatten=False), "nn.Flatten() is missing"),
        (_encoder(relu=False), "activation (nn.ReLU()) is missing"),
        (_encoder(extra=(torch.nn.Linear(40, 40),)), "parameters instead of"),
        (lambda out_features: [torch.nn.Flatten(), torch.nn.Linear(784, out_features)], "nn.Sequential"),
    ],
)
def test_conv_encoder_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError) as err:
        nb06.check_conv_encoder(wrong)
    assert message in str(err.value)


def test_conv_encoder_hidden_tests_catch_a_fixed_output_size():
    with pytest.raises(ExerciseCheckError, match="table ends at"):
        g06.hidden_conv_encoder(lambda out_features: _encoder()(40))


# ------------------------------------------------------------------------------------------------
# 10: attribute vector, edits
# ------------------------------------------------------------------------------------------------
def test_notebook_10_solutions_pass(capsys):
    s = _solutions("10_celeba_faces.ipynb")
    nb10.check_attribute_vector(s["attribute_vector"])
    g10.hidden_attribute_vector(s["attribute_vector"])
    nb10.check_edit(s["edit"])
    g10.hidden_edit(s["edit"])
    assert capsys.readouterr().out.count("✓") == 4


def test_attribute_vector_solution_agrees_with_attribute_directions():
    from vae_helpers.attributes import apply_direction, attribute_directions

    s = _solutions("10_celeba_faces.ipynb")
    codes, labels = nb10.fixed_codes_and_labels(30, 6, seed=5)
    want = attribute_directions(codes, labels[:, None], ["a"])["a"].vector
    assert torch.allclose(s["attribute_vector"](codes, labels), want, atol=1e-6)
    assert torch.allclose(s["edit"](codes[:2], want, [0.0, 2.0]), apply_direction(codes[:2], want, [0.0, 2.0]))


def _with(c, lab):
    return c[lab > 0].mean(0)


def _without(c, lab):
    return c[lab <= 0].mean(0)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda c, lab: _without(c, lab) - _with(c, lab), "points the wrong way"),
        (lambda c, lab: c[lab > 0].mean(1), "you averaged over the latent dimensions"),
        (lambda c, lab: c[lab == 1].mean(0) - c[lab == 0].mean(0), "-1/+1 labels"),
        (lambda c, lab: torch.nn.functional.normalize(_with(c, lab) - _without(c, lab), dim=0), "not normalised"),
        (lambda c, lab: c[lab > 0].sum(0) - c[lab <= 0].sum(0), "*sums*"),
        (lambda c, lab: _with(c, lab) - c.mean(0), "the mean of *all* codes"),
        (lambda c, lab: _with(c, lab), "subtract the mean of those without"),
        (lambda c, lab: (lab.float()[:, None] * c).mean(0), "multiplied the codes by the labels"),
    ],
)
def test_attribute_vector_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError) as err:
        nb10.check_attribute_vector(wrong)
    assert message in str(err.value)


def test_attribute_vector_hidden_tests_catch_hard_coded_values():
    codes, labels = nb10.fixed_codes_and_labels()
    known = _with(codes, labels) - _without(codes, labels)
    with pytest.raises(ExerciseCheckError):
        g10.hidden_attribute_vector(lambda c, lab: known)


def _a(alphas, z):
    return torch.tensor(alphas, dtype=z.dtype)[None, :, None]


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda z, v, al: _a(al, z) * z[:, None] + v, "applied alpha to z"),
        (lambda z, v, al: _a(al, z) * (z[:, None] + v), "scaled z + v by alpha"),
        (lambda z, v, al: (z[:, None] + v).expand(-1, len(al), -1), "the same code z + v"),
        (lambda z, v, al: z[:, None] - _a(al, z) * v, "sign is reversed"),
        (lambda z, v, al: z[:, None] + _a(al, z) * v / v.norm(), "You normalised v"),
        (lambda z, v, al: z[:, None].expand(-1, len(al), -1), "unedited codes"),
        (lambda z, v, al: (z[:, None] + _a(al, z) * v).transpose(0, 1), "the order is [faces x alphas x D]"),
        (lambda z, v, al: z[:, None] + _a(al, z) * v.flip(0), "edited codes is"),
    ],
)
def test_edit_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError) as err:
        nb10.check_edit(wrong)
    assert message in str(err.value)


def test_edit_hidden_tests_catch_a_fixed_number_of_alphas():
    with pytest.raises(ExerciseCheckError):
        g10.hidden_edit(lambda z, v, al: z[:, None] + _a(al[:4], z) * v)

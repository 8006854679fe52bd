"""Notebook 06, exercise 3 (a conv decoder to a shape table): the solution notebook's code passes the check and the
hidden tests; typical wrong decoders fail with the message that names the mistake."""

from __future__ import annotations

import pytest
import torch
from _solutions import solutions as _solutions
from torch import nn

from vae_helpers.exercises import ExerciseCheckError, nb06, teacher_grading
from vae_helpers.models import ConvVAE


def _hidden():
    return teacher_grading("nb06")


def test_notebook_06_conv_decoder_solution_passes(capsys):
    s = _solutions("06_conv_vae.ipynb")
    nb06.check_conv_decoder(s["conv_decoder"])
    _hidden().hidden_conv_decoder(s["conv_decoder"])
    assert capsys.readouterr().out.count("✓") == 2


def test_the_solution_is_convvae_s_decoder():
    s = _solutions("06_conv_vae.ipynb")
    for latent_dim in (2, 20):
        mine, theirs = s["conv_decoder"](latent_dim), ConvVAE(latent_dim=latent_dim).decoder
        assert [type(m) for m in mine] == [type(m) for m in theirs]
        mine.load_state_dict(theirs.state_dict())
        z = torch.randn(4, latent_dim)
        assert torch.equal(mine(z), theirs(z))
    assert nb06.decoder_shape_table(20)[-1][1] == tuple(ConvVAE(latent_dim=20).decode(torch.zeros(1, 20)).shape[1:])


def _decoder(
    deconv1=None, deconv2=None, unflatten=True, swap_relu_unflatten=False, act=nn.ReLU, bias=True, extra=(), width=256
):
    """A decoder as in the table, with one part changed."""

    def build(latent_dim=20):
        first = [nn.Linear(latent_dim, width), act(), nn.Linear(width, 64 * 7 * 7, bias=bias)]
        middle = [act(), nn.Unflatten(1, (64, 7, 7))] if unflatten else [act()]
        middle = middle[::-1] if swap_relu_unflatten else middle
        last = [deconv1 or nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), act()]
        last += [deconv2 or nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1), *extra]
        return nn.Sequential(*first, *middle, *last)

    return build


@pytest.mark.parametrize(
    "wrong, message",
    [
        (_decoder(deconv1=nn.ConvTranspose2d(64, 32, 4, stride=2)), "kernel 4, stride 2 needs padding 1"),
        (_decoder(deconv2=nn.ConvTranspose2d(32, 1, 4, stride=2, padding=2)), "needs padding 1"),
        (_decoder(deconv1=nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1)), "kernel_size=3"),
        (_decoder(deconv1=nn.ConvTranspose2d(64, 32, 3, stride=1, padding=1)), "stride is 1"),
        (_decoder(deconv1=nn.ConvTranspose2d(64, 16, 4, 2, 1), deconv2=nn.ConvTranspose2d(16, 1, 4, 2, 1)), "64 -> 32"),
        (_decoder(deconv1=nn.Conv2d(64, 32, 4, stride=2, padding=1)), "nn.ConvTranspose2d, the transposed"),
        (_decoder(extra=(nn.Sigmoid(),)), "ends with nn.Sigmoid()"),
        (_decoder(extra=(nn.Tanh(),)), "*logits*"),
        (_decoder(unflatten=False), "nn.Unflatten(1, (64, 7, 7)) is missing"),
        (_decoder(swap_relu_unflatten=True), "in the table's order"),
        (_decoder(act=nn.LeakyReLU), "has nn.ReLU() there"),
        (_decoder(bias=False), "parameters instead of"),
        (_decoder(width=128), "table says [N x 256]"),
        (_decoder(extra=(nn.ConvTranspose2d(1, 1, 1),)), "comes after the logits"),
        (lambda latent_dim=20: [nn.Linear(latent_dim, 784)], "nn.Sequential"),
    ],
)
def test_conv_decoder_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError) as err:
        nb06.check_conv_decoder(wrong)
    assert message in str(err.value)


def test_conv_decoder_reports_the_first_wrong_layer_with_both_shapes():
    with pytest.raises(ExerciseCheckError) as err:
        nb06.check_conv_decoder(_decoder(deconv1=nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1)))
    assert "layer 5 (ConvTranspose2d(64, 32" in str(err.value)
    assert "gives [N x 32 x 13 x 13], the table says [N x 32 x 14 x 14]" in str(err.value)


def test_unflatten_to_the_wrong_layout_is_caught():
    def channels_last(latent_dim=20):
        layers = list(_decoder()(latent_dim))
        layers[4] = nn.Unflatten(1, (7, 7, 64))
        return nn.Sequential(*layers)

    with pytest.raises(ExerciseCheckError, match="channels first"):
        nb06.check_conv_decoder(channels_last)


def test_conv_decoder_wants_the_function_not_its_result():
    with pytest.raises(ExerciseCheckError, match="pass the function itself"):
        nb06.check_conv_decoder(_decoder()(20))


def test_conv_decoder_hidden_tests_catch_a_hard_coded_latent_size():
    fixed = _decoder()
    nb06.check_conv_decoder(lambda latent_dim=20: fixed(20))  # the visible check uses latent_dim=20
    with pytest.raises(ExerciseCheckError, match="instead of a fixed number"):
        _hidden().hidden_conv_decoder(lambda latent_dim=20: fixed(20))


def test_conv_decoder_hidden_tests_catch_a_hard_coded_batch_size():
    class View(nn.Module):
        def forward(self, x):
            return x.view(3, 64, 7, 7)  # the visible check's batch of 3

    def fixed_batch(latent_dim=20):
        layers = list(_decoder()(latent_dim))
        layers[4] = View()
        return nn.Sequential(*layers)

    nb06.check_conv_decoder(fixed_batch)
    with pytest.raises(ExerciseCheckError, match="keep N free"):
        _hidden().hidden_conv_decoder(fixed_batch)


def test_conv_decoder_hidden_tests_catch_a_frozen_layer():
    def frozen(latent_dim=20):
        model = _decoder()(latent_dim)
        model[0].requires_grad_(False)
        return model

    nb06.check_conv_decoder(frozen)
    with pytest.raises(ExerciseCheckError, match="no gradient reaches `0.weight`"):
        _hidden().hidden_conv_decoder(frozen)

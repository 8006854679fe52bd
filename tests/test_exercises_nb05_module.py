"""Notebook 05, exercise 3 (the whole VAE module): the check accepts the solution notebook's class and other correct
layouts, names each typical mistake, and the hidden test trains with the recipe and holds the target ELBO."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from _solutions import solutions as _solutions
from torch import nn

from grading import nb05 as g05
from vae_helpers.exercises import ExerciseCheckError, nb05


@pytest.fixture(scope="module")
def solution_vae() -> type:
    return _solutions("05_mlp_vae.ipynb")["VAE"]


class TwoHeads(nn.Module):
    """A correct module: two heads for mu and logvar, logits shaped like the images."""

    def __init__(self, latent_dim: int = 20, hidden: int = 400):
        super().__init__()
        self.hidden = nn.Linear(784, hidden)
        self.to_mu = nn.Linear(hidden, latent_dim)
        self.to_logvar = nn.Linear(hidden, latent_dim)
        self.from_z = nn.Linear(latent_dim, hidden)
        self.to_logits = nn.Linear(hidden, 784)

    def encode(self, x):
        h = F.relu(self.hidden(x.flatten(1)))
        return self.to_mu(h), self.to_logvar(h)

    def reparameterize(self, mu, logvar):
        return mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape)

    def decode(self, z):
        return self.to_logits(F.relu(self.from_z(z))).view(-1, 1, 28, 28)

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


class OneHead(TwoHeads):
    """Also correct: one linear layer of 2D outputs split in two, an nn.Sequential per network, logits [B x 784]."""

    def __init__(self, latent_dim: int = 20, hidden: int = 400):
        nn.Module.__init__(self)
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent_dim))
        self.dec = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, 784))

    def encode(self, x):
        return self.enc(x).chunk(2, dim=1)

    def decode(self, z):
        return self.dec(z)


def _with(**methods) -> type:
    return type("Wrong", (TwoHeads,), methods)


def _encode_std(self, x):
    mu, s = TwoHeads.encode(self, x)
    return mu, F.softplus(s)


def _forward_mean(self, x):
    mu, logvar = self.encode(x)
    return self.decode(mu), mu, logvar


def _unused_layer_init(self, latent_dim=20, hidden=400):
    TwoHeads.__init__(self, latent_dim, hidden)
    self.extra = nn.Linear(hidden, hidden)


WRONG = [
    ("eps times logvar", _with(reparameterize=lambda s, m, lv: m + lv * torch.randn_like(m)), "by logvar itself"),
    ("eps times variance", _with(reparameterize=lambda s, m, lv: m + lv.exp() * torch.randn_like(m)), "*variance*"),
    ("eps not scaled", _with(reparameterize=lambda s, m, lv: m + torch.randn_like(m)), "not scaled by sigma"),
    ("std from the encoder", _with(encode=_encode_std), "logvar is never negative"),
    ("sigmoid in decode", _with(decode=lambda s, z: torch.sigmoid(TwoHeads.decode(s, z))), "a sigmoid inside decode"),
    ("relu after the logits", _with(decode=lambda s, z: F.relu(TwoHeads.decode(s, z))), "no ReLU after the last"),
    ("no sampling in forward", _with(forward=_forward_mean), "forward decodes mu"),
    ("reparameterize returns mu", _with(reparameterize=lambda s, m, lv: m + 0 * lv), "reparameterize returns mu"),
    ("uniform eps", _with(reparameterize=lambda s, m, lv: m + (0.5 * lv).exp() * torch.rand_like(m)), "uniform"),
    (
        "one eps per batch",
        _with(reparameterize=lambda s, m, lv: m + (0.5 * lv).exp() * torch.randn(m.shape[1])),
        "every row of z gets the same eps",
    ),
    (
        "fixed eps",
        _with(
            reparameterize=lambda s, m, lv: (
                m + (0.5 * lv).exp() * torch.ones_like(m).normal_(generator=torch.Generator().manual_seed(0))
            )
        ),
        "same z every call",
    ),
    (
        "detached z",
        _with(reparameterize=lambda s, m, lv: (m + (0.5 * lv).exp() * torch.randn_like(m)).detach()),
        "not connected",
    ),
    (
        "no flatten",
        _with(encode=lambda s, x: (s.to_mu(F.relu(s.hidden(x))), s.to_logvar(F.relu(s.hidden(x))))),
        "flatten each image",
    ),
    (
        "one tensor from encode",
        _with(encode=lambda s, x: torch.cat(TwoHeads.encode(s, x), 1)),
        "return the pair (mu, logvar)",
    ),
    (
        "forward order",
        _with(forward=lambda s, x: tuple(reversed(TwoHeads.forward(s, x)))),
        "return (logits, mu, logvar)",
    ),
    ("unused layer", _with(__init__=_unused_layer_init), "no gradient to extra.weight"),
    ("mu as logvar", _with(encode=lambda s, x: (TwoHeads.encode(s, x)[0],) * 2), "the same tensor as mu and as logvar"),
]


def test_check_accepts_the_solution_and_other_correct_layouts(solution_vae, capsys):
    for cls in (solution_vae, TwoHeads, OneHead):
        nb05.check_vae_module(cls)
    assert capsys.readouterr().out.count("✓") == 3


@pytest.mark.parametrize("name, cls, message", WRONG, ids=[w[0] for w in WRONG])
def test_check_names_the_mistake(name, cls, message):
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        nb05.check_vae_module(cls)


def test_check_wants_the_class_and_points_to_a_stub():
    with pytest.raises(ExerciseCheckError, match="pass the class itself"):
        nb05.check_vae_module(TwoHeads())

    class Stub(nn.Module):
        def __init__(self, latent_dim=20, hidden=400):
            raise NotImplementedError()

    with pytest.raises(NotImplementedError, match="not implemented yet"):
        nb05.check_vae_module(Stub)


def test_course_model_trains_through_the_module_forward():
    """fit's loss_fn calls the module's forward: a forward that does not sample trains without noise."""
    torch.manual_seed(0)
    model = nb05.CourseModel(OneHead(latent_dim=3, hidden=8))
    assert model.latent_dim == 3 and model.decode(torch.zeros(2, 3)).shape == (2, 1, 28, 28)
    x = torch.rand(4, 1, 28, 28)
    torch.manual_seed(1)
    sampled = nb05.through_your_forward(model, x, torch.zeros(4), 1.0).recon
    model.module.reparameterize = lambda mu, logvar: mu
    torch.manual_seed(1)
    mean = nb05.through_your_forward(model, x, torch.zeros(4), 1.0).recon
    assert not torch.isclose(sampled, mean)


def test_recipe_targets_are_stated_for_both_modes(monkeypatch):
    monkeypatch.setenv("VAE_FAST", "0")
    assert nb05.build_recipe() == nb05.BuildRecipe(20_000, 3, -268.0)
    monkeypatch.setenv("VAE_FAST", "1")
    assert nb05.build_recipe() == nb05.BuildRecipe(6_000, 2, -310.0)


def test_hidden_test_trains_to_the_target_and_fails_a_wrong_module(solution_vae, fashion, monkeypatch, capsys):
    """In fast mode (a few seconds each): the solution reaches the fast target, a module that decodes mu in forward
    (it passes the interface checks of the hidden test only when they are skipped) stays below it."""
    monkeypatch.setenv("VAE_FAST", "1")
    g05.hidden_vae_module(solution_vae)
    assert "hidden tests: passed" in capsys.readouterr().out
    _, _, metrics = nb05.train_briefly(_with(forward=_forward_mean), fashion)
    assert metrics.elbo < nb05.build_recipe().target_elbo - 10
    monkeypatch.setattr(g05, "_check_module", lambda *args: 0)  # the training alone must fail it
    with pytest.raises(ExerciseCheckError, match=r"test ELBO is -\d+\.\d nats per image .* at least -310"):
        g05.hidden_vae_module(_with(forward=_forward_mean))

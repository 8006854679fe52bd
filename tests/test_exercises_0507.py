"""Notebooks 05 and 07: the checks and hidden tests accept the solution notebooks' code and name typical mistakes."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _solutions import solutions as _solutions
from sklearn.linear_model import LogisticRegression

from grading import nb05 as g05
from grading import nb07 as g07
from vae_helpers.exercises import ExerciseCheckError, nb05, nb07
from vae_helpers.losses import kl_per_dim


def test_notebook_05_solutions_pass(capsys):
    s = _solutions("05_mlp_vae.ipynb")
    nb05.check_vae_loss(s["vae_loss"])
    g05.hidden_vae_loss(s["vae_loss"])
    nb05.check_linear_probe(s["linear_probe"])
    g05.hidden_linear_probe(s["linear_probe"])
    assert capsys.readouterr().out.count("✓") == 4


def test_notebook_07_solutions_pass(capsys):
    s = _solutions("07_latent_dimension_study.ipynb")
    nb07.check_active_units(s["active_units"])
    g07.hidden_active_units(s["active_units"])
    nb07.check_kl_dims(s["dims_for_kl_fraction"])
    g07.hidden_kl_dims(s["dims_for_kl_fraction"])
    assert capsys.readouterr().out.count("✓") == 4


# ------------------------------------------------------------------------------------------------ 05: the loss
def _loss(recon_fn, kl_fn, combine=lambda r, k: r + k):
    def vae_loss(logits, x, mu, logvar):
        r, k = recon_fn(logits, x), kl_fn(mu, logvar)
        return combine(r, k), r, k

    return vae_loss


def _bce(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()


def _kl(mu, lv):
    return kl_per_dim(mu, lv).sum(1).mean()


WRONG_LOSS = [
    ("mean over pixels", _loss(lambda lg, x: F.binary_cross_entropy_with_logits(lg, x), _kl), "averaging the recon"),
    (
        "sum over batch",
        _loss(lambda lg, x: F.binary_cross_entropy_with_logits(lg, x, reduction="sum"), _kl),
        "summing over the batch",
    ),
    ("kl mean over dims", _loss(_bce, lambda m, lv: kl_per_dim(m, lv).mean()), "missing a sum over latent"),
    ("kl wrong sign", _loss(_bce, lambda m, lv: -_kl(m, lv)), "wrong sign"),
    ("elbo returned", _loss(_bce, _kl, lambda r, k: -(r + k)), "You return the ELBO"),
    ("minus kl", _loss(_bce, _kl, lambda r, k: r - k), "You subtract the KL"),
    ("ae loss", _loss(_bce, _kl, lambda r, k: r), "AE's loss"),
    ("detached recon", _loss(lambda lg, x: _bce(lg.detach(), x), _kl), "no gradient reaches `logits`"),
    ("detached kl", _loss(_bce, lambda m, lv: _kl(m.detach(), lv.detach())), "no gradient reaches `mu`"),
]


@pytest.mark.parametrize("name, fn, message", WRONG_LOSS, ids=[w[0] for w in WRONG_LOSS])
def test_vae_loss_check_teaches(name, fn, message):
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        nb05.check_vae_loss(fn)


def test_vae_loss_hidden_catches_a_hard_coded_answer():
    def hard_coded(logits, x, mu, logvar):
        r = _bce(logits, x) * 0 + nb05.KNOWN_RECON
        k = _kl(mu, logvar) * 0 + nb05.KNOWN_KL
        return r + k, r, k

    with pytest.raises(ExerciseCheckError):
        nb05.check_vae_loss(hard_coded)  # no gradient: caught already by the visible check
    with pytest.raises(ExerciseCheckError, match="another batch"):
        g05.hidden_vae_loss(lambda lg, x, m, lv: _loss(_bce, _kl)(lg, x, m, lv) if len(x) == 4 else (0 * lg.sum(),) * 3)


def test_not_implemented_points_to_the_cell():
    def stub(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError, match="not implemented yet"):
        nb05.check_vae_loss(stub)
    with pytest.raises(NotImplementedError, match="not implemented yet"):
        nb07.check_active_units(stub)


# ------------------------------------------------------------------------------------------------ 05: the probe
def _probe(fit_x, fit_y, score_x, score_y, scale=1.0, error=False, unscaled=False):
    def linear_probe(train_codes, train_labels, test_codes, test_labels):
        data = {"train": (train_codes, train_labels), "test": (test_codes, test_labels)}
        if unscaled:
            clf = LogisticRegression(max_iter=1000).fit(np.asarray(data[fit_x][0]), np.asarray(data[fit_y][1]))
            acc = clf.score(np.asarray(data[score_x][0]), np.asarray(data[score_y][1]))
        else:
            acc = g05.reference_probe(data[fit_x][0], data[fit_y][1], data[score_x][0], data[score_y][1])
        return scale * (1 - acc if error else acc)

    return linear_probe


WRONG_PROBE = [
    ("training accuracy", _probe("train", "train", "train", "train"), "*training* codes"),
    ("fitted on test", _probe("test", "test", "test", "test"), "fitted the classifier on the test codes"),
    ("percent", _probe("train", "train", "test", "test", scale=100), "not a percentage"),
    ("error rate", _probe("train", "train", "test", "test", error=True), "error rate"),
    ("constant", lambda *a: 0.5, "should be about"),
]


@pytest.mark.parametrize("name, fn, message", WRONG_PROBE, ids=[w[0] for w in WRONG_PROBE])
def test_linear_probe_check_teaches(name, fn, message):
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        nb05.check_linear_probe(fn)


def test_linear_probe_accepts_unscaled_and_tensor_results():
    no_scaler = _probe("train", "train", "test", "test", unscaled=True)  # within the tolerance
    nb05.check_linear_probe(no_scaler)
    g05.hidden_linear_probe(no_scaler)
    nb05.check_linear_probe(lambda *a: torch.tensor(g05.reference_probe(*a)))


def test_linear_probe_hidden_catches_a_hard_coded_answer():
    ref = g05.reference_probe(*nb05.probe_data(0))
    nb05.check_linear_probe(lambda *a: ref)
    with pytest.raises(ExerciseCheckError):
        g05.hidden_linear_probe(lambda *a: ref)


def test_probe_mistakes_are_distinct_from_the_answer():
    for args in ((0,), (7, 100, 500, 16, 5, 1.2), (8, 200, 600, 6, 4, 0.8)):
        data = nb05.probe_data(*args)
        ref = g05.reference_probe(*data)
        for value, _ in nb05._probe_mistakes(g05._accuracies(*data)):
            assert abs(value - ref) > nb05.PROBE_TOL + 0.01, (args, value, ref)


# ------------------------------------------------------------------------------------------------ 07
def _active(var_fn, count_fn=lambda v, t: int((v > t).sum())):
    def active_units(mu, threshold=0.01):
        v = var_fn(mu)
        return count_fn(v, threshold), v

    return active_units


WRONG_ACTIVE = [
    ("wrong axis", _active(lambda m: m.var(1)), "over the images (dim 0)"),
    ("std returned", _active(lambda m: m.std(0)), "standard deviations"),
    ("std threshold", _active(lambda m: m.var(0), lambda v, t: int((v.sqrt() > t).sum())), "standard deviation with"),
    ("inactive counted", _active(lambda m: m.var(0), lambda v, t: int((v <= t).sum())), "*inactive*"),
    ("hard-coded threshold", _active(lambda m: m.var(0), lambda v, t: int((v > 0.01).sum())), None),
    ("mean not variance", _active(lambda m: m.mean(0).abs()), "the variances are wrong"),
    ("count only", lambda mu, threshold=0.01: int((mu.var(0) > threshold).sum()), "return a tuple"),
]


@pytest.mark.parametrize("name, fn, message", WRONG_ACTIVE, ids=[w[0] for w in WRONG_ACTIVE])
def test_active_units_checks_teach(name, fn, message):
    if message is None:  # the visible check uses 0.01: only the hidden tests (other thresholds) catch it
        nb07.check_active_units(fn)
        with pytest.raises(ExerciseCheckError, match="Count the dimensions whose variance exceeds the threshold"):
            g07.hidden_active_units(fn)
        return
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        nb07.check_active_units(fn)


def test_active_units_accepts_the_biased_variance_where_it_does_not_matter():
    fn = _active(lambda m: m.var(0, unbiased=False))
    nb07.check_active_units(fn)
    g07.hidden_active_units(fn)


def test_active_units_fixed_means_are_what_the_docstring_says():
    var = nb07.posterior_means(nb07.FIXED_STDS).double().var(0)
    assert torch.allclose(var, torch.tensor(nb07.FIXED_STDS, dtype=torch.float64) ** 2, rtol=1e-5, atol=1e-9)
    assert int((var > 0.01).sum()) == 3 and int((var.sqrt() > 0.01).sum()) == 5


def _kl_dims(order=True, descending=True, plus=1):
    def dims_for_kl_fraction(kl, fraction=0.9):
        s = kl.sort(descending=descending).values if order else kl
        return int((s.cumsum(0) < fraction * s.sum()).sum()) + plus

    return dims_for_kl_fraction


def _in_place(kl, fraction=0.9):
    kl.data = kl.sort(descending=True).values
    return int((kl.cumsum(0) < fraction * kl.sum()).sum()) + 1


WRONG_KL_DIMS = [
    ("off by one", _kl_dims(plus=0), "off by one"),
    ("unsorted", _kl_dims(order=False), "original order"),
    ("ascending", _kl_dims(descending=False), "ascending"),
    ("fraction of dims", lambda kl, fraction=0.9: int(np.ceil(fraction * len(kl))), "*number* of dimensions"),
    ("in place", _in_place, "changed the KL tensor"),
    ("tensor of counts", lambda kl, fraction=0.9: kl > 0, "single number"),
]


@pytest.mark.parametrize("name, fn, message", WRONG_KL_DIMS, ids=[w[0] for w in WRONG_KL_DIMS])
def test_kl_dims_check_teaches(name, fn, message):
    with pytest.raises(ExerciseCheckError, match=re.escape(message)):
        nb07.check_kl_dims(fn)


def test_kl_dims_hidden_catches_a_hard_coded_answer():
    nb07.check_kl_dims(lambda kl, fraction=0.9: 3)
    with pytest.raises(ExerciseCheckError):
        g07.hidden_kl_dims(lambda kl, fraction=0.9: 3)


def test_kl_dims_mistakes_differ_from_the_answer_on_the_fixed_vector():
    kl = torch.tensor(nb07.FIXED_KL)
    values = [v for v, _ in nb07._kl_dims_mistakes(kl, 0.9)]
    assert g07.reference_dims_for_kl_fraction(kl, 0.9) == 3 and 3 not in values[:4]

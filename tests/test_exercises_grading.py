"""The visible checks compare with measured constants (no answer in the package); the constants are what the
teacher's reference solutions (``grading/``) give, and the hidden tests are found where nbgrader runs them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from grading import nb01 as g01
from grading import nb05 as g05
from grading import nb06 as g06
from grading import nb07 as g07
from vae_helpers.exercises import nb01, nb05, nb06, nb07, teacher_grading

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_nb01_constants_are_the_reference_answers():
    mean, std = g01.reference_empirical_gaussian(nb01.fixed_codes().double())
    assert torch.allclose(nb01.FIXED_CODES_GAUSSIAN[0].double(), mean, atol=1e-6)
    assert torch.allclose(nb01.FIXED_CODES_GAUSSIAN[1].double(), std, atol=1e-6)
    want = g01.reference_decode_samples(nb01.tiny_decoder(), *nb01.FIXED_CODES_GAUSSIAN, nb01.fixed_noise())
    assert torch.allclose(torch.tensor(nb01.FIXED_DECODED), want.flatten(), atol=1e-6)


def test_nb05_probe_constants_are_the_reference_accuracies():
    tr, ytr, te, yte = nb05.probe_data(0)
    measured = (g05.reference_probe(tr, ytr, te, yte), g05.reference_probe(tr, ytr, tr, ytr))
    measured += (g05.reference_probe(te, yte, te, yte),)
    assert nb05.FIXED_PROBE_ACCURACIES == pytest.approx(measured, abs=1e-9)


def test_nb06_layer_counts_are_the_reference_counts():
    for layer, counts in nb06.ENCODER_LAYER_COUNTS.items():
        assert counts == g06.reference_param_counts(*layer)
        c_in, _, c_out, size_out, k = layer
        assert counts[0] == sum(p.numel() for p in torch.nn.Conv2d(c_in, c_out, k).parameters())


def test_nb07_kl_dims_constant_is_the_reference_count():
    assert nb07.FIXED_KL_DIMS_FOR_90_PERCENT == g07.reference_dims_for_kl_fraction(torch.tensor(nb07.FIXED_KL), 0.9)


def test_teacher_grading_is_found_from_a_submission_folder_below_the_course(tmp_path, monkeypatch):
    """nbgrader runs a submission in course/autograded/STUDENT/ASSIGNMENT/: the grading/ copy above is found."""
    course = tmp_path / "course"
    shutil.copytree(REPO_ROOT / "grading", course / "grading", ignore=shutil.ignore_patterns("__pycache__"))
    (course / "grading" / "nb99.py").write_text("WHERE = 'course copy'\n")
    submission = course / "autograded" / "ada" / "01_x"
    submission.mkdir(parents=True)
    monkeypatch.chdir(submission)
    monkeypatch.setattr("sys.path", [p for p in os.sys.path if Path(p or ".").resolve() != REPO_ROOT])
    for name in [m for m in os.sys.modules if m == "grading" or m.startswith("grading.")]:
        monkeypatch.delitem(os.sys.modules, name)
    assert teacher_grading("nb99").WHERE == "course copy"


def test_teacher_grading_says_where_to_put_the_module(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", [p for p in os.sys.path if Path(p or ".").resolve() != REPO_ROOT])
    for name in [m for m in os.sys.modules if m == "grading" or m.startswith("grading.")]:
        monkeypatch.delitem(os.sys.modules, name)
    with pytest.raises(ModuleNotFoundError, match="copy the repository's `grading/` folder into the nbgrader course"):
        teacher_grading("nb01")

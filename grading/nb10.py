"""Hidden tests of notebook 10's exercises (the teacher's grading module; never shipped to students).

Called only from the hidden-test regions of ``notebooks/08_*.ipynb``, which nbgrader removes from the student
version and restores when it autogrades. They reuse the visible checks' helpers of
:mod:`vae_helpers.exercises.nb10` on other inputs and sizes, and test the mistakes a visible check could let through.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vae_helpers.exercises.nb10 import _check_edit, _check_vector, _ok, fixed_codes_and_labels

__all__ = ["hidden_attribute_vector", "hidden_edit"]


def hidden_attribute_vector(attribute_vector: Callable) -> None:
    """Hidden tests of exercise 1: other sizes (N=40, D=16; N=5, D=2), random codes, 0/1 and -1/+1 labels."""
    ex = "Exercise 1 (attribute_vector), hidden tests"
    codes, labels = fixed_codes_and_labels(40, 16, seed=31)
    _check_vector(ex, attribute_vector, codes, labels)
    codes, labels = fixed_codes_and_labels(5, 2, seed=32)
    _check_vector(ex, attribute_vector, codes, 2 * labels - 1)
    _ok(f"{ex}: passed.")


def hidden_edit(edit: Callable) -> None:
    """Hidden tests of exercise 2: other sizes (M=5, D=16, 7 alphas; M=1, D=2, 1 alpha)."""
    ex = "Exercise 2 (edit), hidden tests"
    codes, _ = fixed_codes_and_labels(5, 16, seed=41)
    v = torch.randn(16, generator=torch.Generator().manual_seed(42))
    _check_edit(ex, edit, codes, v, [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 3.0])
    codes, _ = fixed_codes_and_labels(3, 2, seed=43)
    _check_edit(ex, edit, codes[:1], torch.tensor([0.3, -2.0]), [2.5])
    _ok(f"{ex}: passed.")

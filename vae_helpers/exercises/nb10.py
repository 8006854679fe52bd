"""Checks of notebook 10's exercises: an attribute vector (mean code with the attribute minus mean code without),
and the edited codes ``z + alpha * v``. Everything is checked on small fixed tensors: no CelebA needed."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._common import _call, _fail, _match, _ok, _tensor, checks_a_function

__all__ = [
    "fixed_codes_and_labels",
    "check_attribute_vector",
    "check_edit",
]


def fixed_codes_and_labels(n: int = 8, d: int = 4, seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic codes ``[n x d]`` and 0/1 labels ``[n]`` with unequal groups (both non-empty)."""
    if seed is None:
        i = torch.arange(n * d, dtype=torch.float64).view(n, d)
        codes = 0.5 + torch.arange(d, dtype=torch.float64) + 2.0 * torch.sin(1.3 * i + 0.4)
        labels = (torch.arange(n) % 3 == 0).long()  # 3 of 8 have the attribute
    else:
        g = torch.Generator().manual_seed(seed)
        codes = 2 * torch.randn(n, d, generator=g, dtype=torch.float64) + torch.randn(
            d, generator=g, dtype=torch.float64
        )
        labels = (torch.rand(n, generator=g) < 0.3).long()
        labels[0], labels[1] = 1, 0
    return codes.float(), labels


# --------------------------------------------------------------------------------------------
# Exercise 1: the attribute vector
# --------------------------------------------------------------------------------------------
def _check_vector(ex: str, fn: Callable, codes: torch.Tensor, labels: torch.Tensor) -> None:
    n, d = codes.shape
    has = labels > 0
    c = codes.double()
    with_, without = c[has].mean(0), c[~has].mean(0)
    want = with_ - without
    out = _call(ex, fn, codes.clone(), labels.clone())
    if (
        isinstance(out, torch.Tensor)
        and out.dim() == 1
        and len(out) in (int(has.sum()), int((~has).sum()), n)
        and len(out) != d
    ):
        raise _fail(
            ex,
            f"the vector has shape ({len(out)},), one value per *face*: you averaged over the latent dimensions. "
            f"Average over the faces (dim=0) to get one value per latent dimension, shape ({d},).",
        )
    got = _tensor(ex, "the attribute vector", out, (d,))
    if torch.isnan(got).any():
        raise _fail(
            ex,
            "the vector contains NaN: one of your groups is empty (the mean of no codes). The labels here are "
            f"{sorted(set(labels.tolist()))}: select the faces *with* the attribute by `labels > 0` (or `== 1`) and "
            "those *without* by the rest (`labels <= 0`), which works for 0/1 and for CelebA's -1/+1 labels alike.",
        )
    lab = labels.double()
    _match(
        ex,
        got,
        want,
        "the attribute vector",
        [
            (
                -want,
                "It points the wrong way: you computed mean(without) - mean(with); the text asks for with minus without.",
            ),
            (want / want.norm(), "It has length 1: the text asks for the raw difference of the means, not normalised."),
            (c[has].sum(0) - c[~has].sum(0), "You subtracted *sums*: the groups have different sizes, use the means."),
            (with_ - c.mean(0), "You subtracted the mean of *all* codes: subtract the mean of the codes without it."),
            (with_, "This is the mean code of the faces with the attribute: subtract the mean of those without it."),
            (
                (lab[:, None] * c).mean(0),
                "You multiplied the codes by the labels: use the labels to *select* the faces.",
            ),
            (
                (lab[:, None] * c).mean(0) - ((1 - lab)[:, None] * c).mean(0),
                "You weighted the codes by the labels and averaged over all N faces: average each group over its own faces.",
            ),
        ],
    )


@checks_a_function
def check_attribute_vector(attribute_vector: Callable) -> None:
    """Exercise 1: ``attribute_vector(codes [N x D], labels [N]) -> v [D]``, mean code with the attribute minus mean
    code without, on 8 fixed codes with 0/1 labels (3 with) and the same codes with -1/+1 labels."""
    ex = "Exercise 1 (attribute_vector)"
    codes, labels = fixed_codes_and_labels()
    _check_vector(ex, attribute_vector, codes, labels)
    _check_vector(ex, attribute_vector, codes, 2 * labels - 1)
    _ok(f"{ex}: with minus without on 8 fixed codes, for 0/1 and for -1/+1 labels. Well done!")


# --------------------------------------------------------------------------------------------
# Exercise 2: the edits z + alpha * v
# --------------------------------------------------------------------------------------------
def _check_edit(ex: str, fn: Callable, z: torch.Tensor, v: torch.Tensor, alphas: list[float]) -> None:
    m, d = z.shape
    s = len(alphas)
    out = _call(ex, fn, z.clone(), v.clone(), list(alphas))
    a = torch.tensor(alphas, dtype=torch.float64)[None, :, None]  # [1 x S x 1]
    zz, vv = z.double()[:, None, :], v.double()[None, None, :]  # [M x 1 x D], [1 x 1 x D]
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (s, m, d) and s != m:
        raise _fail(ex, f"the result has shape {(s, m, d)}: the order is [faces x alphas x D], i.e. ({m}, {s}, {d}).")
    got = _tensor(ex, "the edited codes", out, (m, s, d))
    _match(
        ex,
        got,
        zz + a * vv,
        "the edited codes",
        [
            (a * zz + vv, "You applied alpha to z: the code stays, the *vector* is scaled, z + alpha * v."),
            (a * (zz + vv), "You scaled z + v by alpha: only v is scaled, z + alpha * v."),
            ((zz + vv).expand(m, s, d), "Every alpha gives the same code z + v: scale v by each alpha."),
            (zz - a * vv, "The sign is reversed: the edit adds alpha * v, z + alpha * v."),
            (zz + a * vv / v.double().norm(), "You normalised v: the text asks for the raw vector, z + alpha * v."),
            (zz.expand(m, s, d), "These are the unedited codes: add alpha * v."),
        ],
    )


@checks_a_function
def check_edit(edit: Callable) -> None:
    """Exercise 2: ``edit(z [M x D], v [D], alphas) -> [M x S x D]`` with row i, column j = ``z[i] + alphas[j] * v``;
    on 2 fixed codes, D=4, alphas (-1, 0, 0.5, 2)."""
    ex = "Exercise 2 (edit)"
    codes, _ = fixed_codes_and_labels()
    v = torch.tensor([1.5, -0.5, 2.0, 0.7])
    _check_edit(ex, edit, codes[:2], v, [-1.0, 0.0, 0.5, 2.0])
    _ok(f"{ex}: 2 fixed codes moved along a fixed vector by 4 strengths. Well done!")

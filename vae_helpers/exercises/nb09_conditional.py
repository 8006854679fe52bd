"""Check functions and support code for exercise 2 of notebook 09: the conditional VAE (2a, its conditioning) and
generating with it (2b, one class; 2c, from one class to another at a fixed z).

Each ``check_*`` takes the student's class or function, runs it on small fixed inputs against the course's
:class:`~vae_helpers.models.ConditionalVAE` with the same weights, and prints a success line or raises
:class:`ExerciseCheckError` naming the likely mistake (a label missing from one network, a soft label that is
not a mixture, ...). :func:`decode_soft_label` feeds the conditional decoder a *mixture* of two one-hot labels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..models import ConditionalVAE
from ._common import _TOL, _call, _fail, _ok, checks_a_function

__all__ = ["check_conditional_vae", "check_generate_class", "check_interpolate_classes", "decode_soft_label"]


# --------------------------------------------------------------------------------------------
# Exercise 2a: the conditioning of a conditional VAE
# --------------------------------------------------------------------------------------------
def _reference_pair(student_cls: type, **config: Any) -> tuple[ConditionalVAE, ConditionalVAE]:
    """The library's ConditionalVAE and the student's class with the same (seeded) weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        reference = ConditionalVAE(**config).eval()
    student = student_cls(**config).eval()
    student.load_state_dict(reference.state_dict())
    return reference, student


def _cvae_outputs(ex: str, model: ConditionalVAE, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> tuple:
    try:
        mu, logvar = _call(ex, model.encode, x, y)
        logits = _call(ex, model.decode, z, y)
    except RuntimeError as err:
        if "shape" in str(err) or "size" in str(err):
            raise _fail(
                ex,
                "a layer got an input of the wrong size. The encoder's first layer takes 784 + n_classes numbers "
                "per image (the flattened image, then the one-hot label); the decoder's first layer takes "
                f"D + n_classes (z, then the one-hot label). Labels are integers: turn them into one-hot rows "
                f"first. ({str(err).splitlines()[0]})",
            ) from None
        raise
    return mu, logvar, logits


@checks_a_function
def check_conditional_vae(cvae_cls: type) -> None:
    """Exercise 2a: ``ConditionalVAE.encode(x, y)`` and ``.decode(z, y)`` with the label in both networks.

    The student's class is loaded with the weights of the library's ConditionalVAE; on fixed inputs its
    mu, logvar and logits must equal the library's: encoder input [x flattened, one_hot(y)], decoder input
    [z, one_hot(y)], both in that order.
    """
    ex = "Exercise 2a (conditional VAE)"
    ref, stu = _reference_pair(cvae_cls, n_classes=10, hidden=(32,), latent_dim=4)
    x = torch.linspace(0, 30, 4 * 784).view(4, 1, 28, 28).sin().abs()
    y = torch.tensor([0, 3, 7, 9])
    z = torch.linspace(-1.5, 1.5, 16).view(4, 4)
    with torch.no_grad():
        mu, logvar, logits = _cvae_outputs(ex, stu, x, y, z)
        (rmu, rlogvar), rlogits = ref.encode(x, y), ref.decode(z, y)
        if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (4, 1, 28, 28):
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise _fail(ex, f"decode must return logits shaped like the images, [N x 1 x 28 x 28]; got {shape}.")
        if torch.allclose(mu, rlogvar, **_TOL) and torch.allclose(logvar, rmu, **_TOL):
            raise _fail(ex, "mu and logvar are swapped: self._split(stats) returns (mu, logvar) in that order.")
        mu_other = stu.encode(x, (y + 1) % 10)[0]
        logits_other = stu.decode(z, (y + 1) % 10)
        if torch.allclose(mu, mu_other, **_TOL):
            raise _fail(
                ex,
                "the encoder's output does not depend on the label: concatenate the one-hot label to the "
                "flattened image before self.encoder (q(z | x, y)).",
            )
        if torch.allclose(logits, logits_other, **_TOL):
            raise _fail(
                ex,
                "the decoder's output does not depend on the label: concatenate the one-hot label to z "
                "before self.decoder (p(x | z, y)).",
            )
        onehot = torch.eye(10)[y]
        swapped_enc = ref._split(ref.to_stats(ref.encoder(torch.cat([onehot, x.flatten(1)], 1))))[0]
        swapped_dec = ref.decoder(torch.cat([onehot, z], 1)).view(-1, 1, 28, 28)
        if torch.allclose(mu, swapped_enc, **_TOL):
            raise _fail(ex, "the encoder's input is [one_hot(y), x]: the layers were built for [x, one_hot(y)].")
        if torch.allclose(logits, swapped_dec, **_TOL):
            raise _fail(ex, "the decoder's input is [one_hot(y), z]: the layers were built for [z, one_hot(y)].")
        if not torch.allclose(mu, rmu, **_TOL) or not torch.allclose(logvar, rlogvar, **_TOL):
            raise _fail(
                ex,
                "encode(x, y) differs from q(z | x, y) = self._split(self.to_stats(self.encoder([x flattened, "
                "one_hot(y)]))) on fixed inputs.",
            )
        if not torch.allclose(logits, rlogits, **_TOL):
            raise _fail(
                ex,
                "decode(z, y) differs from self.decoder([z, one_hot(y)]) reshaped to [N x 1 x 28 x 28] on fixed "
                "inputs (return logits: no sigmoid here).",
            )
    _ok(f"{ex}: the label enters both the encoder and the decoder. Well done!")


# --------------------------------------------------------------------------------------------
# Exercise 2b and 2c: generating with a conditional VAE
# --------------------------------------------------------------------------------------------
def decode_soft_label(model: ConditionalVAE, z: torch.Tensor, y_soft: torch.Tensor) -> torch.Tensor:
    """Decode ``z`` ``[N x D]`` with a *soft* label ``y_soft`` ``[N x n_classes]`` (rows summing to 1):
    the conditional decoder's input is ``[z, y]`` concatenated, so a mixture of one-hots is just
    another input. Returns logits ``[N x C x H x W]``. A one-hot ``y_soft`` gives ``model.decode(z, y)``.
    """
    if not isinstance(model, ConditionalVAE):
        raise TypeError(f"decode_soft_label needs a ConditionalVAE, got {type(model).__name__}.")
    if y_soft.shape != (len(z), model.n_classes):
        raise ValueError(f"y_soft must be [N x {model.n_classes}] for z of {len(z)} rows, got {tuple(y_soft.shape)}.")
    z, y_soft = z.to(model.device), y_soft.to(model.device, torch.float32)
    return model.decoder(torch.cat([z, y_soft], 1)).view(-1, *model.image_shape)


def _tiny_cvae() -> ConditionalVAE:
    """A small ConditionalVAE with fixed random weights (the global RNG is left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        model = ConditionalVAE(n_classes=10, hidden=(32,), latent_dim=4)
    return model.eval()


@checks_a_function
def check_generate_class(generate_class: Callable[..., torch.Tensor]) -> None:
    """Exercise 2b: ``generate_class(model, label, n, generator) -> [n x C x H x W]`` pixel means.

    Expected: z ~ N(0, I) drawn as ``torch.randn(n, model.latent_dim, generator=generator)`` and
    decoded with label ``label`` for every row, sigmoid applied (``model.sample(n, y=..., generator=...)``
    does exactly this).
    """
    ex = "Exercise 2b (generate_class)"
    model = _tiny_cvae()
    label, n = 3, 5
    images = _call(ex, generate_class, model, label, n, generator=torch.Generator().manual_seed(11))
    if not isinstance(images, torch.Tensor) or tuple(images.shape) != (n, *model.image_shape):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise _fail(ex, f"return a tensor of shape [n x C x H x W] = {(n, *model.image_shape)}, got {shape}.")
    images = images.detach().cpu().float()
    z = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(11))
    with torch.no_grad():
        expected = torch.sigmoid(model.decode(z, torch.full((n,), label)))
        logits = model.decode(z, torch.full((n,), label))
        wrong_label = {c: torch.sigmoid(model.decode(z, torch.full((n,), c))) for c in range(10) if c != label}
    if images.min() < 0 or images.max() > 1:
        if torch.allclose(images, logits, **_TOL):
            raise _fail(ex, "you return the decoder's logits: apply torch.sigmoid to get pixel means in [0, 1].")
        raise _fail(ex, "pixel means must lie in [0, 1]; apply torch.sigmoid to the decoder's logits.")
    if torch.allclose(images, expected, **_TOL):
        _ok(f"{ex}: samples decoded from the prior with the requested label. Well done!")
        return
    for c, other in wrong_label.items():
        if torch.allclose(images, other, **_TOL):
            raise _fail(
                ex,
                f"your images were decoded with label {c}, not the requested {label}: pass "
                f"y = torch.full((n,), label) to the decoder.",
            )
    raise _fail(
        ex,
        "the images do not match z ~ N(0, I) drawn with the given generator and decoded with the label. "
        "Draw z = torch.randn(n, model.latent_dim, generator=generator) (use the generator, draw n x D, "
        "nothing else first) and decode it with y = torch.full((n,), label); model.sample(n, y=..., "
        "generator=generator) does both.",
    )


@checks_a_function
def check_interpolate_classes(interpolate_classes: Callable[..., torch.Tensor]) -> None:
    """Exercise 2c: ``interpolate_classes(model, z, class_a, class_b, steps) -> [steps x C x H x W]``.

    Expected: one fixed ``z`` ``[D]``; soft labels (1 - t) * onehot(a) + t * onehot(b) for t in
    ``torch.linspace(0, 1, steps)``, decoded with :func:`decode_soft_label`, sigmoid applied.
    """
    ex = "Exercise 2c (interpolate_classes)"
    model = _tiny_cvae()
    z = torch.linspace(-1.0, 1.5, model.latent_dim)
    a, b, steps = 2, 7, 6
    images = _call(ex, interpolate_classes, model, z, a, b, steps)
    if not isinstance(images, torch.Tensor) or tuple(images.shape) != (steps, *model.image_shape):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise _fail(ex, f"return a tensor of shape [steps x C x H x W] = {(steps, *model.image_shape)}, got {shape}.")
    images = images.detach().cpu().float()
    eye = torch.eye(model.n_classes)
    zz = z.reshape(1, -1).repeat(steps, 1)

    def decode(t: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.sigmoid(decode_soft_label(model, zz, (1 - t)[:, None] * eye[a] + t[:, None] * eye[b]))

    t = torch.linspace(0, 1, steps)
    expected = decode(t)
    if torch.allclose(images, expected, **_TOL):
        _ok(f"{ex}: z held fixed, label moved from class {a} to class {b} through soft labels. Well done!")
        return
    with torch.no_grad():
        end_a = torch.sigmoid(model.decode(z.reshape(1, -1), torch.tensor([a])))[0]
    mistakes = [
        (
            decode(1 - t),
            f"your path runs from class_b to class_a: row 0 must be class_a ({a}), the last row class_b ({b}).",
        ),
        (
            decode(torch.arange(steps) / steps),
            "the last row must be exactly class_b: use t = torch.linspace(0, 1, steps), which includes both ends.",
        ),
        (decode(torch.arange(1, steps + 1) / (steps + 1)), "include both end points: t = torch.linspace(0, 1, steps)."),
        (torch.logit(expected.clamp(1e-6, 1 - 1e-6)), "apply torch.sigmoid to the decoder's logits."),
    ]
    for candidate, message in mistakes:
        if torch.allclose(images, candidate, rtol=1e-3, atol=1e-3):
            raise _fail(ex, message)
    if not torch.allclose(images[0], end_a, **_TOL):
        raise _fail(
            ex,
            f"the first image should be z decoded with the one-hot label of class_a ({a}); hold z fixed "
            "(the same z for every row) and change only the label.",
        )
    raise _fail(
        ex,
        "the intermediate images do not match a straight line between the two one-hot labels with z held "
        "fixed: y_t = (1 - t) * one_hot(class_a) + t * one_hot(class_b), decoded with "
        "decode_soft_label(model, z repeated [steps x D], y_t).",
    )

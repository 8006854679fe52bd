"""Checks of notebook 05's exercise 3: the whole VAE module written from scratch (its interface checked here) and
the recipe that trains it briefly, shared by the notebook and the grader. Re-exported by :mod:`.nb05`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .. import config, losses
from ..data import ImageDataset
from ..evaluation import Metrics, evaluate
from ..losses import LossTerms
from ..models import BaseVAE, MLPVAEConfig
from ..training import FitResult, TrainConfig, fit
from ._common import _call, _fail, _ok, checks_a_function

__all__ = ["check_vae_module", "BuildRecipe", "build_recipe", "CourseModel", "through_your_forward", "train_briefly"]


# --------------------------------------------------------------------------------------------
# Exercise 3: the whole VAE module, trained briefly
# --------------------------------------------------------------------------------------------
#: Pixels per Fashion-MNIST image, and the image shape the course's models use.
PIXELS = 784
IMAGE_SHAPE = (1, 28, 28)


@dataclass(frozen=True)
class BuildRecipe:
    """How exercise 3 trains the students' VAE (the notebook's cell and the grader use the same recipe).

    Attributes:
        train_images: the first training images of Fashion-MNIST (a seeded, class-mixed subset).
        epochs: passes over them with :func:`vae_helpers.training.fit` (batch 128, Adam 1e-3, beta 1).
        target_elbo: the test ELBO (nats per image, one z sample per image) a correct 784-400-20 VAE reaches with
            this recipe and seed, with a margin. Measured on a CPU (1 thread) with two correct layouts (two heads;
            one head of 2D outputs split in two), seeds 0 to 4 (a student's layers draw other initial weights
            than the reference's, like another seed): -261.7 to -264.6, mean -263.1, standard deviation 1.1, so
            the target -268 is 4.4 standard deviations below the mean. Wrong modules (seeds 0 and 1): eps scaled
            by logvar -474 to -478, a sigmoid in decode -530 to -531, no sampling in forward -496 to -500, uniform
            eps -325 to -327, a softplus "logvar" -279; eps scaled by the variance -268.0 to -268.5 (borderline:
            the interface checks catch it) and a VAE without ReLUs -266.1 to -266.3 (a weaker model that passes).
            Fast mode (6,000 images, 2 epochs) trains too briefly to separate the small mistakes: correct -294.4
            to -297.0 (target -310); eps scaled by logvar -328 to -331, no sampling -327 to -330 (the variance
            -300 to -303, softplus -303 and no ReLUs -292 pass there).
        seed: seeds the model's initial weights and the batch order.
    """

    train_images: int
    epochs: int
    target_elbo: float
    seed: int = 0


def build_recipe() -> BuildRecipe:
    """Exercise 3's recipe at full size, or the fast mode's smaller one (``VAE_FAST=1``)."""
    return config.pick(full=BuildRecipe(20_000, 3, -268.0), fast=BuildRecipe(6_000, 2, -310.0))


class CourseModel(BaseVAE):
    """A VAE written as a plain ``nn.Module`` (``encode``, ``reparameterize``, ``decode``, ``forward``) as a course
    model, so that :func:`~vae_helpers.training.fit` and :func:`~vae_helpers.evaluation.evaluate` take it.

    ``encode`` and ``decode`` call the module's; ``decode``'s logits ``[N x 784]`` are reshaped to the image shape
    ``[N x 1 x 28 x 28]``. The module's parameters are this model's (``self.module``).
    """

    Config = MLPVAEConfig

    def __init__(self, module: nn.Module) -> None:
        with torch.no_grad():
            mu, _ = module.encode(torch.zeros(2, *IMAGE_SHAPE))
        super().__init__(latent_dim=int(mu.shape[-1]))
        self.module = module

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.module.encode(x)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.module.decode(z).reshape(-1, *self.image_shape)


def through_your_forward(model: CourseModel, x: torch.Tensor, y: torch.Tensor, beta: float) -> LossTerms:
    """``fit``'s ``loss_fn`` for exercise 3: the negative ELBO of a batch ``x`` ``[B x 1 x 28 x 28]`` computed from
    the module's own ``forward`` (so training samples z with *its* reparameterization), scored with the course's loss."""
    logits, mu, logvar = model.module(x)
    return losses.vae_loss(logits.reshape(x.shape), x, mu, logvar, beta)


def train_briefly(
    vae_cls: type, data: ImageDataset, recipe: BuildRecipe | None = None, device: str = "cpu", **kwargs: Any
) -> tuple[CourseModel, FitResult, Metrics]:
    """Build ``vae_cls(latent_dim=20, **kwargs)`` with the recipe's seed, train it with ``fit`` on the recipe's first
    training images (validation: ``data.val``), and evaluate it on ``data.test``.

    Returns ``(model, fit_result, test_metrics)``: the trained :class:`CourseModel`, the
    :class:`~vae_helpers.training.FitResult` and the :class:`~vae_helpers.evaluation.Metrics` (``.elbo`` in nats
    per image). On a CPU: at full size about 20 s with 1 thread (6 s per epoch).
    """
    recipe = recipe or build_recipe()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        module = vae_cls(latent_dim=20, **kwargs)
    model = CourseModel(module)
    settings = TrainConfig(epochs=recipe.epochs, seed=recipe.seed, progress=False)
    run = fit(model, data.subset(train=recipe.train_images), settings, device=device, loss_fn=through_your_forward)
    return model, run, evaluate(model, data.test)


def _build(ex: str, vae_cls: type, latent_dim: int, hidden: int) -> nn.Module:
    if isinstance(vae_cls, nn.Module):
        raise _fail(
            ex, "pass the class itself, not an instance of it: check_vae_module(VAE), not check_vae_module(VAE())."
        )
    try:
        module = _call(ex, vae_cls, latent_dim=latent_dim, hidden=hidden)
    except TypeError as err:
        raise _fail(
            ex,
            f"`VAE(latent_dim={latent_dim}, hidden={hidden})` failed ({err}): keep the signature "
            "`__init__(self, latent_dim=20, hidden=400)` and call `super().__init__()` first.",
        ) from None
    if not isinstance(module, nn.Module):
        raise _fail(ex, f"VAE(...) should be an nn.Module (class VAE(nn.Module)), got {type(module).__name__}.")
    missing = [
        name for name in ("encode", "reparameterize", "decode", "forward") if not callable(getattr(module, name, None))
    ]
    if missing:
        raise _fail(ex, f"the module has no method {', '.join(missing)}: write all four, with the signatures given.")
    if not list(module.parameters()):
        raise _fail(ex, "the module has no parameters: create its nn.Linear layers in __init__ (self.name = ...).")
    return module


def _images(batch: int, seed: int) -> torch.Tensor:
    """``batch`` fixed images ``[batch x 1 x 28 x 28]`` in [0, 1]."""
    return torch.rand(batch, *IMAGE_SHAPE, generator=torch.Generator().manual_seed(seed))


def _encode(ex: str, module: nn.Module, x: torch.Tensor, latent_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """encode(x) checked; a logvar that is never negative is named when there are enough numbers to tell
    (at least 1,000: a linear head's outputs on different images take both signs)."""
    batch = len(x)
    try:
        out = _call(ex, module.encode, x)
    except RuntimeError as err:
        if "shapes cannot be multiplied" in str(err):
            raise _fail(
                ex,
                f"encode(x) fails on images [{batch} x 1 x 28 x 28]: {err}. A linear layer takes rows of 784 "
                "numbers: flatten each image first (x.flatten(1) gives [N x 784]).",
            ) from None
        raise
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (batch, 2 * latent_dim):
        raise _fail(
            ex,
            f"encode returns one tensor [{batch} x {2 * latent_dim}]: return the pair (mu, logvar), each "
            f"[{batch} x {latent_dim}] (split the {2 * latent_dim} outputs in two, e.g. with .chunk(2, dim=1)).",
        )
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise _fail(ex, f"encode should return a pair (mu, logvar), got {type(out).__name__}.")
    mu, logvar = out
    for what, value in (("mu", mu), ("logvar", logvar)):
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != (batch, latent_dim):
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise _fail(
                ex,
                f"encode's {what} should be [{batch} x {latent_dim}] for {batch} images and latent_dim="
                f"{latent_dim}, got {shape}.",
            )
    if torch.equal(mu, logvar):
        raise _fail(ex, "encode returns the same tensor as mu and as logvar: give each its own outputs.")
    if logvar.numel() >= 1000 and bool((logvar >= 0).all()):
        raise _fail(
            ex,
            "encode's logvar is never negative: is it a standard deviation or a variance (softplus, exp, "
            "ReLU)? logvar = log(sigma^2) is any real number (negative for sigma < 1): the linear layer's output "
            "as it is, with no activation.",
        )
    return mu, logvar


#: The fixed ``(mu, logvar)`` columns on which the reparameterization is checked: their standard deviations
#: exp(0.5 * logvar) differ by more than 25% from |logvar| (logvar used as sigma), exp(logvar) (the variance) and 1.
REPARAM_MU = (0.5, -1.0, 2.0, 0.0)
REPARAM_LOGVAR = (-2.0, 1.5, 0.8, -1.2)


def _check_reparameterize(ex: str, module: nn.Module, rows: int = 4000) -> None:
    mu0 = torch.tensor(REPARAM_MU).repeat(rows, 1)
    logvar0 = torch.tensor(REPARAM_LOGVAR).repeat(rows, 1)
    mu, logvar = mu0.clone().requires_grad_(True), logvar0.clone().requires_grad_(True)
    z = _call(ex, module.reparameterize, mu, logvar)
    if not isinstance(z, torch.Tensor) or tuple(z.shape) != tuple(mu.shape):
        shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise _fail(
            ex, f"reparameterize(mu, logvar) with mu, logvar [{rows} x 4] should return z [{rows} x 4], got {shape}."
        )
    if not z.requires_grad:
        raise _fail(
            ex,
            "reparameterize's z is not connected to mu and logvar (no .detach(), .item(), numpy or no_grad): "
            "the trick exists so that gradients reach the encoder through z.",
        )
    noise = (z - mu).detach()
    if bool((noise == 0).all()):
        raise _fail(
            ex,
            "reparameterize returns mu: it must *sample*, z = mu + sigma * eps with eps ~ N(0, I), or the "
            "decoder never sees the spread of q(z|x) and the KL only shrinks mu.",
        )
    again = _call(ex, module.reparameterize, mu0, logvar0)
    if torch.equal(again.detach(), z.detach()):
        raise _fail(ex, "reparameterize returns the same z every call: draw a new eps each call (torch.randn_like).")
    if torch.allclose(noise, noise[:1].expand_as(noise)):
        raise _fail(ex, "every row of z gets the same eps: draw one eps per image and dimension, shaped like mu.")
    sigma = torch.exp(0.5 * logvar0[0])
    eps = noise / sigma
    if bool((eps >= 0).all()) and bool((eps < 1).all()):
        raise _fail(ex, "eps is uniform on [0, 1) (torch.rand_like): draw it from N(0, 1) with torch.randn_like.")
    spread = noise.std(0)
    if not torch.allclose(spread, sigma, rtol=0.06):
        mistakes = [
            (
                logvar0[0].abs(),
                "You multiply eps by logvar itself: sigma = exp(0.5 * logvar), since logvar = log(sigma^2).",
            ),
            (torch.exp(logvar0[0]), "You multiply eps by exp(logvar), the *variance*: sigma = exp(0.5 * logvar)."),
            (torch.ones(4), "eps is not scaled by sigma: z = mu + sigma * eps with sigma = exp(0.5 * logvar)."),
        ]
        hint = next((m for value, m in mistakes if torch.allclose(spread, value, rtol=0.06)), "")
        raise _fail(
            ex,
            f"the spread of z around mu is {[round(v, 3) for v in spread.tolist()]} for logvar = "
            f"{list(REPARAM_LOGVAR)}, but sigma = exp(0.5 * logvar) = {[round(v, 3) for v in sigma.tolist()]}. "
            + (hint or "z = mu + sigma * eps, with sigma = exp(0.5 * logvar) and eps ~ N(0, I)."),
        )
    if eps.mean(0).abs().max() > 0.1:
        raise _fail(ex, "z is not centred on mu: z = mu + sigma * eps, with eps of mean 0.")
    z.sum().backward()
    if mu.grad is None or logvar.grad is None:
        raise _fail(ex, f"no gradient reaches {'mu' if mu.grad is None else 'logvar'} through z: compute z from it.")
    if not torch.allclose(mu.grad, torch.ones_like(mu.grad)) or not torch.allclose(
        logvar.grad, 0.5 * noise, rtol=1e-4, atol=1e-5
    ):
        raise _fail(
            ex,
            "the gradients of z are not those of z = mu + exp(0.5 * logvar) * eps (dz/dmu = 1, "
            "dz/dlogvar = 0.5 * sigma * eps): is eps computed from mu or logvar, or clamped?",
        )


def _check_decode(ex: str, module: nn.Module, batch: int, latent_dim: int) -> None:
    z = torch.randn(batch, latent_dim, generator=torch.Generator().manual_seed(1))
    try:
        logits = _call(ex, module.decode, z)
    except RuntimeError as err:
        raise _fail(ex, f"decode(z) fails on z [{batch} x {latent_dim}]: {err}.") from None
    shapes = ((batch, PIXELS), (batch, *IMAGE_SHAPE))
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) not in shapes:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise _fail(
            ex,
            f"decode(z) with z [{batch} x {latent_dim}] should return logits [{batch} x 784] or "
            f"[{batch} x 1 x 28 x 28], got {shape}.",
        )
    if bool((logits >= 0).all()) and bool((logits <= 1).all()):
        raise _fail(
            ex,
            "decode returns numbers in [0, 1]: a sigmoid inside decode? Return the *logits* (the last linear "
            "layer's output as it is): the loss (BCE with logits) applies the sigmoid itself, so a second one "
            "squeezes every pixel probability into [0.5, 0.73].",
        )
    if bool((logits >= 0).all()):
        raise _fail(
            ex, "decode's logits are never negative: no ReLU after the last layer (logits < 0 mean dark pixels)."
        )


def _check_forward(ex: str, module: nn.Module, x: torch.Tensor, latent_dim: int) -> None:
    batch = len(x)
    module.train()
    torch.manual_seed(2)
    out = _call(ex, module.forward, x)
    if not isinstance(out, (tuple, list)) or len(out) != 3 or not all(isinstance(v, torch.Tensor) for v in out):
        raise _fail(ex, "forward(x) should return three tensors (logits, mu, logvar).")
    logits, mu, logvar = out
    if logits.shape[-1] == latent_dim and any(tuple(v.shape[1:]) in ((PIXELS,), IMAGE_SHAPE) for v in (mu, logvar)):
        raise _fail(ex, "forward returns (mu, logvar, logits) or another order: return (logits, mu, logvar).")
    if tuple(logits.shape) not in ((batch, PIXELS), (batch, *IMAGE_SHAPE)):
        raise _fail(
            ex, f"forward's logits should be [{batch} x 784] or [{batch} x 1 x 28 x 28], got {tuple(logits.shape)}."
        )
    with torch.no_grad():
        mu_e, logvar_e = module.encode(x)
        from_mean = module.decode(mu_e).reshape(logits.shape)
    if not (torch.allclose(mu, mu_e, atol=1e-6) and torch.allclose(logvar, logvar_e, atol=1e-6)):
        raise _fail(ex, "forward's mu and logvar differ from encode(x): return the encoder's (mu, logvar).")
    if torch.allclose(logits.detach(), from_mean, atol=1e-6):
        raise _fail(
            ex,
            "forward decodes mu: at training time z must be *sampled*, z = self.reparameterize(mu, logvar). "
            "Without sampling the decoder never sees the spread of q(z|x), the KL only pulls mu to 0 and logvar to "
            "0, and the ELBO, which is measured with sampled z, stays poor.",
        )
    terms = losses.vae_loss(logits.reshape(x.shape), x, mu, logvar)
    module.zero_grad()
    terms.loss.backward()
    idle = [name for name, p in module.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    if idle:
        raise _fail(
            ex,
            f"the loss of forward's output sends no gradient to {', '.join(idle)}: use every layer in encode or "
            "decode, and keep z connected (no .detach(), no torch.no_grad() in forward).",
        )


def _check_module(ex: str, vae_cls: type, latent_dim: int, hidden: int, batch: int) -> int:
    """Check ``vae_cls(latent_dim, hidden)``'s four methods on ``batch`` fixed images; return its parameter count."""
    torch.manual_seed(0)
    module = _build(ex, vae_cls, latent_dim, hidden)
    x = _images(max(batch, 64), seed=latent_dim)  # 64 images: a linear logvar head has some negative outputs
    _encode(ex, module, x, latent_dim)
    _encode(ex, module, x[:batch], latent_dim)
    _check_reparameterize(ex, module)
    _check_decode(ex, module, batch, latent_dim)
    _check_decode(ex, module, 64, latent_dim)
    _check_forward(ex, module, x[:batch], latent_dim)
    return sum(p.numel() for p in module.parameters())


@checks_a_function
def check_vae_module(vae_cls: type) -> None:
    """Exercise 3: ``VAE(latent_dim=20, hidden=400)``, an ``nn.Module`` with ``encode(x) -> (mu, logvar)``
    ``[B x D]`` each for images ``x`` ``[B x 1 x 28 x 28]``, ``reparameterize(mu, logvar) -> z`` ``[B x D]``,
    ``decode(z) -> logits`` ``[B x 784]`` (or ``[B x 1 x 28 x 28]``) and ``forward(x) -> (logits, mu, logvar)``
    with z sampled. Checked with D=20 and D=3 on fixed images; the training is the hidden test's."""
    ex = "Exercise 3 (VAE)"
    n = _check_module(ex, vae_cls, 20, 400, 8)
    _check_module(ex, vae_cls, 3, 32, 2)
    _ok(
        f"{ex}: encode, reparameterize (z = mu + sigma * eps, gradients to mu and logvar), decode (logits) and "
        f"forward (z sampled) have the right shapes; {n:,} parameters at D=20. Now train it (next cell)."
    )

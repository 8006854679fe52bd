"""Shared machinery of the exercise checks: the error type, the fixed batch and its known values,
and the helpers that call a student's function and name the typical mistake that matches its result."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
import torch.nn.functional as F

from ..losses import LossTerms, kl_per_dim
from ..models import BaseVAE
from ..objective import forward_pass


class ExerciseCheckError(AssertionError):
    """A check failed; the message says what is probably wrong and how to fix it."""


# --------------------------------------------------------------------------------------------
# Fixed inputs and their known results
# --------------------------------------------------------------------------------------------
def fixed_batch() -> dict[str, torch.Tensor]:
    """The deterministic inputs every loss check uses (no random numbers, so the known values below
    hold on every machine): N=4 images of 1x2x3 pixels, D=3 latent dimensions.

    Returns:
        ``logits`` ``[4 x 1 x 2 x 3]``, ``x`` ``[4 x 1 x 2 x 3]`` in [0, 1], ``mu`` ``[4 x 3]``,
        ``logvar`` ``[4 x 3]`` (all float32).
    """
    i = torch.arange(24, dtype=torch.float64)
    logits = (2.0 * torch.sin(1.3 * i)).view(4, 1, 2, 3)
    x = (0.5 + 0.5 * torch.cos(0.7 * i)).view(4, 1, 2, 3)
    mu = torch.linspace(-1.5, 2.0, 12, dtype=torch.float64).view(4, 3)
    logvar = torch.linspace(1.0, -2.0, 12, dtype=torch.float64).view(4, 3)
    return {k: v.float() for k, v in {"logits": logits, "x": x, "mu": mu, "logvar": logvar}.items()}


#: Bernoulli reconstruction NLL of :func:`fixed_batch`, summed over the 6 pixels, mean over the 4 images.
KNOWN_RECON = 5.1956186
#: KL(q || N(0, I)) of :func:`fixed_batch`, summed over the 3 dimensions, mean over the 4 images.
KNOWN_KL = 2.5229394
#: Per-dimension KL of :func:`fixed_batch`, averaged over the batch: ``[3]``.
KNOWN_KL_PER_DIM = (0.7704836, 0.7961217, 0.9563342)
#: Gaussian NLL (sigma = 0.5, with its normalising constant) of :func:`fixed_batch` per image ``[4]``.
KNOWN_GAUSSIAN_NLL_SIGMA_HALF = (2.5921314, 4.7968268, 2.7061706, 4.6279473)

_TOL = dict(rtol=1e-4, atol=1e-4)


def _fail(exercise: str, message: str) -> ExerciseCheckError:
    return ExerciseCheckError(f"\n✗ {exercise}: {message}")


CheckFn = TypeVar("CheckFn", bound=Callable[..., Any])


def checks_a_function(check: CheckFn) -> CheckFn:
    """Decorate every visible ``check_*``: the student's function (or class) must be passed itself.

    ``check_x(my_fn(...))`` hands the check a tensor or a number, which would fail deep inside the check with
    "'Tensor' object is not callable"; this names the mistake instead. A module (``nn.Sequential``, a model) is
    callable but is what such a function or class returns, never the function itself: it is named the same way.
    """
    parameter = next(iter(inspect.signature(check).parameters))
    what = "class" if parameter.endswith("_cls") else "function"
    example = "ConditionalVAE" if what == "class" else parameter

    @functools.wraps(check)
    def checked(submitted: Any, *args: Any, **kwargs: Any) -> Any:
        if not callable(submitted) or isinstance(submitted, torch.nn.Module):
            result = "an instance of it" if what == "class" else "its result"
            raise _fail(
                check.__name__,
                f"pass the {what} itself, not {result} (here a {type(submitted).__name__}): "
                f"{check.__name__}({example}), not {check.__name__}({example}(...)).",
            )
        return check(submitted, *args, **kwargs)

    return checked  # type: ignore[return-value]


def _call(exercise: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call the student's function; turn its NotImplementedError into a clear pointer."""
    name = getattr(fn, "__name__", "your function")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as err:
        raise NotImplementedError(
            f"{exercise}: `{name}` is not implemented yet. Replace `# YOUR CODE HERE` and the "
            f"`raise NotImplementedError(...)` line in the exercise cell above with your code, run that cell, "
            f"then this one. ({err})"
        ) from None


def _scalar(exercise: str, what: str, value: Any) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise _fail(
                exercise,
                f"{what} should be a single number (nats per image, averaged over the batch), "
                f"but it has shape {tuple(value.shape)}. Did you forget to sum over pixels or "
                f"latent dimensions, or to average over the batch?",
            )
        return float(value.detach())
    if isinstance(value, (int, float)):
        return float(value)
    raise _fail(exercise, f"{what} should be a tensor or a number, got {type(value).__name__}.")


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_TOL["rtol"], abs_tol=_TOL["atol"])


def _diagnose(exercise: str, got: float, expected: float, what: str, mistakes: Sequence[tuple[float, str]]) -> None:
    """Raise with the message of the first typical mistake whose value equals ``got``; else a generic one."""
    if _close(got, expected):
        return
    for value, message in mistakes:
        if _close(got, value):
            raise _fail(exercise, f"{what} is {got:.4f} but should be {expected:.4f}. {message}")
    raise _fail(
        exercise,
        f"{what} is {got:.4f} but should be {expected:.4f} on the fixed test batch "
        f"(`vae_helpers.exercises.fixed_batch()`). Evaluate your function on that batch "
        f"step by step and compare each term with the formulas in the text above.",
    )


def _ok(message: str) -> None:
    print(f"✓ {message}")


def _tensor(exercise: str, what: str, value: Any, shape: tuple[int, ...]) -> torch.Tensor:
    """The student's result as a float tensor of the given shape, or a message saying what is wrong."""
    if not isinstance(value, torch.Tensor):
        raise _fail(exercise, f"{what} should be a torch tensor of shape {shape}, got {type(value).__name__}.")
    if tuple(value.shape) != tuple(shape):
        raise _fail(exercise, f"{what} should have shape {tuple(shape)}, got {tuple(value.shape)}.")
    return value.detach().double()


def _match(
    exercise: str, got: torch.Tensor, expected: torch.Tensor, what: str, mistakes: Sequence[tuple[torch.Tensor, str]]
) -> None:
    """Raise with the message of the first typical mistake that ``got`` equals; else a generic message."""
    if torch.allclose(got, expected.double(), rtol=1e-4, atol=1e-5):
        return
    for value, message in mistakes:
        if torch.allclose(got, value.double(), rtol=1e-4, atol=1e-5):
            raise _fail(exercise, f"{what} is wrong. {message}")
    raise _fail(
        exercise,
        f"{what} is {[round(v, 4) for v in got.flatten()[:4].tolist()]}..., expected "
        f"{[round(v, 4) for v in expected.double().flatten()[:4].tolist()]}... on the fixed inputs. "
        "Compare each step with the formula in the text above.",
    )


def _grad_of(
    exercise: str, fn: Callable, what: str, args: Sequence[torch.Tensor], wrt: Sequence[int], **kw: Any
) -> list:
    """Gradients of ``fn(*args).sum()`` with respect to ``args[i]`` for i in ``wrt``; a missing one is named."""
    inputs = [a.clone().requires_grad_(i in wrt) if isinstance(a, torch.Tensor) else a for i, a in enumerate(args)]
    out = _call(exercise, fn, *inputs, **kw)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        raise _fail(
            exercise,
            f"{what} must stay a tensor connected to its inputs (no .detach(), .item(), numpy or torch.no_grad()), "
            "or no gradient reaches the network that produced them.",
        )
    out.sum().backward()
    grads = [inputs[i].grad for i in wrt]
    return grads


# --------------------------------------------------------------------------------------------
# Shared by the loss exercises of notebooks 05 and 08 (and their hidden tests in grading/)
# --------------------------------------------------------------------------------------------
def _kl_variants(mu: torch.Tensor, logvar: torch.Tensor) -> list[tuple[float, str]]:
    """KL values of typical mistakes, each with its teaching message."""
    kl = kl_per_dim(mu, logvar)
    return [
        (
            float(kl.mean()),
            "You might be missing a sum over latent dimensions: the KL of a diagonal Gaussian is the "
            "*sum* of the per-dimension KLs (then average over the batch).",
        ),
        (
            float(kl.sum()),
            "You might be summing over the batch as well: sum over latent dimensions, then *average* "
            "over the images, so that the loss is in nats per image.",
        ),
        (
            float(-kl.sum(1).mean()),
            "Your KL has the wrong sign: KL(q || p) >= 0, and the loss *adds* beta * KL. "
            "Check the sign of -0.5 * sum(1 + logvar - mu^2 - exp(logvar)).",
        ),
        (
            float((0.5 * (mu.pow(2) + logvar.exp() - logvar)).sum(1).mean()),
            "You might be missing the '- 1' inside the KL: 0.5 * (mu^2 + sigma^2 - log sigma^2 - 1).",
        ),
        (
            float((0.5 * (mu.pow(2) + logvar.exp().pow(2) - 2 * logvar - 1)).sum(1).mean()),
            "You might be treating `logvar` as log(sigma): it is log(sigma^2), so sigma^2 = exp(logvar).",
        ),
        (
            2 * float(kl.sum(1).mean()),
            "You might be missing the factor 0.5 in the KL.",
        ),
        (
            float((0.5 * (mu.pow(2) + logvar - logvar.exp() - 1)).sum(1).mean()),
            "You might have swapped logvar and exp(logvar) in the KL: 0.5 * (mu^2 + exp(logvar) - logvar - 1).",
        ),
    ]


def _recon_variants(logits: torch.Tensor, x: torch.Tensor) -> list[tuple[float, str]]:
    per_pixel = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    p = torch.sigmoid(logits)
    return [
        (
            float(per_pixel.mean()),
            "You might be averaging the reconstruction term over pixels (the default "
            "reduction='mean'): sum over pixels, then average over images (reduction='none', "
            ".flatten(1).sum(1).mean()), or the KL will dominate and the model will blur.",
        ),
        (
            float(per_pixel.sum()),
            "You might be summing over the batch: sum over pixels, then *average* over the images.",
        ),
        (
            float(F.binary_cross_entropy(torch.sigmoid(p), x, reduction="none").flatten(1).sum(1).mean()),
            "You might be applying the sigmoid twice: the decoder returns logits, so use "
            "binary_cross_entropy_with_logits(logits, x) (or binary_cross_entropy(sigmoid(logits), x)).",
        ),
        (
            float(F.binary_cross_entropy_with_logits(x, p, reduction="none").flatten(1).sum(1).mean()),
            "You might have swapped the arguments: binary_cross_entropy_with_logits(logits, target=x).",
        ),
        (
            float(-per_pixel.flatten(1).sum(1).mean()),
            "Your reconstruction term has the wrong sign: it is the negative log-likelihood -log p(x|z) >= 0.",
        ),
        (
            float((p - x).pow(2).flatten(1).sum(1).mean()),
            "You are using the squared error: the decoder is Bernoulli, "
            "so the reconstruction term is the binary cross-entropy.",
        ),
    ]


def _check_loss_gradients(ex: str, loss_fn: Callable, b: dict[str, torch.Tensor], beta: float) -> None:
    """The loss must be differentiable in logits, mu and logvar, with the known gradients:
    d loss / d logits = (sigmoid(logits) - x) / N, d loss / d mu = beta * mu / N,
    d loss / d logvar = beta * (exp(logvar) - 1) / (2N). A detached term gives a zero (or missing) gradient."""
    n = len(b["x"])
    inputs = {k: b[k].clone().requires_grad_(True) for k in ("logits", "mu", "logvar")}
    loss_t = _call(ex, loss_fn, inputs["logits"], b["x"], inputs["mu"], inputs["logvar"], beta=beta)[0]
    if not isinstance(loss_t, torch.Tensor) or not loss_t.requires_grad:
        raise _fail(
            ex,
            "the loss must stay a tensor connected to mu and logvar (no .item(), .detach() or numpy), "
            "or backward() cannot train the encoder.",
        )
    loss_t.backward()
    expected = {
        "logits": (torch.sigmoid(b["logits"]) - b["x"]) / n,
        "mu": beta * b["mu"] / n,
        "logvar": beta * (b["logvar"].exp() - 1) / (2 * n),
    }
    term = {"logits": "reconstruction term", "mu": "KL", "logvar": "KL"}
    for name, want in expected.items():
        grad = inputs[name].grad
        if grad is None or grad.abs().max() == 0:
            raise _fail(
                ex,
                f"no gradient reaches `{name}`: the {term[name]} is computed from a detached tensor "
                f"(.detach(), .item(), .data, numpy or torch.no_grad()), so backward() cannot train the "
                f"{'decoder' if name == 'logits' else 'encoder'}. Compute it with torch operations on the "
                "tensors you were given.",
            )
        if not torch.allclose(grad, want, **_TOL):
            raise _fail(
                ex,
                f"the gradient of the loss with respect to `{name}` is wrong (expected "
                + {
                    "logits": "(sigmoid(logits) - x) / N: sum over pixels, average over images",
                    "mu": "beta * mu / N: the KL is the only term depending on mu; check that it uses the mu "
                    "you were given and that the batch average divides by N",
                    "logvar": "beta * (exp(logvar) - 1) / (2N)",
                }[name]
                + ").",
            )


def _random_batch(seed: int, n: int = 7, d: int = 5, shape: tuple[int, ...] = (1, 4, 4)) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "logits": 3 * torch.randn(n, *shape, generator=g),
        "x": torch.rand(n, *shape, generator=g),
        "mu": torch.randn(n, d, generator=g),
        "logvar": torch.randn(n, d, generator=g).clamp(-3, 2),
    }


def make_loss_fn(loss: Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> Callable[..., LossTerms]:
    """Wrap ``loss(logits, x, mu, logvar, beta) -> (loss, recon, kl)`` as ``fit(..., loss_fn=...)``.

    Per batch: encode, one reparameterised sample, decode (``model.likelihood_logits``: teacher-forced
    for an :class:`AutoregressiveVAE`; with the label for a conditional model), then the student's loss.
    The per-dimension KL in the result is the library's (for monitoring only).
    """

    def loss_fn(model: BaseVAE, x: torch.Tensor, y: torch.Tensor, beta: float) -> LossTerms:
        mu, logvar, logits = forward_pass(model, x, y)  # teacher-forced for an autoregressive decoder
        total, recon, kl = loss(logits, x, mu, logvar, beta)
        return LossTerms(total, recon, kl, kl_per_dim(mu, logvar).mean(0).detach())

    return loss_fn

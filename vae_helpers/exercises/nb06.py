"""Checks of notebook 06's exercises: parameter counts of a conv layer against a dense layer, a conv encoder built
to a given shape table (checked by tracing the output shape of every layer and counting parameters), and the conv
decoder built to its shape table (traced the same way, then loaded with the weights of ``ConvVAE``'s decoder)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..models import ConvVAE
from ._common import _call, _fail, _ok, checks_a_function

__all__ = [
    "check_param_counts",
    "check_conv_encoder",
    "encoder_shape_table",
    "check_conv_decoder",
    "decoder_shape_table",
]


# --------------------------------------------------------------------------------------------
# Exercise 1: parameters of a conv layer and of a dense layer with the same input and output shapes
# --------------------------------------------------------------------------------------------
#: ``(c_in, size_in, c_out, size_out, k): (conv_params, dense_params)`` of the conv encoder's two layers.
ENCODER_LAYER_COUNTS = {(1, 28, 32, 14, 4): (544, 4923520), (32, 14, 64, 7, 4): (32832, 19672128)}


def _check_counts(ex: str, fn: Callable, layer: tuple[int, int, int, int, int], want: tuple[int, int]) -> None:
    """Check ``fn(*layer)`` (``layer`` = c_in, size_in, c_out, size_out, k) against ``want`` = (conv, dense)."""
    c_in, size_in, c_out, size_out, k = layer
    out = _call(ex, fn, c_in, size_in, c_out, size_out, k)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise _fail(ex, "return a tuple (conv_params, dense_params) of two integers.")
    try:
        conv, dense = (int(round(float(v))) for v in out)
    except (TypeError, ValueError):
        raise _fail(ex, "return two numbers (int), e.g. `return conv, dense`.") from None
    want_conv, want_dense = want
    case = f"({c_in}x{size_in}x{size_in} -> {c_out}x{size_out}x{size_out}, {k}x{k} filters)"
    if (conv, dense) == (want_dense, want_conv) and want_conv != want_dense:
        raise _fail(ex, f"{case}: you returned (dense, conv): the order is (conv_params, dense_params).")
    if conv != want_conv:
        w = c_out * c_in * k * k
        mistakes = {
            w: "you forgot the biases: one per output channel (nn.Conv2d has bias=True by default).",
            c_out * c_in * k + c_out: "a k x k filter has k*k weights per input channel, not k.",
            c_out * k * k + c_out: "each filter spans *all* input channels: c_out * c_in * k * k weights.",
            w + c_out * size_out**2: "the conv layer has one bias per output *channel*, not per output position.",
            (w + c_out) * size_out**2: "you counted a separate filter for every output position: a convolution "
            "*shares* its filter over all positions, so the count does not depend on the image size.",
        }
        hint = mistakes.get(conv, "count the weights of c_out filters of size c_in x k x k, plus one bias each.")
        raise _fail(ex, f"{case}: conv_params is {conv:,} but should be {want_conv:,}. {hint}")
    if dense != want_dense:
        n_in, n_out = c_in * size_in**2, c_out * size_out**2
        mistakes = {
            n_in * n_out: "you forgot the dense layer's biases: one per output unit.",
            c_in * c_out + c_out: "a dense layer connects every input *number* (c_in*size_in*size_in of them) "
            "with every output number, not channels with channels.",
            n_in * n_out + n_in: "the biases belong to the output units (c_out*size_out*size_out), not the inputs.",
            c_in * size_in * c_out * size_out + c_out * size_out: "the image is size x size: square the sizes.",
        }
        hint = mistakes.get(dense, "nn.Linear(n_in, n_out) has n_in * n_out weights and n_out biases.")
        raise _fail(ex, f"{case}: dense_params is {dense:,} but should be {want_dense:,}. {hint}")


@checks_a_function
def check_param_counts(param_counts: Callable) -> None:
    """Exercise 1: ``param_counts(c_in, size_in, c_out, size_out, k) -> (conv_params, dense_params)``, biases
    included, for the two layers of the conv encoder (1x28x28 -> 32x14x14 -> 64x7x7, 4x4 filters)."""
    ex = "Exercise 1 (param_counts)"
    for layer, want in ENCODER_LAYER_COUNTS.items():
        _check_counts(ex, param_counts, layer, want)
    _ok(f"{ex}: both layers of the conv encoder (4x4 filters), as a convolution and as a dense layer. Well done!")


# --------------------------------------------------------------------------------------------
# Exercise 2: a conv encoder to a given shape table
# --------------------------------------------------------------------------------------------
def encoder_shape_table(out_features: int) -> list[tuple[str, tuple[int, ...]]]:
    """The layers and output shapes (without the batch dimension) that exercise 2 asks for."""
    return [
        ("Conv2d(1, 32, 4, stride 2, padding 1)", (32, 14, 14)),
        ("ReLU", (32, 14, 14)),
        ("Conv2d(32, 64, 4, stride 2, padding 1)", (64, 7, 7)),
        ("ReLU", (64, 7, 7)),
        ("Flatten", (64 * 7 * 7,)),
        (f"Linear(3136, {out_features})", (out_features,)),
    ]


def _encoder_params(out_features: int) -> int:
    return (32 * 16 + 32) + (64 * 32 * 16 + 64) + (3136 * out_features + out_features)


def _conv_hint(conv: nn.Conv2d, got: tuple[int, ...], want: tuple[int, ...]) -> str:
    k, s = conv.kernel_size[0], conv.stride[0]
    p = conv.padding[0] if isinstance(conv.padding, tuple) else conv.padding
    if got[0] != want[0]:
        return f"it has {got[0]} output channels instead of {want[0]}: the channel widths are 32, then 64."
    if s == 1:
        return "its stride is 1, so the image keeps its size: stride=2 halves it."
    if p == 0:
        return "it has no padding, so a 4x4 filter with stride 2 loses a pixel (28 -> 13): use padding=1."
    return f"kernel_size={k}, stride={s}, padding={p} give {got[1]}x{got[2]}; the table uses 4x4 filters, stride 2, padding 1."


def _check_encoder(ex: str, fn: Callable, out_features: int, batch: int) -> None:
    torch.manual_seed(0)
    model = _call(ex, fn, out_features)
    if not isinstance(model, nn.Sequential):
        raise _fail(ex, f"return an nn.Sequential of the layers in the table, got {type(model).__name__}.")
    table = encoder_shape_table(out_features)
    layers = list(model)
    convs = [m for m in layers if isinstance(m, nn.Conv2d)]
    if len(convs) != 2:
        raise _fail(ex, f"the table has 2 nn.Conv2d layers, your encoder has {len(convs)}.")
    if sum(isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.SiLU, nn.GELU, nn.Tanh)) for m in layers) < 2:
        raise _fail(
            ex,
            "an activation (nn.ReLU()) is missing after a convolution: without it two convolutions and the "
            "linear layer collapse into a single linear map.",
        )
    x = torch.zeros(batch, 1, 28, 28)
    conv_index = 0
    with torch.no_grad():
        for i, layer in enumerate(layers):
            try:
                y = layer(x)
            except RuntimeError as err:
                if isinstance(layer, nn.Linear) and x.dim() > 2:
                    raise _fail(
                        ex,
                        f"layer {i} ({type(layer).__name__}) receives a [{' x '.join(map(str, x.shape))}] feature "
                        "map: nn.Flatten() is missing before the linear layer.",
                    ) from None
                raise _fail(ex, f"layer {i} ({layer}) cannot take the output of the layer before it: {err}") from None
            if isinstance(layer, nn.Conv2d):
                want = table[2 * conv_index][1]
                got = tuple(y.shape[1:])
                if got != want:
                    raise _fail(
                        ex,
                        f"convolution {conv_index + 1} outputs {got}, the table says {want}: "
                        + _conv_hint(layer, got, want),
                    )
                conv_index += 1
            x = y
    if tuple(x.shape) != (batch, out_features):
        raise _fail(
            ex,
            f"the encoder maps [{batch} x 1 x 28 x 28] to {tuple(x.shape)}, the table ends at ({batch}, {out_features}): "
            "flatten the 64x7x7 feature map and finish with nn.Linear(64 * 7 * 7, out_features).",
        )
    for conv in convs:
        if conv.kernel_size != (4, 4):
            raise _fail(
                ex, f"{conv} has kernel_size={conv.kernel_size[0]}: the table uses 4x4 filters (kernel_size=4)."
            )
    n = sum(p.numel() for p in model.parameters())
    want_n = _encoder_params(out_features)
    if n != want_n:
        raise _fail(
            ex,
            f"the shapes are right but the encoder has {n:,} parameters instead of {want_n:,}: "
            "keep the biases (bias=True, the default) and add no extra layers.",
        )


@checks_a_function
def check_conv_encoder(conv_encoder: Callable) -> None:
    """Exercise 2: ``conv_encoder(out_features) -> nn.Sequential`` mapping ``[N x 1 x 28 x 28]`` to
    ``[N x out_features]`` through the layers of :func:`encoder_shape_table`; checked with out_features=40."""
    ex = "Exercise 2 (conv_encoder)"
    _check_encoder(ex, conv_encoder, 40, 3)
    _ok(f"{ex}: every layer's output shape and the {_encoder_params(40):,} parameters match the table. Well done!")


# --------------------------------------------------------------------------------------------
# Exercise 3: a conv decoder to a given shape table (the decoder of ConvVAE)
# --------------------------------------------------------------------------------------------
def decoder_shape_table(latent_dim: int) -> list[tuple[str, tuple[int, ...]]]:
    """The layers and output shapes (without the batch dimension) that exercise 3 asks for, in order: the
    position in the list is the layer's index in the ``nn.Sequential`` (as in ``ConvVAE``'s decoder)."""
    return [
        (f"Linear({latent_dim}, 256)", (256,)),
        ("ReLU", (256,)),
        ("Linear(256, 3136)", (64 * 7 * 7,)),
        ("ReLU", (64 * 7 * 7,)),
        ("Unflatten to 64 x 7 x 7", (64, 7, 7)),
        ("ConvTranspose2d(64, 32, 4, stride 2, padding 1)", (32, 14, 14)),
        ("ReLU", (32, 14, 14)),
        ("ConvTranspose2d(32, 1, 4, stride 2, padding 1)", (1, 28, 28)),
    ]


def _decoder_params(latent_dim: int) -> int:
    return (latent_dim * 256 + 256) + (256 * 3136 + 3136) + (64 * 32 * 16 + 32) + (32 * 1 * 16 + 1)


def _shape(shape: tuple[int, ...]) -> str:
    """``(32, 14, 14)`` as ``[N x 32 x 14 x 14]``."""
    return "[" + " x ".join(["N", *map(str, shape)]) + "]"


def fixed_codes(batch: int, latent_dim: int) -> torch.Tensor:
    """The codes the decoder checks feed in: ``[batch x latent_dim]``, deterministic, in [-2, 2]."""
    return 2.0 * torch.sin(0.7 * torch.arange(batch * latent_dim, dtype=torch.float32) + 0.3).view(batch, latent_dim)


def _deconv_hint(layer: nn.ConvTranspose2d, got: tuple[int, ...], want: tuple[int, ...], size_in: int) -> str:
    k, s, p = layer.kernel_size[0], layer.stride[0], layer.padding[0]
    if got[0] != want[0]:
        return f"it has {got[0]} output channels instead of {want[0]}: the channels go 64 -> 32 -> 1."
    if s == 1:
        return (
            "its stride is 1, so it grows the image by only kernel_size - 1 - 2 * padding pixels: "
            "a ConvTranspose2d with stride=2 doubles the size."
        )
    if (k, s) == (4, 2):
        return (
            f"a ConvTranspose2d with kernel 4, stride 2 needs padding 1 (yours has padding={p}): it gives "
            f"(size - 1) * stride - 2 * padding + kernel_size = ({size_in} - 1) * 2 - 2 * {p} + 4 = {got[1]}, "
            f"and padding=1 gives exactly twice the size ({want[1]})."
        )
    return (
        f"kernel_size={k}, stride={s}, padding={p} give ({size_in} - 1) * {s} - 2 * {p} + {k} = {got[1]}; "
        "the table uses 4x4 filters (kernel_size=4), stride 2 and padding 1, which double the size."
    )


def _trace_hint(layer: nn.Module, name: str, got: tuple[int, ...], want: tuple[int, ...], x: torch.Tensor) -> str:
    """Why ``layer`` (the table's ``name``) gives ``got`` instead of ``want`` for the input ``x``."""
    if isinstance(layer, nn.ConvTranspose2d) and x.dim() == 4:
        return _deconv_hint(layer, got, want, x.shape[-1])
    if isinstance(layer, nn.Conv2d):
        return (
            "an nn.Conv2d shrinks an image (stride 2 halves it); a decoder grows it back with nn.ConvTranspose2d, "
            "the transposed convolution."
        )
    if name.startswith("Unflatten") and len(got) == 3:
        return "unflatten the 3136 numbers into 64 channels of 7 x 7, channels first: nn.Unflatten(1, (64, 7, 7))."
    if name.startswith("Linear") and isinstance(layer, nn.Linear):
        return f"nn.Linear(..., out_features) sets the output size: the table's layer here is {name}."
    return "build the layers in the table's order (a missing, an extra or a swapped layer shifts the layers after it)."


def _check_decoder(ex: str, fn: Callable, latent_dim: int, batch: int) -> nn.Sequential:
    """Trace ``fn(latent_dim)`` layer by layer against :func:`decoder_shape_table`, count its parameters, load the
    weights of ``ConvVAE(latent_dim=latent_dim).decoder`` into it and compare the logits; returns the decoder."""
    torch.manual_seed(0)
    model = _call(ex, fn, latent_dim)
    if not isinstance(model, nn.Sequential):
        raise _fail(ex, f"return an nn.Sequential of the layers in the table, got {type(model).__name__}.")
    layers = list(model)
    if layers and isinstance(layers[-1], (nn.Sigmoid, nn.Tanh, nn.Softmax, nn.Softmax2d)):
        raise _fail(
            ex,
            f"your decoder ends with nn.{type(layers[-1]).__name__}(): the table ends with the last ConvTranspose2d, "
            "whose outputs are *logits*, any real number. The loss F.binary_cross_entropy_with_logits(logits, x) "
            "applies the sigmoid itself, in a numerically stable form; a sigmoid here would be applied twice, and "
            "saturated pixels would get no gradient. ConvVAE.reconstruct applies torch.sigmoid where it needs pixel "
            "means.",
        )
    table = decoder_shape_table(latent_dim)
    first = layers[0] if layers else None
    if isinstance(first, nn.Linear) and first.in_features != latent_dim:
        raise _fail(
            ex,
            f"the first layer takes {first.in_features} numbers but a code z has latent_dim = {latent_dim}: "
            "use the argument (nn.Linear(latent_dim, 256)) instead of a fixed number.",
        )
    x = fixed_codes(batch, latent_dim)
    with torch.no_grad():
        for i, layer in enumerate(layers):
            try:
                y = layer(x)
            except RuntimeError as err:
                if isinstance(layer, (nn.ConvTranspose2d, nn.Conv2d)) and x.dim() == 2:
                    raise _fail(
                        ex,
                        f"layer {i} ({layer}) receives {_shape(tuple(x.shape[1:]))}, a flat vector per image: "
                        "nn.Unflatten(1, (64, 7, 7)) is missing before the first transposed convolution, which "
                        "needs [N x channels x height x width].",
                    ) from None
                raise _fail(
                    ex,
                    f"layer {i} ({layer}) cannot take {_shape(tuple(x.shape[1:]))}, the output of the layer before "
                    f"it: {str(err).splitlines()[0]} (is a size or the batch size fixed somewhere? keep N free, "
                    "e.g. nn.Unflatten(1, ...), not a view with a fixed batch size).",
                ) from None
            got = tuple(y.shape[1:])
            if y.shape[0] != batch:
                raise _fail(ex, f"layer {i} ({layer}) changes the batch size from {batch} to {y.shape[0]}.")
            if i >= len(table):
                raise _fail(
                    ex,
                    f"your decoder has {len(layers)} layers, the table {len(table)}: layer {i} ({layer}) comes after "
                    "the logits [N x 1 x 28 x 28]; end with the last ConvTranspose2d.",
                )
            name, want = table[i]
            if got != want:
                raise _fail(
                    ex,
                    f"layer {i} ({layer}) gives {_shape(got)}, the table says {_shape(want)} ({name}): "
                    + _trace_hint(layer, name, got, want, x),
                )
            x = y
    if len(layers) < len(table):
        raise _fail(
            ex,
            f"your decoder has {len(layers)} layers, the table {len(table)}: {table[len(layers)][0]} "
            "and the layers after it are missing.",
        )
    n = sum(p.numel() for p in model.parameters())
    want_n = _decoder_params(latent_dim)
    if n != want_n:
        raise _fail(
            ex,
            f"the shapes are right but the decoder has {n:,} parameters instead of {want_n:,}: keep the biases "
            "(bias=True, the default) and add no extra layers.",
        )
    reference = ConvVAE(latent_dim=latent_dim).decoder
    for i, (mine, ref) in enumerate(zip(layers, reference)):
        if isinstance(ref, nn.ReLU) and not isinstance(mine, nn.ReLU):
            raise _fail(
                ex,
                f"layer {i} is {mine}, the table (and ConvVAE's decoder) has nn.ReLU() there: with another "
                "activation the course model's weights would compute something else.",
            )
    try:
        model.load_state_dict(reference.state_dict())
    except RuntimeError as err:
        detail = " ".join(str(err).split())
        raise _fail(
            ex,
            f"ConvVAE(latent_dim={latent_dim}).decoder's weights do not load into your decoder: {detail[:300]} "
            "A state dict names each weight by its layer's index (`5.weight` is the first ConvTranspose2d's): "
            "build exactly the table's layers, in its order, with its sizes.",
        ) from None
    z = fixed_codes(batch, latent_dim)
    with torch.no_grad():
        mine, want_logits = model(z), reference(z)
    if mine.shape != want_logits.shape or not torch.allclose(mine, want_logits, atol=1e-5, rtol=1e-5):
        gap = (mine - want_logits).abs().max() if mine.shape == want_logits.shape else float("nan")
        raise _fail(
            ex,
            f"with ConvVAE's decoder weights loaded, your decoder's logits differ from ConvVAE's by up to {gap:.3g}: "
            "it must compute the same function (same layers, same order, Unflatten to 64 channels of 7 x 7).",
        )
    return model


@checks_a_function
def check_conv_decoder(conv_decoder: Callable) -> None:
    """Exercise 3: ``conv_decoder(latent_dim) -> nn.Sequential`` mapping codes ``[N x latent_dim]`` to logits
    ``[N x 1 x 28 x 28]`` through the layers of :func:`decoder_shape_table`; checked with latent_dim=20: every
    layer's output shape, the parameter count, no final sigmoid, and ``ConvVAE``'s decoder weights load and give
    the same logits."""
    ex = "Exercise 3 (conv_decoder)"
    _check_decoder(ex, conv_decoder, 20, 3)
    _ok(
        f"{ex}: every layer's output shape and the {_decoder_params(20):,} parameters match the table, and with "
        "ConvVAE's decoder weights loaded your decoder gives the same logits. Well done!"
    )

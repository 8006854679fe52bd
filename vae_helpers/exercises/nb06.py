"""Checks of notebook 06's exercises: parameter counts of a conv layer against a dense layer, and a conv encoder
built to a given shape table (checked by tracing the output shape of every layer and counting parameters)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ._common import _call, _fail, _ok, checks_a_function

__all__ = [
    "check_param_counts",
    "check_conv_encoder",
    "encoder_shape_table",
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

"""The machine's own limit for a model: its matrix products (Linear, Conv, ConvTranspose) timed at the model's own
shapes with ``torch.utils.benchmark``. A benchmark prints its wall time as a multiple of this limit, which is what
travels between machines; absolute times name their machine (:mod:`benchmarks.machine`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class MatmulLayer:
    """One Linear/Conv/ConvTranspose layer as the model runs it: its input shape and whether autograd needs
    the gradient of its input (not for the first layer, whose input is the data)."""

    module: nn.Module
    input_shape: tuple[int, ...]
    input_grad: bool

    def forward_flops(self) -> int:
        m, n = self.module, self.input_shape[0]
        if isinstance(m, nn.Linear):
            return 2 * math.prod(self.input_shape[:-1]) * m.in_features * m.out_features
        kernel = math.prod(m.kernel_size) * m.in_channels * m.out_channels // m.groups
        if isinstance(m, nn.ConvTranspose2d):  # each input pixel scatters a kernel-sized patch
            return 2 * n * math.prod(self.input_shape[2:]) * kernel
        out = F.conv2d(
            torch.empty(1, *self.input_shape[1:], device="meta"), m.weight.to("meta"), None, m.stride, m.padding
        )
        return 2 * n * math.prod(out.shape[2:]) * kernel

    def flops(self, backward: bool) -> int:
        """Forward: 2 N in out (Linear); with ``backward``, plus the weight gradient (same count) and,
        where autograd needs it, the input gradient (same count): 3x forward, 2x for the first layer."""
        return self.forward_flops() * ((3 if self.input_grad else 2) if backward else 1)


def matmul_layers(model: nn.Module, x: torch.Tensor, train: bool = True) -> list[MatmulLayer]:
    """The matrix-product layers of one forward pass of ``model`` on ``x`` as the loss runs it (a training
    step's if ``train``): the encoder and ``likelihood_logits`` (one teacher-forced pass for an autoregressive
    decoder, not its pixel-by-pixel sampling), with labels for a conditional model."""
    found: list[MatmulLayer] = []
    kinds = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)

    def hook(module: nn.Module, args: tuple) -> None:
        found.append(MatmulLayer(module, tuple(args[0].shape), bool(args[0].requires_grad)))

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    y = torch.zeros(len(x), dtype=torch.long, device=x.device) if getattr(model, "conditional", False) else None
    try:
        with torch.set_grad_enabled(train):
            mu, logvar = model.encode(x, y)
            model.likelihood_logits(mu, x, y)  # what the loss scores: decode(z), teacher-forced for an AR decoder
    finally:
        for h in handles:
            h.remove()
    return found


def layer_program(layer: MatmulLayer, backward: bool, dtype: torch.dtype, device: torch.device):
    """A closure that runs the layer's products once (forward, and the backward products if asked)."""
    m = layer.module
    x = torch.randn(layer.input_shape, device=device, dtype=dtype)
    w = m.weight.detach().to(device, dtype)
    b = None if m.bias is None else m.bias.detach().to(device, dtype)
    if isinstance(m, nn.Linear):
        x2 = x.reshape(-1, m.in_features)
        g = torch.randn(x2.shape[0], m.out_features, device=device, dtype=dtype)

        def run() -> None:
            torch.addmm(b, x2, w.t()) if b is not None else torch.mm(x2, w.t())
            if backward:
                torch.mm(g.t(), x2)
                if layer.input_grad:
                    torch.mm(g, w)

        return run
    transposed = isinstance(m, nn.ConvTranspose2d)
    args = (m.stride, m.padding, m.dilation, transposed, getattr(m, "output_padding", (0, 0)), m.groups)
    out = torch.ops.aten.convolution(x, w, b, *args)
    g = torch.randn_like(out)
    mask = [layer.input_grad, True, False]

    def run_conv() -> None:
        torch.ops.aten.convolution(x, w, b, *args)
        if backward:
            torch.ops.aten.convolution_backward(g, x, w, None, *args, mask)

    return run_conv


@dataclass
class Roofline:
    """The model's matrix products at its own shapes: FLOPs and the measured time of one pass."""

    flops: int
    seconds: float
    dtype: str

    @property
    def rate(self) -> float:
        """FLOP/s this machine reaches on these products (its practical limit for this model)."""
        return self.flops / self.seconds


def roofline(
    model: nn.Module,
    batch: int,
    backward: bool = True,
    dtype: torch.dtype = torch.float32,
    device: torch.device | None = None,
    min_run_time: float = 0.3,
) -> Roofline:
    """Time (``torch.utils.benchmark``, median of blocked runs) every matrix product of one step of
    ``model`` on a batch of ``batch`` images: forward, and the weight and input gradients with
    ``backward``. The sum is the time a step cannot go below at this machine's matmul rate; a
    benchmark prints its wall time as a multiple of it."""
    from torch.utils import benchmark

    device = device or next(model.parameters()).device
    x = torch.rand(batch, *model.image_shape, device=device)
    layers = matmul_layers(model, x, train=backward)
    programs = [layer_program(layer, backward, dtype, device) for layer in layers]

    def run_all() -> None:
        for p in programs:
            p()

    timer = benchmark.Timer("run_all()", globals={"run_all": run_all}, num_threads=torch.get_num_threads())
    seconds = timer.blocked_autorange(min_run_time=min_run_time).median
    return Roofline(sum(layer.flops(backward) for layer in layers), seconds, str(dtype).replace("torch.", ""))


def epoch_limit_seconds(model: nn.Module, n_train: int, n_val: int, precision: str = "fp32", batch: int = 128) -> float:
    """Seconds one ``fit`` epoch cannot go below at this machine's matmul rate: the training products
    (forward + backward, batch ``batch``) for ``n_train`` images plus the validation forward pass (batch 1000)."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    train = roofline(model, batch, dtype=dtype, min_run_time=0.2)
    val = roofline(model, 1000, backward=False, dtype=torch.float32, min_run_time=0.2)
    return train.seconds * n_train / batch + val.seconds * n_val / 1000


def decoder_roofline(model, rows: int, dtype: torch.dtype = torch.float32, min_run_time: float = 0.3) -> Roofline:
    """The decoder's matrix products (forward only) for ``rows`` latent samples: the IWAE bound's work."""
    from torch.utils import benchmark

    device = model.device
    found: list[MatmulLayer] = []
    kinds = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)
    handles = [
        m.register_forward_pre_hook(lambda m, a: found.append(MatmulLayer(m, tuple(a[0].shape), False)))
        for m in model.decoder.modules()
        if isinstance(m, kinds)
    ]
    try:
        with torch.no_grad():
            model.decode(torch.zeros(rows, model.latent_dim, device=device))
    finally:
        for h in handles:
            h.remove()
    programs = [layer_program(layer, False, dtype, device) for layer in found]

    def run_all() -> None:
        for p in programs:
            p()

    seconds = (
        benchmark.Timer("run_all()", globals={"run_all": run_all}, num_threads=torch.get_num_threads())
        .blocked_autorange(min_run_time=min_run_time)
        .median
    )
    return Roofline(sum(layer.flops(False) for layer in found), seconds, str(dtype).replace("torch.", ""))


@dataclass
class PerImageLimit:
    """Matmul seconds and FLOPs per image of one architecture: a training step's and a validation pass's."""

    train_flops: float
    val_flops: float
    train: float  # seconds, with every thread of this process
    val: float
    train_1thread: float
    val_1thread: float
    train_bf16_1thread: float | None  # None: no native bf16 here

    def epoch_seconds(self, images: int, val: int) -> tuple[float, float, float | None]:
        """One epoch's matmul limit (``images`` training images, ``val`` validation images) in seconds: with
        this process's threads, with one thread, and with one thread in bf16 (``None`` without native bf16;
        validation stays fp32, as in ``fit``)."""
        bf16 = None if self.train_bf16_1thread is None else images * self.train_bf16_1thread + val * self.val_1thread
        return images * self.train + val * self.val, images * self.train_1thread + val * self.val_1thread, bf16


def per_image_limit(
    model: nn.Module, batch: int, bf16: bool, min_run_time: float = 0.2, val_batch: int = 1000
) -> PerImageLimit:
    """:func:`roofline` of a training step (batch ``batch``) and of validation (batch ``val_batch``), per image, with
    this process's threads and with one thread (and one thread in bfloat16 if ``bf16``)."""
    threads = torch.get_num_threads()
    train, val = (
        roofline(model, batch, min_run_time=min_run_time),
        roofline(model, val_batch, False, min_run_time=min_run_time),
    )
    torch.set_num_threads(1)
    try:
        train_1, val_1 = (
            roofline(model, batch, min_run_time=min_run_time),
            roofline(model, val_batch, False, min_run_time=min_run_time),
        )
        train_bf16 = roofline(model, batch, dtype=torch.bfloat16, min_run_time=min_run_time) if bf16 else None
    finally:
        torch.set_num_threads(threads)
    return PerImageLimit(
        train.flops / batch,
        val.flops / val_batch,
        train.seconds / batch,
        val.seconds / val_batch,
        train_1.seconds / batch,
        val_1.seconds / val_batch,
        None if train_bf16 is None else train_bf16.seconds / batch,
    )

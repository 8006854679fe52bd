"""Interactive latent exploration with ipywidgets 8.

Three explorers, one shared design:

* :class:`LatentExplorer`: one slider for each of the ``k`` most informative latent dimensions (ranked
  and labelled by their KL in nats); start from an encoded test image, reset to the origin, or draw a
  random code from the prior.
* :class:`LatentPad2D`: for a 2-D latent space, the decoded manifold as a pad; click (or drag) on it,
  or use its two sliders, to pick ``(z1, z2)`` and see the decoded image. Clicks come from the
  ``ipyevents`` package (a prebuilt JupyterLab extension installed by pip).
* :class:`AttributeExplorer`: one slider per attribute direction (e.g. "Smiling" on CelebA, the mean
  code of faces with the attribute minus the mean code of faces without, see
  :func:`vae_helpers.attributes.attribute_directions` with :func:`~vae_helpers.attributes.as_vectors`); the image decodes ``base_z + sum_i s_i * direction_i``.

The model is only ever evaluated inside :func:`vae_helpers.models.eval_mode`: every update decodes in
eval mode (BatchNorm with its running statistics) and the caller's model keeps its own train/eval mode.
A NaN or infinite slider value is refused with a :class:`~vae_helpers.errors.ConfigError` that names the
slider and its range, rather than shown as a blank image.

All logic lives in plain methods (``set_dim``, ``set_point``, ``set_strength``, ...) so it is
unit-tested without a browser; the widgets only call them, and ``tests/test_browser.py`` drives a
real slider in JupyterLab. Each update records ``last_latency_ms`` (decode + PNG encode + setting the
image widget's value) and its parts in ``last_timings``; :func:`measure_latency` summarises many.
GitHub does not run widgets, so every explorer has ``static_preview()``: a matplotlib figure for the
committed outputs.

Images: every course model's ``decode`` returns *logits*; the pixel means are ``sigmoid(logits)`` for
the Bernoulli decoder and also for the Gaussian one (``losses.gaussian_nll`` uses
``N(sigmoid(logits), sigma^2)``), so the displayed image is ``sigmoid(decode(z))`` in both cases.
"""

from __future__ import annotations

import io
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .data import ImageSplit
from .errors import ConfigError
from .models import BaseVAE, eval_mode
from .plots import _check_count
from .validation import check_explorer_model


def to_png(image: torch.Tensor | np.ndarray, scale: int = 6) -> bytes:
    """``[C x H x W]`` pixel means in [0, 1] (or ``uint8 [H x W x 3]``) -> PNG bytes, enlarged ``scale`` times.

    Nearest-neighbour enlargement keeps the pixels sharp (a 28 x 28 digit is unreadable at 1:1).
    """
    from PIL import Image

    if isinstance(image, np.ndarray):
        array = image
    else:
        array = (image.detach().float().cpu().clamp(0, 1).numpy() * 255).round().astype(np.uint8)
        array = array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)
    img = Image.fromarray(array)
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", compress_level=1)  # level 1: ~3x faster than the default, for live updates
    return buffer.getvalue()


def decode_pixels(model: BaseVAE, z: torch.Tensor) -> torch.Tensor:
    """Pixel means of the decoded codes: ``[N x D]`` or ``[D]`` -> ``[N x C x H x W]`` or ``[C x H x W]`` in [0, 1].

    Decodes in eval mode; the model keeps its own train/eval mode.
    """
    single = z.dim() == 1
    z = z.reshape(1, -1) if single else z
    with eval_mode(model):
        images = torch.sigmoid(model.decode(z.to(model.device, torch.float32))).cpu()
    return images[0] if single else images


def _check_range(name: str, value: float) -> float:
    """A slider range or extent: a finite number > 0, else a :class:`ConfigError` naming it."""
    if not np.isfinite(float(value)) or float(value) <= 0:
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}.")
    return float(value)


def _check_slider_value(what: str, value: float, span: float, control: str = "slider") -> float:
    """A value set on a control: finite, else a :class:`ConfigError` naming the control and its range."""
    value = float(value)
    if not np.isfinite(value):
        raise ConfigError(f"{what} must be a finite number (the {control} spans {-span:g} to {span:g}), got {value}.")
    return value


def _check_finite_code(name: str, vector: torch.Tensor) -> torch.Tensor:
    if not torch.isfinite(vector).all():
        raise ConfigError(
            f"{name} has NaN or infinite entries (at indices "
            f"{torch.nonzero(~torch.isfinite(vector)).flatten().tolist()[:10]}); pass a finite latent vector."
        )
    return vector


def _image_widget(png: bytes, height: int, width: int, css_class: str | None = None):
    """An ``Image`` widget fixed at ``height x width`` CSS pixels (a flex box would otherwise stretch it out of shape)."""
    import ipywidgets as w

    image = w.Image(
        value=png,
        format="png",
        layout=w.Layout(
            width=f"{width}px", height=f"{height}px", flex="0 0 auto", align_self="flex-start", object_fit="contain"
        ),
    )
    if css_class:
        image.add_class(css_class)  # a stable hook for the browser test
    return image


def _float_slider(description: str, value_range: float, width: str = "420px", step: float = 0.05):
    import ipywidgets as w

    return w.FloatSlider(
        value=0.0,
        min=-value_range,
        max=value_range,
        step=step,
        description=description,
        continuous_update=True,
        readout_format=".2f",
        style={"description_width": "130px"},
        layout=w.Layout(width=width),
    )


class _LiveDecoder:
    """Shared machinery: decode one code, time it, push the PNG into an ``Image`` widget.

    Subclasses set ``self.model``, ``self.scale`` and build ``self._widgets`` with an ``"image"`` entry.
    """

    model: BaseVAE
    scale: int

    def __init__(self) -> None:
        self.last_latency_ms = float("nan")
        #: Parts of the last update, in ms: ``decode``, ``png``, ``display`` (setting the widget value).
        self.last_timings: dict[str, float] = {}
        #: The last 200 updates as ``(wall-clock start in s since the epoch, kernel-side ms)``; the browser test
        #: pairs the start times with the moments the browser shows each new image ("decode to display").
        self.update_log: deque[tuple[float, float]] = deque(maxlen=200)
        self._widgets: dict[str, Any] | None = None
        self._syncing = False  # True while code moves the sliders, so their callbacks do not re-decode

    def _current_z(self) -> torch.Tensor:
        raise NotImplementedError

    def _sync_controls(self) -> None:
        """Move the sliders to the current state (called by code, never by a user's drag)."""

    def _extra_display(self) -> float:
        """Update widgets other than the decoded image; returns the seconds spent (default: none)."""
        return 0.0

    def _encode_test_image(self, index: int) -> torch.Tensor:
        """Posterior mean ``[D]`` (CPU) of image ``index`` of ``self.images``, encoded in eval mode
        (BatchNorm must use its running statistics for a single image); the model keeps its own mode."""
        images = getattr(self, "images", None)
        if images is None:
            raise ValueError(f"{type(self).__name__} was built without images to encode: pass images=dataset.test.")
        if isinstance(index, bool) or not float(index).is_integer() or not 0 <= index < len(images):
            raise ConfigError(
                f"test image index {index!r} is out of range: {len(images)} images (0 to {len(images) - 1})."
            )
        x = images.float_images(slice(int(index), int(index) + 1)).to(self.model.device)
        with eval_mode(self.model):
            return self.model.encode(x)[0][0].float().cpu()

    def decode_current(self) -> torch.Tensor:
        """Decode the current code: ``[C x H x W]`` pixel means."""
        return decode_pixels(self.model, self._current_z())

    def _refresh(self, sync_sliders: bool = False) -> torch.Tensor:
        wall = time.time()
        t0 = time.perf_counter()
        image = self.decode_current()
        t1 = time.perf_counter()
        png_s = display_s = 0.0
        if self._widgets is not None:
            png = to_png(image, self.scale)
            t2 = time.perf_counter()
            self._widgets["image"].value = png  # sends the bytes to the browser when a kernel is attached
            display_s = time.perf_counter() - t2
            png_s = t2 - t1
            display_s += self._extra_display()
            if sync_sliders:
                self._syncing = True
                try:
                    self._sync_controls()
                finally:
                    self._syncing = False
        total = time.perf_counter() - t0
        self.last_timings = {"decode": (t1 - t0) * 1000, "png": png_s * 1000, "display": display_s * 1000}
        self.last_latency_ms = total * 1000
        self.update_log.append((wall, self.last_latency_ms))
        return image

    def _probe_slider(self):
        """The slider :func:`measure_latency` moves (the first one; every explorer keeps its sliders in a list)."""
        self.widget()
        return self._widgets["sliders"][0]

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget())

    def widget(self):  # pragma: no cover - overridden
        raise NotImplementedError


class LatentExplorer(_LiveDecoder):
    """Sliders over the most active latent dimensions of a trained model.

    Args:
        model: a trained :class:`BaseVAE` (non-conditional).
        kl_per_dim: ``[D]`` mean KL of each dimension (see :func:`evaluation.kl_per_dimension`); the
            ``k`` largest get sliders. ``None`` takes the first ``k`` dimensions.
        k: number of sliders.
        images: a split to pick starting images from (optional).
        value_range: sliders span [-value_range, value_range].
        scale: on-screen enlargement of the decoded image.
    """

    def __init__(
        self,
        model: BaseVAE,
        kl_per_dim: torch.Tensor | None = None,
        k: int = 6,
        images: ImageSplit | None = None,
        value_range: float = 3.0,
        scale: int = 6,
    ) -> None:
        check_explorer_model(model, "LatentExplorer")
        super().__init__()
        if model.conditional:
            raise ValueError(
                "LatentExplorer needs a non-conditional model (a ConditionalVAE also needs a label to decode)."
            )
        self.model = model  # evaluated in eval mode on each update; its own mode is left alone
        d = model.latent_dim
        k = min(_check_count("k", k, 1), d)
        if kl_per_dim is None:
            self.dims: list[int] = list(range(k))
            self.kl = torch.full((d,), float("nan"))
        else:
            if kl_per_dim.shape != (d,):
                raise ValueError(f"kl_per_dim must be [D] = [{d}], got {tuple(kl_per_dim.shape)}.")
            self.kl = kl_per_dim.detach().float().cpu()
            self.dims = [int(i) for i in torch.argsort(self.kl, descending=True)[:k]]
        self.images = images
        self.value_range = _check_range("value_range", value_range)
        self.scale = _check_count("scale", scale, 1)
        self.z = torch.zeros(d)

    # -- logic (browser-free, unit-tested) -----------------------------------------------------
    def _current_z(self) -> torch.Tensor:
        return self.z

    def set_dim(self, slider_index: int, value: float) -> torch.Tensor:
        """Set the latent coordinate behind slider ``slider_index`` and return the new decoded image ``[C x H x W]``."""
        if (
            isinstance(slider_index, bool)
            or not float(slider_index).is_integer()
            or not 0 <= slider_index < len(self.dims)
        ):
            raise ConfigError(
                f"slider_index {slider_index!r} is out of range: this explorer has {len(self.dims)} sliders "
                f"(0 to {len(self.dims) - 1})."
            )
        dim = self.dims[int(slider_index)]
        self.z[dim] = _check_slider_value(f"slider {int(slider_index)} (z[{dim}])", value, self.value_range)
        return self._refresh()

    def encode_image(self, index: int) -> torch.Tensor:
        """Start from the posterior mean of test image ``index``."""
        self.z = self._encode_test_image(index)
        return self._refresh(sync_sliders=True)

    def reset(self) -> torch.Tensor:
        """Back to the origin of the latent space (the prior's mode)."""
        self.z = torch.zeros(self.model.latent_dim)
        return self._refresh(sync_sliders=True)

    def randomise(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """A fresh code from the prior N(0, I)."""
        self.z = torch.randn(self.model.latent_dim, generator=generator)
        return self._refresh(sync_sliders=True)

    def _sync_controls(self) -> None:
        for slider, dim in zip(self._widgets["sliders"], self.dims):
            slider.value = float(np.clip(self.z[dim].item(), -self.value_range, self.value_range))

    # -- widgets -----------------------------------------------------------------------------
    def widget(self):
        """Build (once) and return the ipywidgets box."""
        if self._widgets is not None:
            return self._widgets["box"]
        import ipywidgets as w

        sliders = []
        for i, dim in enumerate(self.dims):
            kl = self.kl[dim].item()
            slider = _float_slider(f"z[{dim}]" + ("" if np.isnan(kl) else f" KL {kl:.2f}"), self.value_range)
            slider.observe(lambda change, i=i: None if self._syncing else self.set_dim(i, change["new"]), names="value")
            sliders.append(slider)
        h, w_ = self.model.image_shape[1:]
        image = _image_widget(
            to_png(self.decode_current(), self.scale), h * self.scale, w_ * self.scale, "vae-decoded-image"
        )
        reset = w.Button(description="origin", tooltip="reset every coordinate to 0")
        reset.on_click(lambda _: self.reset())
        rand = w.Button(description="random", tooltip="draw z from the prior N(0, I)")
        rand.on_click(lambda _: self.randomise())
        controls = [w.HTML("<b>Latent sliders</b> (dimensions ranked by KL, in nats)"), *sliders]
        if self.images is not None:
            index = w.BoundedIntText(
                value=0, min=0, max=len(self.images) - 1, description="test image", layout=w.Layout(width="200px")
            )
            encode = w.Button(description="encode", tooltip="start from the code of this test image")
            encode.on_click(lambda _: self.encode_image(index.value))
            controls.append(w.HBox([index, encode]))
        controls.append(w.HBox([reset, rand]))
        box = w.HBox(
            [w.VBox(controls, layout=w.Layout(flex="0 0 auto", margin="0 16px 0 0")), image],
            layout=w.Layout(align_items="flex-start", flex_flow="row wrap"),
        )
        self._widgets = {"box": box, "sliders": sliders, "image": image}
        self._sync_controls()  # a code set before the widget existed (e.g. encode_image) shows on the sliders
        return box

    def static_preview(self, values: Sequence[float] = (-2.5, -1.25, 0.0, 1.25, 2.5)):
        """A matplotlib figure of what the sliders do, from the current code (for GitHub and PDFs)."""
        from .plots import plot_traversal

        return plot_traversal(
            self.model,
            self.z,
            self.dims,
            values,
            title="Static preview of the sliders: each row moves one latent coordinate",
        )


class LatentPad2D(_LiveDecoder):
    """A click pad over the decoded manifold of a 2-D latent space.

    The pad shows an ``n x n`` grid of decoded images whose cell centres are evenly spaced in
    ``[-extent, extent]^2`` (linear spacing, so a pixel of the pad maps linearly to a code), with a
    red marker at the current ``(z1, z2)``. Click or drag on the pad, or move the two sliders, and the
    code is decoded beside it at full size.

    Args:
        model: a trained non-conditional :class:`BaseVAE` with ``latent_dim == 2``.
        extent: the pad covers ``[-extent, extent]`` on both axes (3 covers 99.7% of the prior per axis).
        n: cells per side of the manifold grid.
        images: a split to encode starting points from (optional).
        scale: enlargement of the decoded image.
    """

    def __init__(
        self, model: BaseVAE, extent: float = 3.0, n: int = 15, images: ImageSplit | None = None, scale: int = 8
    ) -> None:
        check_explorer_model(model, "LatentPad2D")
        super().__init__()
        if model.latent_dim != 2 or model.conditional:
            raise ValueError(
                f"LatentPad2D needs a non-conditional model with a 2-D latent space; this one has latent_dim="
                f"{model.latent_dim}{' and is conditional' if model.conditional else ''}. Use LatentExplorer instead."
            )
        self.model = model  # evaluated in eval mode on each update; its own mode is left alone
        self.extent = _check_range("extent", extent)
        self.n = _check_count("n", n, 2)
        self.images = images
        self.scale = _check_count("scale", scale, 1)
        self.z = torch.zeros(2)
        self.manifold = self.manifold_grid()  # uint8 [nH x nW x 3], drawn once
        self._pad_png: bytes | None = None

    # -- geometry ----------------------------------------------------------------------------
    def cell_centres(self) -> np.ndarray:
        """``[n]`` latent values at the centres of the grid cells, increasing."""
        step = 2 * self.extent / self.n
        return -self.extent + (np.arange(self.n) + 0.5) * step

    @torch.no_grad()
    def manifold_grid(self) -> np.ndarray:
        """Decode the grid: ``uint8 [n*H x n*W x 3]``; column j has z1 = centre j, row i (top first) z2 = centre n-1-i."""
        c = self.cell_centres()
        zz = torch.tensor([[z1, z2] for z2 in c[::-1] for z1 in c], dtype=torch.float32)
        images = decode_pixels(self.model, zz)  # [n^2 x C x H x W]
        ch, h, w = images.shape[1:]
        grid = images.reshape(self.n, self.n, ch, h, w).permute(0, 3, 1, 4, 2).reshape(self.n * h, self.n * w, ch)
        grid = (grid.clamp(0, 1).numpy() * 255).round().astype(np.uint8)
        return np.repeat(grid, 3, axis=2) if ch == 1 else grid

    def point_from_pixel(
        self, x: float, y: float, width: float | None = None, height: float | None = None
    ) -> tuple[float, float]:
        """Pad pixel ``(x, y)`` (origin top-left, y down) of a ``width x height`` pad -> code ``(z1, z2)``, clipped to the pad."""
        height_px, width_px = self.manifold.shape[:2]
        width = width or width_px
        height = height or height_px
        z1 = -self.extent + 2 * self.extent * float(x) / width
        z2 = self.extent - 2 * self.extent * float(y) / height
        return float(np.clip(z1, -self.extent, self.extent)), float(np.clip(z2, -self.extent, self.extent))

    def pixel_from_point(self, z1: float, z2: float) -> tuple[float, float]:
        """The inverse of :meth:`point_from_pixel`, in manifold-image pixels."""
        height, width = self.manifold.shape[:2]
        return (z1 + self.extent) / (2 * self.extent) * width, (self.extent - z2) / (2 * self.extent) * height

    def pad_image(self) -> np.ndarray:
        """The manifold with a red cross-hair at the current code: ``uint8 [n*H x n*W x 3]``."""
        pad = self.manifold.copy()
        x, y = self.pixel_from_point(float(self.z[0]), float(self.z[1]))
        h, w = pad.shape[:2]
        xi, yi = int(np.clip(round(x), 0, w - 1)), int(np.clip(round(y), 0, h - 1))
        red = np.array([230, 30, 30], dtype=np.uint8)
        arm = max(4, h // 40)
        for off in (-1, 0, 1):  # a 3-pixel-wide cross, visible on white and on black
            pad[max(0, yi - arm) : yi + arm + 1, int(np.clip(xi + off, 0, w - 1))] = red
            pad[int(np.clip(yi + off, 0, h - 1)), max(0, xi - arm) : xi + arm + 1] = red
        return pad

    # -- logic (browser-free, unit-tested) -----------------------------------------------------
    def _current_z(self) -> torch.Tensor:
        return self.z

    def set_point(self, z1: float, z2: float) -> torch.Tensor:
        """Move to the code ``(z1, z2)``; returns the decoded image ``[C x H x W]``."""
        z1, z2 = (_check_slider_value(name, v, self.extent, "pad") for name, v in (("z1", z1), ("z2", z2)))
        self.z = torch.tensor([z1, z2])
        return self._refresh(sync_sliders=True)

    def click(self, x: float, y: float, width: float | None = None, height: float | None = None) -> torch.Tensor:
        """What a click at pad pixel ``(x, y)`` does (see :meth:`point_from_pixel`)."""
        return self.set_point(*self.point_from_pixel(x, y, width, height))

    @torch.no_grad()
    def encode_image(self, index: int) -> torch.Tensor:
        """Move to the posterior mean of test image ``index``."""
        mu = self._encode_test_image(index)
        return self.set_point(float(mu[0]), float(mu[1]))

    def reset(self) -> torch.Tensor:
        """Back to the origin (the prior's mode)."""
        return self.set_point(0.0, 0.0)

    def randomise(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """A code drawn from the prior N(0, I)."""
        z = torch.randn(2, generator=generator)
        return self.set_point(float(z[0]), float(z[1]))

    def handle_pad_event(self, event: Mapping[str, Any]) -> torch.Tensor | None:
        """React to an ``ipyevents`` mouse event on the pad: a click, or a move with the left button held.

        ``dataX``/``dataY`` (ipyevents' position in the image's own pixels, whatever its on-screen size) are
        used when present, else ``relativeX``/``relativeY`` over the bounding box. Returns the decoded image,
        or ``None`` when the event does not move the point.
        """
        if event.get("type") == "mousemove" and not int(event.get("buttons", 0)) & 1:
            return None
        if "dataX" in event and "dataY" in event:
            return self.click(event["dataX"], event["dataY"])
        if "relativeX" in event and event.get("boundingRectWidth"):
            return self.click(
                event["relativeX"], event["relativeY"], event["boundingRectWidth"], event["boundingRectHeight"]
            )
        return None

    def _extra_display(self) -> float:
        started = time.perf_counter()
        self._widgets["pad"].value = to_png(self.pad_image(), 1)
        return time.perf_counter() - started

    def _sync_controls(self) -> None:
        for slider, value in zip(self._widgets["sliders"], self.z.tolist()):
            slider.value = float(np.clip(value, -self.extent, self.extent))

    # -- widgets -----------------------------------------------------------------------------
    def widget(self):
        """Build (once) and return the ipywidgets box: pad (clickable), two sliders, decoded image."""
        if self._widgets is not None:
            return self._widgets["box"]
        import ipywidgets as w

        pad = _image_widget(to_png(self.pad_image(), 1), *self.manifold.shape[:2], "vae-latent-pad")
        h, w_ = self.model.image_shape[1:]
        image = _image_widget(
            to_png(self.decode_current(), self.scale), h * self.scale, w_ * self.scale, "vae-decoded-image"
        )
        sliders = []
        for i, name in enumerate(("z1", "z2")):
            slider = _float_slider(name, self.extent, width="380px")
            slider.observe(
                lambda change, i=i: None if self._syncing else self._slider_moved(i, change["new"]), names="value"
            )
            sliders.append(slider)
        try:
            from ipyevents import Event

            # throttle: at most one move every 40 ms reaches the kernel while dragging
            events = Event(
                source=pad,
                watched_events=["click", "mousemove"],
                wait=40,
                throttle_or_debounce="throttle",
                prevent_default_action=True,
            )
            events.on_dom_event(self.handle_pad_event)
            hint = "click or drag on the manifold, or use the sliders"
        except ImportError:  # the pinned environment has ipyevents; elsewhere the sliders still work
            events = None
            hint = "the sliders move the point (pip install ipyevents to click on the manifold)"
        reset = w.Button(description="origin", tooltip="back to z = (0, 0)")
        reset.on_click(lambda _: self.reset())
        rand = w.Button(description="random", tooltip="draw z from the prior N(0, I)")
        rand.on_click(lambda _: self.randomise())
        header = w.HTML(
            f"<b>2-D latent pad</b>: {hint}. The cells are decoded at the centres of an even grid over "
            f"[-{self.extent:g}, {self.extent:g}]<sup>2</sup>; the red cross is the current code."
        )
        controls = [pad, *sliders]
        if self.images is not None:
            index = w.BoundedIntText(
                value=0, min=0, max=len(self.images) - 1, description="test image", layout=w.Layout(width="200px")
            )
            encode = w.Button(description="encode", tooltip="move to the code of this test image")
            encode.on_click(lambda _: self.encode_image(index.value))
            controls.append(w.HBox([index, encode]))
        controls.append(w.HBox([reset, rand]))
        fixed = w.Layout(flex="0 0 auto")  # neither column may shrink: the images keep their size
        right = w.VBox([w.HTML("<b>decoded</b>"), image], layout=w.Layout(flex="0 0 auto", margin="0 0 0 24px"))
        box = w.VBox(
            [
                header,
                w.HBox(
                    [w.VBox(controls, layout=fixed), right],
                    layout=w.Layout(align_items="flex-start", flex_flow="row wrap"),
                ),
            ]
        )
        self._widgets = {"box": box, "sliders": sliders, "image": image, "pad": pad, "events": events}
        self._sync_controls()
        return box

    def _slider_moved(self, axis: int, value: float) -> torch.Tensor:
        self.z[axis] = _check_slider_value(f"z{axis + 1}", value, self.extent, "pad")
        return self._refresh()

    def static_preview(self):
        """Manifold with the current point marked, and the decoded image (for GitHub and PDFs)."""
        import matplotlib.pyplot as plt

        fig, (ax_pad, ax_img) = plt.subplots(1, 2, figsize=(10, 5.2), gridspec_kw={"width_ratios": [2, 1]})
        e = self.extent
        ax_pad.imshow(self.manifold, extent=(-e, e, -e, e))
        ax_pad.plot(float(self.z[0]), float(self.z[1]), marker="+", color="red", markersize=18, markeredgewidth=3)
        ax_pad.set_xlabel("$z_1$")
        ax_pad.set_ylabel("$z_2$")
        ax_pad.set_title("The pad: decoded 2-D latent grid (red: current code)")
        ax_pad.grid(False)
        image = self.decode_current()
        ax_img.imshow(image.permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
        ax_img.set_title(f"decoded at z = ({float(self.z[0]):+.2f}, {float(self.z[1]):+.2f})")
        ax_img.set_xticks([])
        ax_img.set_yticks([])
        ax_img.grid(False)
        fig.suptitle("Static preview of the 2-D latent pad")
        fig.tight_layout()
        return fig


class AttributeExplorer(_LiveDecoder):
    """Sliders that add attribute directions to a base code.

    The image shown decodes ``base_z + sum_i s_i * direction_i`` where ``s_i`` is slider ``i``'s value.

    Args:
        model: a trained non-conditional :class:`BaseVAE` (e.g. ``ConvVAE64`` on CelebA).
        directions: name -> ``[D]`` latent direction (see :func:`vae_helpers.attributes.attribute_directions` with :func:`~vae_helpers.attributes.as_vectors`).
        base_z: ``[D]`` starting code (default: the origin).
        value_range: sliders span ``[-value_range, value_range]`` (in units of each direction).
        scale: enlargement of the decoded image (64 x 64 faces: 4 gives 256 px).
        images: a split to encode starting faces from (optional).
    """

    def __init__(
        self,
        model: BaseVAE,
        directions: Mapping[str, torch.Tensor],
        base_z: torch.Tensor | None = None,
        value_range: float = 3.0,
        scale: int = 4,
        images: ImageSplit | None = None,
    ) -> None:
        check_explorer_model(model, "AttributeExplorer")
        super().__init__()
        if model.conditional:
            raise ValueError("AttributeExplorer needs a non-conditional model.")
        d = model.latent_dim
        if not directions:
            raise ValueError("AttributeExplorer needs at least one direction (name -> [D] tensor).")
        self.directions: dict[str, torch.Tensor] = {}
        for name, vec in directions.items():
            vec = torch.as_tensor(vec).detach().float().cpu().reshape(-1)
            if vec.shape != (d,):
                raise ValueError(f"direction {name!r} must be a [D] = [{d}] latent vector, got {tuple(vec.shape)}.")
            self.directions[name] = _check_finite_code(f"direction {name!r}", vec)
        if base_z is not None and base_z.numel() != d:
            raise ValueError(f"base_z must be [D] = [{d}], got {tuple(base_z.shape)}.")
        if base_z is not None:
            _check_finite_code("base_z", torch.as_tensor(base_z).detach().float().cpu().reshape(-1))
        self.model = model  # evaluated in eval mode on each update; its own mode is left alone
        self.value_range = _check_range("value_range", value_range)
        self.scale = _check_count("scale", scale, 1)
        self.images = images
        self._initial_base = torch.zeros(d) if base_z is None else base_z.detach().float().cpu().reshape(-1).clone()
        self.base_z = self._initial_base.clone()
        self.strengths: dict[str, float] = {name: 0.0 for name in self.directions}

    @property
    def names(self) -> list[str]:
        return list(self.directions)

    # -- logic (browser-free, unit-tested) -----------------------------------------------------
    def _current_z(self) -> torch.Tensor:
        z = self.base_z.clone()
        for name, s in self.strengths.items():
            if s:
                z += s * self.directions[name]
        return z

    def current_z(self) -> torch.Tensor:
        """``[D]``: ``base_z + sum_i s_i * direction_i``."""
        return self._current_z()

    def set_strength(self, name: str, value: float) -> torch.Tensor:
        """Set the strength of direction ``name``; returns the decoded image ``[C x H x W]``."""
        if name not in self.directions:
            raise KeyError(f"No direction named {name!r}; known: {', '.join(self.directions)}.")
        self.strengths[name] = _check_slider_value(f"the strength of {name!r}", value, self.value_range)
        return self._refresh()

    @torch.no_grad()
    def encode_image(self, index: int) -> torch.Tensor:
        """Use the posterior mean of test image ``index`` as the base code, with every strength back to 0."""
        self.base_z = self._encode_test_image(index)
        return self._rebase()

    def reset(self) -> torch.Tensor:
        """The starting base code and every strength at 0."""
        self.base_z = self._initial_base.clone()
        return self._rebase()

    def _rebase(self) -> torch.Tensor:
        self.strengths = {name: 0.0 for name in self.directions}
        if self._widgets is not None:
            self._widgets["base"].value = to_png(decode_pixels(self.model, self.base_z), self.scale)
        return self._refresh(sync_sliders=True)

    def _sync_controls(self) -> None:
        for slider, name in zip(self._widgets["sliders"], self.directions):
            slider.value = float(np.clip(self.strengths[name], -self.value_range, self.value_range))

    # -- widgets -----------------------------------------------------------------------------
    def widget(self):
        """Build (once) and return the ipywidgets box: one slider per direction, base and edited images."""
        if self._widgets is not None:
            return self._widgets["box"]
        import ipywidgets as w

        sliders = []
        for name, vec in self.directions.items():
            slider = _float_slider(name, self.value_range, width="400px")
            slider.tooltip = f"adds s x the '{name}' direction (norm {vec.norm():.2f}) to the base code"
            slider.observe(
                lambda change, name=name: None if self._syncing else self.set_strength(name, change["new"]),
                names="value",
            )
            sliders.append(slider)
        h, w_ = self.model.image_shape[1:]
        base = _image_widget(
            to_png(decode_pixels(self.model, self.base_z), self.scale), h * self.scale, w_ * self.scale
        )
        image = _image_widget(
            to_png(self.decode_current(), self.scale), h * self.scale, w_ * self.scale, "vae-decoded-image"
        )
        reset = w.Button(description="reset", tooltip="starting code, every strength 0")
        reset.on_click(lambda _: self.reset())
        controls = [w.HTML("<b>Attribute sliders</b>: base code + strength x direction"), *sliders]
        if self.images is not None:
            index = w.BoundedIntText(
                value=0, min=0, max=len(self.images) - 1, description="test image", layout=w.Layout(width="200px")
            )
            encode = w.Button(description="encode", tooltip="use this test image's code as the base")
            encode.on_click(lambda _: self.encode_image(index.value))
            controls.append(w.HBox([index, encode]))
        controls.append(reset)

        def column(children, margin="0"):  # columns never shrink, so the images keep their size and the readouts show
            return w.VBox(children, layout=w.Layout(flex="0 0 auto", margin=margin))

        pictures = w.HBox(
            [column([w.HTML("<b>base</b>"), base], "0 8px 0 0"), column([w.HTML("<b>edited</b>"), image])],
            layout=w.Layout(flex="0 0 auto", margin="0 0 0 16px"),
        )
        # on a narrow screen the pair of pictures wraps below the sliders, together
        box = w.HBox([column(controls), pictures], layout=w.Layout(align_items="flex-start", flex_flow="row wrap"))
        self._widgets = {"box": box, "sliders": sliders, "image": image, "base": base}
        self._sync_controls()
        return box

    @torch.no_grad()
    def static_preview(self, values: Sequence[float] = (-3.0, -1.5, 0.0, 1.5, 3.0)):
        """One row per direction: the base code plus each strength in ``values`` (for GitHub and PDFs)."""
        import matplotlib.pyplot as plt

        from .plots import _squeeze, image_grid

        names = self.names
        fig, axes = plt.subplots(
            len(names), 1, figsize=(1.3 * len(values) + 1.5, 1.4 * len(names) + 0.8), squeeze=False
        )
        for ax, name in zip(axes[:, 0], names):
            z = (
                self.base_z.reshape(1, -1)
                + torch.tensor(list(values), dtype=torch.float32).reshape(-1, 1) * self.directions[name]
            )
            row = decode_pixels(self.model, z)  # [len(values) x C x H x W]
            grid = _squeeze(image_grid(row, nrow=len(values)))
            ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_ylabel(name, rotation=0, ha="right", va="center")
            ax.grid(False)
        axes[-1, 0].set_xlabel("strength s: " + "  ".join(f"{v:+.1f}" for v in values))
        fig.suptitle("Static preview of the attribute sliders: base code + s x direction")
        fig.tight_layout()
        return fig


@torch.no_grad()
def measure_latency(explorer: _LiveDecoder, n: int = 50, warmup: int = 5) -> dict[str, float]:
    """Time ``n`` full slider updates the way a drag makes them.

    Each update sets the explorer's first slider to a new value, which runs its callback: decode, PNG
    encode, and set the ``Image`` widget's value (the kernel side of "decode to display"; the browser's
    own repaint is measured by ``tests/test_browser.py``). ``warmup`` updates run first, untimed.

    Returns:
        ``{"n", "median_ms", "p95_ms", "max_ms", "mean_ms", "decode_median_ms", "png_median_ms", "display_median_ms"}``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}.")
    slider = explorer._probe_slider()
    values = np.linspace(slider.min, slider.max, warmup + n + 1)[1:]  # all distinct: every set fires the callback
    if np.isclose(values[0], slider.value):
        values = values[::-1]
    totals, parts = [], {"decode": [], "png": [], "display": []}
    for i, value in enumerate(values):
        started = time.perf_counter()
        slider.value = float(value)
        elapsed = (time.perf_counter() - started) * 1000
        if i >= warmup:
            totals.append(elapsed)
            for key in parts:
                parts[key].append(explorer.last_timings.get(key, float("nan")))
    totals_arr = np.asarray(totals)
    result = {
        "n": float(n),
        "median_ms": float(np.median(totals_arr)),
        "p95_ms": float(np.percentile(totals_arr, 95)),
        "max_ms": float(totals_arr.max()),
        "mean_ms": float(totals_arr.mean()),
    }
    for key, vals in parts.items():
        result[f"{key}_median_ms"] = float(np.median(vals))
    return result


if __name__ == "__main__":  # python -m vae_helpers.widgets: the latency figure for the 784-400-20 MLP VAE on CPU
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Time slider updates of LatentExplorer on an MLP VAE (784-400-20).")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from .config import seed_everything
    from .models import MLPVAE

    seed_everything(0)
    # Latency does not depend on the weights' values, only on the architecture: an untrained model is timed.
    explorer = LatentExplorer(MLPVAE(), k=6)
    stats = measure_latency(explorer, n=args.n)
    print(
        json.dumps(
            {
                "model": "MLPVAE 784-400-20",
                "device": "cpu",
                "threads": torch.get_num_threads(),
                **{k: round(v, 3) for k, v in stats.items()},
            },
            indent=1,
        )
    )

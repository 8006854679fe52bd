"""What every explorer shares: decoding to pixels, PNG encoding, widgets, value checks and :class:`LiveDecoder`."""

from __future__ import annotations

import io
import time
from collections import deque
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..models import BaseVAE, eval_mode


def to_png(image: torch.Tensor | np.ndarray, scale: int = 6) -> bytes:
    """``[C x H x W]`` pixel means in [0, 1] (or ``uint8 [H x W x 3]``) -> PNG bytes, enlarged ``scale`` times
    (nearest neighbour, so the pixels stay sharp)."""
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
    img.save(buffer, format="PNG", compress_level=1)  # level 1: fast enough for live updates
    return buffer.getvalue()


def decode_pixels(model: BaseVAE, z: torch.Tensor) -> torch.Tensor:
    """Pixel means in [0, 1] of codes ``[N x D]`` or ``[D]``: ``[N x C x H x W]`` or ``[C x H x W]``, decoded in eval
    mode (the model keeps its own mode)."""
    single = z.dim() == 1
    z = z.reshape(1, -1) if single else z
    with eval_mode(model):
        images = torch.sigmoid(model.decode(z.to(model.device, torch.float32))).cpu()
    return images[0] if single else images


def check_range(name: str, value: float) -> float:
    """A slider range or extent: a finite number > 0, else a :class:`ConfigError` naming it."""
    if not np.isfinite(float(value)) or float(value) <= 0:
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}.")
    return float(value)


def check_slider_value(what: str, value: float, span: float, control: str = "slider") -> float:
    """A value set on a control: finite, else a :class:`ConfigError` naming the control and its range."""
    value = float(value)
    if not np.isfinite(value):
        raise ConfigError(f"{what} must be a finite number (the {control} spans {-span:g} to {span:g}), got {value}.")
    return value


def check_finite_code(name: str, vector: torch.Tensor) -> torch.Tensor:
    """``vector``, or a :class:`ConfigError` naming its NaN or infinite entries."""
    if not torch.isfinite(vector).all():
        raise ConfigError(
            f"{name} has NaN or infinite entries (at indices "
            f"{torch.nonzero(~torch.isfinite(vector)).flatten().tolist()[:10]}); pass a finite latent vector."
        )
    return vector


def image_widget(png: bytes, height: int, width: int, css_class: str | None = None):
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


def float_slider(description: str, value_range: float, width: str = "420px", step: float = 0.05):
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


class LiveDecoder:
    """Decode the current code, time it and show it in ``_widgets["image"]`` (subclasses set ``model``, ``scale``,
    ``_widgets``); ``last_latency_ms`` is the last update's decode + PNG + display time."""

    model: BaseVAE
    scale: int

    def __init__(self) -> None:
        self.last_latency_ms = float("nan")
        #: Parts of the last update, in ms: ``decode``, ``png``, ``display``.
        self.last_timings: dict[str, float] = {}
        #: The last 200 updates as ``(start time in s since the epoch, kernel-side ms)``.
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
        """Posterior mean ``[D]`` (CPU) of ``self.images[index]``, encoded in eval mode (the model keeps its own mode)."""
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

    def _test_image_picker(self, tooltip: str) -> Any:
        """A test-image index box and an "encode" button that moves the explorer to that image's code (``HBox``)."""
        import ipywidgets as w

        index = w.BoundedIntText(
            value=0, min=0, max=len(self.images) - 1, description="test image", layout=w.Layout(width="200px")
        )
        encode = w.Button(description="encode", tooltip=tooltip)
        encode.on_click(lambda _: self.encode_image(index.value))
        return w.HBox([index, encode])

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

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget())

    def widget(self):  # pragma: no cover - overridden
        raise NotImplementedError


def check_explorer_model(model: Any, explorer: str) -> None:
    """Raise :class:`ConfigError` unless ``model`` is a :class:`BaseVAE` whose class implements ``encode`` and ``decode``."""

    needs = "encode(x) -> (mu, logvar), decode(z) -> logits, latent_dim, image_shape and conditional"
    if not isinstance(model, BaseVAE):
        raise ConfigError(
            f"{explorer} needs a trained course model (a BaseVAE subclass such as MLPVAE or ConvVAE64, with "
            f"{needs}), got {type(model).__name__}. Pass the VAE itself, e.g. the model zoo.get(...) returns."
        )
    for method in ("encode", "decode"):
        if getattr(type(model), method) is getattr(BaseVAE, method):
            raise ConfigError(
                f"{explorer}: {type(model).__name__} does not implement {method}, which the explorer calls on every "
                f"move ({needs}). Define {method} in the class, or pass a course model such as MLPVAE."
            )

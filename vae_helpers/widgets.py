"""Interactive latent exploration with ipywidgets 8.

:class:`LatentExplorer` shows one slider for each of the ``k`` most informative latent dimensions
(ranked and labelled by their KL in nats), decodes the current code as you drag, and has buttons to
start from an encoded test image, reset to the origin, or draw a random code from the prior.

All logic lives in plain methods (:meth:`LatentExplorer.set_dim`, :meth:`decode_current`, ...)
so that it is unit-tested without a browser; the widgets only call them. GitHub does not run
widgets, so :meth:`LatentExplorer.static_preview` draws a static figure for committed outputs.
"""

from __future__ import annotations

import io
import time
from typing import Sequence

import numpy as np
import torch

from .data import ImageSplit
from .models import BaseVAE


def to_png(image: torch.Tensor, scale: int = 6) -> bytes:
    """``[C x H x W]`` pixel means in [0, 1] -> PNG bytes, enlarged ``scale`` times (nearest neighbour)."""
    from PIL import Image

    array = (image.detach().float().cpu().clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    array = array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)
    img = Image.fromarray(array)
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class LatentExplorer:
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

    def __init__(self, model: BaseVAE, kl_per_dim: torch.Tensor | None = None, k: int = 6, images: ImageSplit | None = None,
                 value_range: float = 3.0, scale: int = 6) -> None:
        self.model = model.eval()
        d = model.latent_dim
        k = min(k, d)
        if kl_per_dim is None:
            self.dims: list[int] = list(range(k))
            self.kl = torch.full((d,), float("nan"))
        else:
            self.kl = kl_per_dim.detach().float().cpu()
            self.dims = [int(i) for i in torch.argsort(self.kl, descending=True)[:k]]
        self.images = images
        self.value_range = value_range
        self.scale = scale
        self.z = torch.zeros(d)
        self.last_latency_ms = float("nan")
        self._widgets = None
        self._syncing = False  # True while code moves the sliders, so their callbacks do not re-decode

    # -- logic (browser-free, unit-tested) -----------------------------------------------------
    @torch.no_grad()
    def decode_current(self) -> torch.Tensor:
        """Decode the current code: ``[C x H x W]`` pixel means."""
        return torch.sigmoid(self.model.decode(self.z.unsqueeze(0).to(self.model.device)))[0].cpu()

    def set_dim(self, slider_index: int, value: float) -> torch.Tensor:
        """Set the latent coordinate behind slider ``slider_index`` and return the new decoded image."""
        self.z[self.dims[slider_index]] = float(value)
        return self._refresh()

    @torch.no_grad()
    def encode_image(self, index: int) -> torch.Tensor:
        """Start from the posterior mean of test image ``index``."""
        if self.images is None:
            raise ValueError("LatentExplorer was built without images to encode.")
        x = self.images.float_images(slice(index, index + 1)).to(self.model.device)
        self.z = self.model.encode(x)[0][0].cpu()
        return self._refresh(sync_sliders=True)

    def reset(self) -> torch.Tensor:
        """Back to the origin of the latent space (the prior's mode)."""
        self.z = torch.zeros(self.model.latent_dim)
        return self._refresh(sync_sliders=True)

    def randomise(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """A fresh code from the prior N(0, I)."""
        self.z = torch.randn(self.model.latent_dim, generator=generator)
        return self._refresh(sync_sliders=True)

    def _refresh(self, sync_sliders: bool = False) -> torch.Tensor:
        started = time.perf_counter()
        image = self.decode_current()
        if self._widgets is not None:
            self._widgets["image"].value = to_png(image, self.scale)
            if sync_sliders:
                self._syncing = True
                for slider, dim in zip(self._widgets["sliders"], self.dims):
                    slider.value = float(np.clip(self.z[dim].item(), -self.value_range, self.value_range))
                self._syncing = False
        self.last_latency_ms = (time.perf_counter() - started) * 1000
        return image

    # -- widgets -----------------------------------------------------------------------------
    def widget(self):
        """Build (once) and return the ipywidgets box."""
        if self._widgets is not None:
            return self._widgets["box"]
        import ipywidgets as w

        sliders = []
        for i, dim in enumerate(self.dims):
            kl = self.kl[dim].item()
            label = f"z[{dim}]" + ("" if np.isnan(kl) else f" KL {kl:.2f}")
            slider = w.FloatSlider(value=0.0, min=-self.value_range, max=self.value_range, step=0.05, description=label,
                                   continuous_update=True, readout_format=".2f", style={"description_width": "110px"},
                                   layout=w.Layout(width="420px"))
            slider.observe(lambda change, i=i: None if self._syncing else self.set_dim(i, change["new"]), names="value")
            sliders.append(slider)
        image = w.Image(value=to_png(self.decode_current(), self.scale), format="png")
        buttons = []
        reset = w.Button(description="origin", tooltip="reset every coordinate to 0")
        reset.on_click(lambda _: self.reset())
        rand = w.Button(description="random", tooltip="draw z from the prior N(0, I)")
        rand.on_click(lambda _: self.randomise())
        buttons += [reset, rand]
        controls = [w.HTML("<b>Latent sliders</b> (dimensions ranked by KL, in nats)"), *sliders]
        if self.images is not None:
            index = w.BoundedIntText(value=0, min=0, max=len(self.images) - 1, description="test image", layout=w.Layout(width="200px"))
            encode = w.Button(description="encode", tooltip="start from the code of this test image")
            encode.on_click(lambda _: self.encode_image(index.value))
            controls.append(w.HBox([index, encode]))
        controls.append(w.HBox(buttons))
        box = w.HBox([w.VBox(controls), image])
        self._widgets = {"box": box, "sliders": sliders, "image": image}
        return box

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget())

    def static_preview(self, values: Sequence[float] = (-2.5, -1.25, 0.0, 1.25, 2.5)):
        """A matplotlib figure of what the sliders do, from the current code (for GitHub and PDFs)."""
        from .plots import plot_traversal

        return plot_traversal(self.model, self.z, self.dims, values,
                              title="Static preview of the sliders: each row moves one latent coordinate")

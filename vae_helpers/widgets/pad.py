"""The 2-D latent pad: click on the decoded manifold (or use two sliders) to pick (z1, z2)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ..data import ImageSplit
from ..models import BaseVAE
from ..plots import check_count
from .base import (
    LiveDecoder,
    check_explorer_model,
    check_range,
    check_slider_value,
    decode_pixels,
    float_slider,
    image_widget,
    to_png,
)


class LatentPad2D(LiveDecoder):
    """A click pad over the decoded manifold of a 2-D latent space (non-conditional model, ``latent_dim == 2``).

    The pad tiles ``n x n`` decodes at evenly spaced cell centres in ``[-extent, extent]^2``, so pad pixels map
    linearly to codes (3 covers 99.7% of the prior per axis). Click, drag or use the two sliders: a red cross marks
    the current ``(z1, z2)``, decoded beside the pad ``scale`` times enlarged. ``images``: a split to start from.
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
        self.extent = check_range("extent", extent)
        self.n = check_count("n", n, 2)
        self.images = images
        self.scale = check_count("scale", scale, 1)
        self.z = torch.zeros(2)
        self.manifold = self.manifold_grid()  # uint8 [nH x nW x 3], drawn once
        self._pad_png: bytes | None = None

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

    def _current_z(self) -> torch.Tensor:
        return self.z

    def set_point(self, z1: float, z2: float) -> torch.Tensor:
        """Move to the code ``(z1, z2)``; returns the decoded image ``[C x H x W]``."""
        z1, z2 = (check_slider_value(name, v, self.extent, "pad") for name, v in (("z1", z1), ("z2", z2)))
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
        """A code drawn from the prior N(0, I) (from the global RNG when ``generator`` is None)."""
        z = torch.randn(2, generator=generator)
        return self.set_point(float(z[0]), float(z[1]))

    def handle_pad_event(self, event: Mapping[str, Any]) -> torch.Tensor | None:
        """Handle an ``ipyevents`` click, or a move with the left button held: the decoded image, or None if the
        point does not move. Uses ``dataX``/``dataY`` (image pixels), else ``relativeX``/``relativeY`` over the box."""
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

    def widget(self):
        """Build (once) and return the ipywidgets box: pad (clickable), two sliders, decoded image."""
        if self._widgets is not None:
            return self._widgets["box"]
        import ipywidgets as w

        pad = image_widget(to_png(self.pad_image(), 1), *self.manifold.shape[:2], "vae-latent-pad")
        h, w_ = self.model.image_shape[1:]
        image = image_widget(
            to_png(self.decode_current(), self.scale), h * self.scale, w_ * self.scale, "vae-decoded-image"
        )
        sliders = []
        for i, name in enumerate(("z1", "z2")):
            slider = float_slider(name, self.extent, width="380px")
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
            controls.append(self._test_image_picker("move to the code of this test image"))
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
        self.z[axis] = check_slider_value(f"z{axis + 1}", value, self.extent, "pad")
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

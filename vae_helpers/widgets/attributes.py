"""The attribute sliders: decode ``base_z + sum_i s_i * direction_i`` (e.g. "Smiling" on CelebA)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ..data import ImageSplit
from ..models import BaseVAE
from ..plots import check_count
from .base import (
    LiveDecoder,
    check_explorer_model,
    check_finite_code,
    check_range,
    check_slider_value,
    decode_pixels,
    float_slider,
    image_widget,
    to_png,
)


class AttributeExplorer(LiveDecoder):
    """Sliders that add attribute directions to a base code: the image decodes ``base_z + sum_i s_i * direction_i``.

    Args:
        model: a trained non-conditional :class:`BaseVAE` (e.g. ``ConvVAE64`` on CelebA).
        directions: name -> ``[D]`` direction, e.g. :func:`~vae_helpers.attributes.as_vectors` of
            :func:`~vae_helpers.attributes.attribute_directions`.
        base_z: ``[D]`` starting code (default: the origin).
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
            self.directions[name] = check_finite_code(f"direction {name!r}", vec)
        if base_z is not None and base_z.numel() != d:
            raise ValueError(f"base_z must be [D] = [{d}], got {tuple(base_z.shape)}.")
        if base_z is not None:
            check_finite_code("base_z", torch.as_tensor(base_z).detach().float().cpu().reshape(-1))
        self.model = model  # evaluated in eval mode on each update; its own mode is left alone
        self.value_range = check_range("value_range", value_range)
        self.scale = check_count("scale", scale, 1)
        self.images = images
        self._initial_base = torch.zeros(d) if base_z is None else base_z.detach().float().cpu().reshape(-1).clone()
        self.base_z = self._initial_base.clone()
        self.strengths: dict[str, float] = {name: 0.0 for name in self.directions}

    @property
    def names(self) -> list[str]:
        return list(self.directions)

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
        self.strengths[name] = check_slider_value(f"the strength of {name!r}", value, self.value_range)
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

    def widget(self):
        """Build (once) and return the ipywidgets box: one slider per direction, base and edited images."""
        if self._widgets is not None:
            return self._widgets["box"]
        import ipywidgets as w

        sliders = []
        for name, vec in self.directions.items():
            slider = float_slider(name, self.value_range, width="400px")
            slider.tooltip = f"adds s x the '{name}' direction (norm {vec.norm():.2f}) to the base code"
            slider.observe(
                lambda change, name=name: None if self._syncing else self.set_strength(name, change["new"]),
                names="value",
            )
            sliders.append(slider)
        h, w_ = self.model.image_shape[1:]
        base = image_widget(to_png(decode_pixels(self.model, self.base_z), self.scale), h * self.scale, w_ * self.scale)
        image = image_widget(
            to_png(self.decode_current(), self.scale), h * self.scale, w_ * self.scale, "vae-decoded-image"
        )
        reset = w.Button(description="reset", tooltip="starting code, every strength 0")
        reset.on_click(lambda _: self.reset())
        controls = [w.HTML("<b>Attribute sliders</b>: base code + strength x direction"), *sliders]
        if self.images is not None:
            controls.append(self._test_image_picker("use this test image's code as the base"))
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

        from ..plots import image_grid, squeeze_channels

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
            grid = squeeze_channels(image_grid(row, nrow=len(values)))
            ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_ylabel(name, rotation=0, ha="right", va="center")
            ax.grid(False)
        axes[-1, 0].set_xlabel("strength s: " + "  ".join(f"{v:+.1f}" for v in values))
        fig.suptitle("Static preview of the attribute sliders: base code + s x direction")
        fig.tight_layout()
        return fig

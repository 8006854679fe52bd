"""The sliders over the most informative latent dimensions of a trained model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..data import ImageSplit
from ..errors import ConfigError
from ..models import BaseVAE
from ..plots import check_count
from .base import LiveDecoder, check_explorer_model, check_range, check_slider_value, float_slider, image_widget, to_png


class LatentExplorer(LiveDecoder):
    """Sliders over the ``k`` most active latent dimensions of a trained non-conditional model.

    ``kl_per_dim``: ``[D]`` mean KL per dimension in nats (:func:`vae_helpers.latent.kl_per_dimension`); the ``k``
    largest get sliders, labelled with it (``None``: the first ``k``). ``images``: a split to start from (optional).
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
        k = min(check_count("k", k, 1), d)
        if kl_per_dim is None:
            self.dims: list[int] = list(range(k))
            self.kl = torch.full((d,), float("nan"))
        else:
            if kl_per_dim.shape != (d,):
                raise ValueError(f"kl_per_dim must be [D] = [{d}], got {tuple(kl_per_dim.shape)}.")
            self.kl = kl_per_dim.detach().float().cpu()
            self.dims = [int(i) for i in torch.argsort(self.kl, descending=True)[:k]]
        self.images = images
        self.value_range = check_range("value_range", value_range)
        self.scale = check_count("scale", scale, 1)
        self.z = torch.zeros(d)

    def _current_z(self) -> torch.Tensor:
        return self.z

    def set_dim(self, slider_index: int, value: float) -> torch.Tensor:
        """Set the coordinate behind slider ``slider_index``; returns the decoded image ``[C x H x W]``."""
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
        self.z[dim] = check_slider_value(f"slider {int(slider_index)} (z[{dim}])", value, self.value_range)
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
        """A fresh code from the prior N(0, I) (from the global RNG when ``generator`` is None)."""
        self.z = torch.randn(self.model.latent_dim, generator=generator)
        return self._refresh(sync_sliders=True)

    def _sync_controls(self) -> None:
        for slider, dim in zip(self._widgets["sliders"], self.dims):
            slider.value = float(np.clip(self.z[dim].item(), -self.value_range, self.value_range))

    def widget(self):
        """Build (once) and return the ipywidgets box."""
        if self._widgets is not None:
            return self._widgets["box"]
        import ipywidgets as w

        sliders = []
        for i, dim in enumerate(self.dims):
            kl = self.kl[dim].item()
            slider = float_slider(f"z[{dim}]" + ("" if np.isnan(kl) else f" KL {kl:.2f}"), self.value_range)
            slider.observe(lambda change, i=i: None if self._syncing else self.set_dim(i, change["new"]), names="value")
            sliders.append(slider)
        h, w_ = self.model.image_shape[1:]
        image = image_widget(
            to_png(self.decode_current(), self.scale), h * self.scale, w_ * self.scale, "vae-decoded-image"
        )
        reset = w.Button(description="origin", tooltip="reset every coordinate to 0")
        reset.on_click(lambda _: self.reset())
        rand = w.Button(description="random", tooltip="draw z from the prior N(0, I)")
        rand.on_click(lambda _: self.randomise())
        controls = [w.HTML("<b>Latent sliders</b> (dimensions ranked by KL, in nats)"), *sliders]
        if self.images is not None:
            controls.append(self._test_image_picker("start from the code of this test image"))
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
        from ..plots import plot_coordinate_sweep

        return plot_coordinate_sweep(
            self.model,
            self.z,
            self.dims,
            values,
            title="Static preview of the sliders: each row sets one latent coordinate to the values below",
        )

"""Interactive latent exploration with ipywidgets 8: one module per explorer, the shared machinery in :mod:`.base`.

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
image widget's value), its parts in ``last_timings`` and its start in ``update_log`` (the browser test pairs it
with the moment the browser shows the image).
GitHub does not run widgets, so every explorer has ``static_preview()``: a matplotlib figure for the
committed outputs.

Images: every course model's ``decode`` returns *logits*; the pixel means are ``sigmoid(logits)`` for
the Bernoulli decoder and also for the Gaussian one (``losses.gaussian_nll`` uses
``N(sigmoid(logits), sigma^2)``), so the displayed image is ``sigmoid(decode(z))`` in both cases.
"""

from .attributes import AttributeExplorer
from .base import LiveDecoder, decode_pixels, to_png
from .latent import LatentExplorer
from .pad import LatentPad2D

__all__ = ["AttributeExplorer", "LatentExplorer", "LatentPad2D", "LiveDecoder", "decode_pixels", "to_png"]

"""Interactive latent explorers for ipywidgets 8, one module each, sharing :mod:`.base`.

:class:`LatentExplorer`: sliders for the ``k`` latent dimensions of highest KL. :class:`LatentPad2D`: click (with
``ipyevents``), drag or slide over the decoded manifold of a 2-D latent. :class:`AttributeExplorer`: sliders along
attribute directions (e.g. "Smiling" on CelebA). Every update decodes in eval mode (the model keeps its own mode) and
shows ``sigmoid(decode(z))``, the pixel means of both course decoders. The logic is in plain methods, usable without
a browser; ``static_preview()`` draws a matplotlib figure where widgets do not run (GitHub).
"""

from .attributes import AttributeExplorer
from .base import LiveDecoder, decode_pixels, to_png
from .latent import LatentExplorer
from .pad import LatentPad2D

__all__ = ["AttributeExplorer", "LatentExplorer", "LatentPad2D", "LiveDecoder", "decode_pixels", "to_png"]

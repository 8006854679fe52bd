"""Widget logic, without a browser: every control must change the image exactly as decoding its code does.

The browser side (a real slider dragged in JupyterLab) is tests/test_browser.py.
"""

import io

import matplotlib
import numpy as np
import pytest
import torch
from _modes import ModeGuard, mixed_mode
from PIL import Image

from vae_helpers.data import ImageSplit
from vae_helpers.errors import ConfigError
from vae_helpers.models import MLPVAE, ConvVAE64, eval_mode
from vae_helpers.widgets import AttributeExplorer, LatentExplorer, LatentPad2D, decode_pixels, to_png

matplotlib.use("Agg")


def _decode(model, z):
    with torch.no_grad():
        return torch.sigmoid(model.decode(z.reshape(1, -1)))[0]


def _png_pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_png_encoding_keeps_pixels():
    image = torch.zeros(1, 4, 4)
    image[0, 1, 2] = 1.0
    decoded = _png_pixels(to_png(image, scale=3))
    assert decoded.shape == (12, 12) and decoded[3:6, 6:9].min() == 255 and decoded[:3].max() == 0
    rgb = torch.zeros(3, 2, 2)
    rgb[0, 0, 1] = 1.0  # red pixel top-right
    decoded = _png_pixels(to_png(rgb, scale=2))
    assert decoded.shape == (4, 4, 3) and decoded[0, 3].tolist() == [255, 0, 0] and decoded[3, 0].tolist() == [0, 0, 0]


def test_slider_update_equals_decoding_that_code():
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=8).eval()
    kl = torch.tensor([0.1, 3.0, 0.0, 2.0, 0.5, 0.0, 1.0, 0.0])
    explorer = LatentExplorer(model, kl_per_dim=kl, k=3)
    assert explorer.dims == [1, 3, 6]  # ranked by KL
    image = explorer.set_dim(1, 1.7)  # slider 1 moves z[3]
    z = torch.zeros(8)
    z[3] = 1.7
    assert torch.allclose(image, _decode(model, z))
    image = explorer.set_dim(2, -0.4)  # slider 2 moves z[6]; z[3] stays
    z[6] = -0.4
    assert torch.allclose(image, _decode(model, z))
    assert explorer.last_latency_ms > 0 and set(explorer.last_timings) == {"decode", "png", "display"}
    assert torch.allclose(explorer.reset(), _decode(model, torch.zeros(8)))
    with pytest.raises(ValueError, match="kl_per_dim"):
        LatentExplorer(model, kl_per_dim=torch.zeros(3))


def test_widget_slider_sets_the_displayed_png_of_that_code():
    torch.manual_seed(1)
    model = MLPVAE(latent_dim=5).eval()
    explorer = LatentExplorer(model, kl_per_dim=torch.tensor([0.0, 0.0, 4.0, 0.0, 1.0]), k=2, scale=2)
    explorer.widget()
    before = explorer._widgets["image"].value
    explorer._widgets["sliders"][0].value = -2.0  # what dragging does: the callback decodes z[2] = -2
    z = torch.zeros(5)
    z[2] = -2.0
    shown = explorer._widgets["image"].value
    assert shown != before and shown == to_png(_decode(model, z), 2)
    # randomise draws from the prior and moves the sliders (clipped to their range) without re-decoding twice
    z = explorer.randomise(torch.Generator().manual_seed(3))
    expected = torch.randn(5, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(explorer.z, expected) and torch.allclose(z, _decode(model, expected))
    assert explorer._widgets["sliders"][1].value == pytest.approx(float(np.clip(expected[4].item(), -3, 3)))


def test_widget_sliders_drive_the_image(fashion):
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=4).eval()
    explorer = LatentExplorer(model, k=2, images=fashion.test)
    box = explorer.widget()
    before = explorer._widgets["image"].value
    explorer._widgets["sliders"][0].value = 2.5  # what dragging does
    assert explorer.z[0].item() == 2.5 and explorer._widgets["image"].value != before
    explorer.encode_image(3)
    mu = model.encode(fashion.test.float_images(slice(3, 4)))[0][0]
    assert torch.allclose(explorer.z, mu)
    assert explorer._widgets["sliders"][1].value == pytest.approx(float(np.clip(mu[1].item(), -3, 3)))
    assert box is explorer.widget()


# -- 2-D pad ------------------------------------------------------------------------------------
def _pad(**kw):
    torch.manual_seed(0)
    return LatentPad2D(MLPVAE(latent_dim=2).eval(), **kw)


def test_pad_needs_a_2d_latent_space():
    with pytest.raises(ValueError, match="2-D latent space"):
        LatentPad2D(MLPVAE(latent_dim=3))


def test_pad_geometry_maps_pixels_to_codes_linearly():
    pad = _pad(extent=3.0, n=15)
    assert pad.manifold.shape == (15 * 28, 15 * 28, 3) and pad.manifold.dtype == np.uint8
    h, w = pad.manifold.shape[:2]
    assert pad.point_from_pixel(0, 0) == (-3.0, 3.0)  # top-left is (z1 min, z2 max)
    assert pad.point_from_pixel(w, h) == (3.0, -3.0)
    assert pad.point_from_pixel(w / 2, h / 2) == pytest.approx((0.0, 0.0))
    assert pad.point_from_pixel(50, 25, width=100, height=100) == pytest.approx((0.0, 1.5))  # a scaled-down pad
    assert pad.point_from_pixel(-10, 10 * h) == (-3.0, -3.0)  # clipped
    assert pad.pixel_from_point(*pad.point_from_pixel(123.0, 45.0)) == pytest.approx((123.0, 45.0))
    np.testing.assert_allclose(pad.cell_centres(), -3 + (np.arange(15) + 0.5) * 0.4)


def test_pad_manifold_cells_are_decodes_of_their_centres():
    pad = _pad(extent=2.0, n=4)
    c = pad.cell_centres()
    row, col = 1, 2  # row 1 from the top has z2 = c[4 - 1 - 1]
    cell = pad.manifold[row * 28 : (row + 1) * 28, col * 28 : (col + 1) * 28, 0]
    expected = (_decode(pad.model, torch.tensor([c[col], c[2]], dtype=torch.float32))[0].numpy() * 255).round()
    np.testing.assert_array_equal(cell, expected.astype(np.uint8))
    # the cell centre pixel maps back to the centre code
    assert pad.point_from_pixel((col + 0.5) * 28, (row + 0.5) * 28) == pytest.approx((c[col], c[2]))


def test_pad_click_and_sliders_decode_the_picked_code():
    pad = _pad()
    pad.widget()
    pad_before = pad._widgets["pad"].value
    image = pad.set_point(1.2, -0.7)
    assert torch.allclose(image, _decode(pad.model, torch.tensor([1.2, -0.7])))
    assert [s.value for s in pad._widgets["sliders"]] == pytest.approx([1.2, -0.7])
    assert pad._widgets["image"].value == to_png(image, pad.scale) and pad._widgets["pad"].value != pad_before
    # the marker is drawn red at the code's pixel
    x, y = pad.pixel_from_point(1.2, -0.7)
    assert _png_pixels(pad._widgets["pad"].value)[int(round(y)), int(round(x))].tolist() == [230, 30, 30]
    # an ipyevents click in the image's own pixels (dataX/dataY) moves there
    h, w = pad.manifold.shape[:2]
    image = pad.handle_pad_event({"type": "click", "dataX": w * 0.75, "dataY": h * 0.25})
    assert pad.z.tolist() == pytest.approx([1.5, 1.5]) and torch.allclose(
        image, _decode(pad.model, torch.tensor([1.5, 1.5]))
    )
    # a move without the left button does nothing; a drag (buttons=1) moves; relative coordinates are scaled
    assert pad.handle_pad_event({"type": "mousemove", "buttons": 0, "dataX": 0, "dataY": 0}) is None
    assert pad.z.tolist() == pytest.approx([1.5, 1.5])
    pad.handle_pad_event(
        {
            "type": "mousemove",
            "buttons": 1,
            "relativeX": 0,
            "relativeY": 200,
            "boundingRectWidth": 200,
            "boundingRectHeight": 200,
        }
    )
    assert pad.z.tolist() == pytest.approx([-3.0, -3.0])
    # a slider moves one coordinate only
    pad._widgets["sliders"][1].value = 0.5
    assert pad.z.tolist() == pytest.approx([-3.0, 0.5])
    assert pad._widgets["image"].value == to_png(_decode(pad.model, torch.tensor([-3.0, 0.5])), pad.scale)
    assert torch.allclose(pad.reset(), _decode(pad.model, torch.zeros(2)))


def test_pad_encodes_test_images(fashion):
    pad = _pad(images=fashion.test)
    pad.encode_image(5)
    mu = pad.model.encode(fashion.test.float_images(slice(5, 6)))[0][0]
    assert torch.allclose(pad.z, mu.detach())


# -- attribute directions -------------------------------------------------------------------------
def test_attribute_sliders_add_scaled_directions():
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=6).eval()
    smile, glasses = torch.randn(6), torch.randn(6)
    base = torch.randn(6)
    explorer = AttributeExplorer(model, {"Smiling": smile, "Eyeglasses": glasses}, base_z=base, value_range=2.0)
    explorer.set_strength("Smiling", 1.5)
    image = explorer.set_strength("Eyeglasses", -0.5)
    expected_z = base + 1.5 * smile - 0.5 * glasses
    assert torch.allclose(explorer.current_z(), expected_z)
    assert torch.allclose(image, _decode(model, expected_z))
    with pytest.raises(KeyError, match="Smiling"):
        explorer.set_strength("Bald", 1.0)
    with pytest.raises(ValueError, match=r"\[D\] = \[6\]"):
        AttributeExplorer(model, {"bad": torch.zeros(5)})
    # the widget: a slider drag decodes the same thing, reset returns to the base code
    explorer.widget()
    explorer._widgets["sliders"][0].value = -1.0  # Smiling
    expected_z = base - 1.0 * smile - 0.5 * glasses
    assert explorer._widgets["image"].value == to_png(_decode(model, expected_z), explorer.scale)
    assert torch.allclose(explorer.reset(), _decode(model, base))
    assert [s.value for s in explorer._widgets["sliders"]] == [0.0, 0.0]


def test_attribute_explorer_on_rgb_faces_model_encodes_and_previews():
    torch.manual_seed(0)
    model = ConvVAE64(latent_dim=16, channels=(8, 8, 8, 8)).eval()
    images = ImageSplit(torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8), torch.zeros(3, 40, dtype=torch.int64))
    direction = torch.randn(16)
    explorer = AttributeExplorer(model, {"Smiling": direction}, images=images)
    explorer.widget()
    explorer.set_strength("Smiling", 2.0)
    image = explorer.encode_image(1)  # the code of image 1, strengths back to 0
    with torch.no_grad():
        mu = model.encode(images.float_images(slice(1, 2)))[0][0]
    assert torch.allclose(explorer.base_z, mu) and explorer.strengths == {"Smiling": 0.0}
    assert image.shape == (3, 64, 64) and torch.allclose(image, _decode(model, mu), atol=1e-6)
    assert _png_pixels(explorer._widgets["image"].value).shape == (256, 256, 3)
    assert _png_pixels(explorer._widgets["base"].value).shape == (256, 256, 3)
    fig = explorer.static_preview(values=(-1.0, 0.0, 1.0))
    assert len(fig.axes) == 1 and fig.axes[0].get_ylabel() == "Smiling"


def test_static_previews_have_labelled_axes():
    pad = _pad(extent=2.5, n=5)
    pad.set_point(0.5, -1.0)
    fig = pad.static_preview()
    ax_pad, ax_img = fig.axes
    assert ax_pad.get_xlabel() == "$z_1$" and ax_pad.get_ylabel() == "$z_2$"
    assert ax_pad.get_xlim() == pytest.approx((-2.5, 2.5)) and "+0.50" in ax_img.get_title()
    torch.manual_seed(0)
    explorer = LatentExplorer(MLPVAE(latent_dim=4).eval(), k=2)
    assert len(explorer.static_preview().axes) == 2
    assert decode_pixels(explorer.model, torch.zeros(3, 4)).shape == (3, 1, 28, 28)


# -- the caller's model is left as it was; bad values are refused by name ------------------------
def _faces_model(latent_dim: int) -> ConvVAE64:
    torch.manual_seed(0)
    return mixed_mode(ConvVAE64(latent_dim=latent_dim, channels=(4, 4, 8, 8)))


def _eval_decode(model, z):
    """What the explorers must show: the decode in eval mode (BatchNorm running statistics)."""
    with eval_mode(model):
        return torch.sigmoid(model.decode(z.reshape(1, -1)))[0]


def test_explorers_keep_the_model_mode_and_batchnorm_statistics():
    images = ImageSplit(torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8), torch.zeros(3, 40, dtype=torch.int64))
    model = _faces_model(8)
    guard = ModeGuard(model)
    explorer = LatentExplorer(model, k=2, images=images)
    guard.check("LatentExplorer()")
    explorer.widget()
    image = explorer.set_dim(1, 1.5)
    guard.check("LatentExplorer.set_dim")
    assert torch.allclose(image, _eval_decode(model, explorer.z), atol=1e-6)
    explorer.encode_image(2)
    explorer.randomise(torch.Generator().manual_seed(0))
    explorer.reset()
    explorer.static_preview(values=(-1.0, 1.0))
    explorer.widget()
    explorer._widgets["sliders"][0].value = 0.75  # a drag: the slider callback decodes
    guard.check("LatentExplorer methods")

    attributes = AttributeExplorer(model, {"Smiling": torch.randn(8)}, images=images)
    guard.check("AttributeExplorer()")
    attributes.widget()
    image = attributes.set_strength("Smiling", 2.0)
    assert torch.allclose(image, _eval_decode(model, attributes.current_z()), atol=1e-6)
    attributes.encode_image(0)
    attributes.reset()
    attributes.static_preview(values=(0.0, 1.0))
    guard.check("AttributeExplorer methods")

    model2 = _faces_model(2)
    guard2 = ModeGuard(model2)
    pad = LatentPad2D(model2, n=2, images=images)
    guard2.check("LatentPad2D()")
    pad.widget()
    image = pad.set_point(0.5, -0.5)
    assert torch.allclose(image, _eval_decode(model2, torch.tensor([0.5, -0.5])), atol=1e-6)
    pad.encode_image(1)
    pad.static_preview()
    guard2.check("LatentPad2D methods")
    assert torch.allclose(decode_pixels(model2, torch.zeros(2)), _eval_decode(model2, torch.zeros(2)), atol=1e-6)
    guard2.check("decode_pixels")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_slider_values_are_refused_by_name(bad):
    torch.manual_seed(0)
    explorer = LatentExplorer(MLPVAE(latent_dim=4).eval(), kl_per_dim=torch.tensor([0.0, 2.0, 1.0, 0.0]), k=2)
    explorer.set_dim(0, 1.0)
    with pytest.raises(ConfigError, match=r"slider 0 \(z\[1\]\).*finite.*-3 to 3"):
        explorer.set_dim(0, bad)
    assert explorer.z.tolist() == [0.0, 1.0, 0.0, 0.0]  # the code is unchanged, no NaN image
    pad = _pad()
    with pytest.raises(ConfigError, match=r"z2 .*finite.*-3 to 3"):
        pad.set_point(0.0, bad)
    assert pad.z.tolist() == [0.0, 0.0]
    attributes = AttributeExplorer(MLPVAE(latent_dim=4).eval(), {"Smiling": torch.ones(4)}, value_range=2.0)
    with pytest.raises(ConfigError, match=r"'Smiling'.*finite.*-2 to 2"):
        attributes.set_strength("Smiling", bad)
    assert attributes.strengths == {"Smiling": 0.0}


def test_widget_arguments_are_checked_with_clear_messages():
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=4).eval()
    with pytest.raises(ConfigError, match=r"k must be an integer >= 1, got 0"):
        LatentExplorer(model, k=0)
    for kwargs in ({"value_range": 0.0}, {"value_range": float("nan")}):
        with pytest.raises(ConfigError, match=r"value_range must be a finite number > 0"):
            LatentExplorer(model, **kwargs)
    with pytest.raises(ConfigError, match=r"scale must be an integer >= 1, got 0"):
        LatentExplorer(model, scale=0)
    explorer = LatentExplorer(
        model, k=2, images=ImageSplit(torch.zeros(3, 1, 28, 28, dtype=torch.uint8), torch.zeros(3, dtype=torch.int64))
    )
    with pytest.raises(ConfigError, match=r"slider_index 2 is out of range: this explorer has 2 sliders \(0 to 1\)"):
        explorer.set_dim(2, 1.0)
    with pytest.raises(ConfigError, match=r"test image index 3 is out of range: 3 images \(0 to 2\)"):
        explorer.encode_image(3)
    with pytest.raises(ConfigError, match=r"extent must be a finite number > 0"):
        LatentPad2D(MLPVAE(latent_dim=2), extent=float("nan"))
    with pytest.raises(ConfigError, match=r"n must be an integer >= 2, got 1"):
        LatentPad2D(MLPVAE(latent_dim=2), n=1)
    with pytest.raises(ConfigError, match=r"direction 'Smiling' has NaN or infinite entries"):
        AttributeExplorer(model, {"Smiling": torch.tensor([0.0, float("nan"), 0.0, 0.0])})
    with pytest.raises(ConfigError, match=r"base_z has NaN or infinite entries"):
        AttributeExplorer(model, {"Smiling": torch.ones(4)}, base_z=torch.full((4,), float("inf")))

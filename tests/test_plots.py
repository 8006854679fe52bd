"""Figures must not change the model they draw: its train/eval flags and BatchNorm statistics stay as they were,
and bad arguments are refused with a message that names them."""

from __future__ import annotations

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from _modes import ModeGuard, mixed_mode

from vae_helpers import plots
from vae_helpers.models import MLPVAE, ConvVAE64
from vae_helpers.plots import plot_interpolation, plot_manifold, plot_traversal


def _faces_model(latent_dim: int = 8) -> ConvVAE64:
    torch.manual_seed(0)
    return mixed_mode(ConvVAE64(latent_dim=latent_dim, channels=(4, 4, 8, 8)))


def test_plots_keep_the_model_mode_and_batchnorm_statistics():
    model = _faces_model()
    guard = ModeGuard(model)
    x = torch.rand(2, 3, 64, 64)
    fig = plot_interpolation(model, x[0], x[1], steps=3)
    guard.check("plot_interpolation")
    # what it shows is the eval-mode decode (running statistics), not a train-mode one
    with torch.no_grad():
        model.eval()
        z_a = model.encode(x[:1])[0]
        expected = torch.sigmoid(model.decode(z_a))[0]
    mixed_mode(model)
    shown = fig.axes[0].get_images()[0].get_array()
    assert torch.allclose(torch.as_tensor(shown[2:66, 2:66].data).permute(2, 0, 1).float(), expected.float(), atol=1e-6)
    plot_traversal(model, torch.zeros(8), dims=[0, 3], offsets=[-1.0, 1.0])
    guard.check("plot_traversal")
    model2 = _faces_model(latent_dim=2)
    guard2 = ModeGuard(model2)
    plot_manifold(model2, n=3)
    guard2.check("plot_manifold")


def test_plot_arguments_are_checked_with_clear_messages():
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=2)
    with pytest.raises(ValueError, match=r"n must be an integer >= 1.*got 0"):
        plot_manifold(model, n=0)
    with pytest.raises(ValueError, match=r"dims: latent dimension 5 is out of range.*0 to 1"):
        plot_traversal(model, torch.zeros(2), dims=[0, 5])
    with pytest.raises(ValueError, match=r"z0 must have the model's 2 latent dimensions, got 3"):
        plot_traversal(model, torch.zeros(3), dims=[0])
    with pytest.raises(ValueError, match=r"offsets.*finite.*nan"):
        plot_traversal(model, torch.zeros(2), dims=[0], offsets=[0.0, float("nan")])
    with pytest.raises(ValueError, match=r"pass offsets=\.\.\., not values=.*plot_coordinate_sweep"):
        plot_traversal(model, torch.zeros(2), dims=[0], values=[-1.0, 1.0])
    with pytest.raises(ValueError, match=r"padding must be an integer >= 0.*got -1"):
        plot_manifold(model, padding=-1)
    with pytest.raises(ValueError, match=r"clip_first_epoch must be None \(automatic\), True or False"):
        plots.plot_history(_history([3.0, 2.0, 1.0]), clip_first_epoch="yes")
    with pytest.raises(ValueError, match=r"dims must name at least one latent dimension"):
        plot_traversal(model, torch.zeros(2), dims=[])
    with pytest.raises(ValueError, match=r"steps must be an integer >= 2.*got 1"):
        plot_interpolation(model, torch.rand(1, 28, 28), torch.rand(1, 28, 28), steps=1)


def test_plot_reconstructions_can_leave_the_originals_out():
    originals, recon = torch.rand(4, 3, 8, 8), torch.rand(4, 3, 8, 8)
    with_originals = plots.plot_reconstructions(originals, recon, labels=["VAE"])
    without = plots.plot_reconstructions(originals, recon, labels=["VAE"], show_originals=False)
    assert [ax.get_ylabel() for ax in with_originals.axes] == ["original", "VAE"]
    assert [ax.get_ylabel() for ax in without.axes] == ["VAE"]
    shown = without.axes[0].get_images()[0].get_array()
    assert np.allclose(shown, plots.image_grid(recon, nrow=4)), "the one row left is the reconstructions"
    plt.close("all")


def _decoded(model, z: torch.Tensor) -> np.ndarray:
    """The eval-mode decode of one code ``[D]`` as an ``[H x W]`` image in [0, 1]."""
    with torch.no_grad():
        return torch.sigmoid(model.eval().decode(z.reshape(1, -1)))[0, 0].numpy()


def test_plot_traversal_moves_the_coordinate_by_offsets_from_the_code():
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=2).eval()
    z0 = torch.tensor([1.5, -0.75])
    fig = plot_traversal(model, z0, dims=[0, 1], offsets=[-2.0, 0.0, 1.0])
    rows = [ax.get_images()[0].get_array() for ax in fig.axes]

    def tile(grid, k: int) -> np.ndarray:  # the k-th 28 x 28 image of a row (image_grid: 2-pixel padding)
        return np.asarray(grid[2:30, 2 + 30 * k : 30 + 30 * k])

    # offset 0 is the image's own decode in every row; the others are z0[d] + offset (not the offset itself)
    for row in rows:
        assert np.allclose(tile(row, 1), _decoded(model, z0), atol=1e-6)
    assert np.allclose(tile(rows[0], 0), _decoded(model, torch.tensor([-0.5, -0.75])), atol=1e-6)
    assert np.allclose(tile(rows[1], 2), _decoded(model, torch.tensor([1.5, 0.25])), atol=1e-6)
    assert not np.allclose(tile(rows[0], 0), _decoded(model, torch.tensor([-2.0, -0.75])), atol=1e-4)
    # columns are labelled with the offsets (true minus signs), rows with the dimension and its starting value
    assert [t.get_text() for t in fig.axes[-1].get_xticklabels()] == ["\u22122.0", "+0.0", "+1.0"]
    assert "offset" in fig.axes[-1].get_xlabel()
    assert [ax.get_ylabel() for ax in fig.axes] == ["z[0]\n(z0: +1.50)", "z[1]\n(z0: \u22120.75)"]
    # the slider preview sets the coordinate to the value instead
    sweep = plots.plot_coordinate_sweep(model, z0, dims=[0], values=[-2.0])
    assert np.allclose(tile(sweep.axes[0].get_images()[0].get_array(), 0), _decoded(model, torch.tensor([-2.0, -0.75])))
    plt.close("all")


def test_plot_manifold_separates_the_tiles():
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=2).eval()
    grid = plot_manifold(model, n=3).axes[0].get_images()[0].get_array()
    assert grid.shape == (3 * 30 + 2, 3 * 30 + 2)  # 28-pixel tiles, 2 white pixels around each
    assert np.all(np.asarray(grid[:, 30:32]) == 1.0) and np.all(np.asarray(grid[60:62, :]) == 1.0)
    assert plot_manifold(model, n=3, padding=0).axes[0].get_images()[0].get_array().shape == (84, 84)
    plt.close("all")


def _history(train_loss: list[float], val_loss: list[float] | None = None) -> dict[str, list[float]]:
    val_loss = val_loss or [v + 1.0 for v in train_loss]
    return {
        "epoch": list(range(1, len(train_loss) + 1)),
        **{
            f"{split}_{key}": list(values)
            for split, values in (("train", train_loss), ("val", val_loss))
            for key in ("loss", "recon")
        },
        "train_kl": [5.0 + 0.1 * i for i in range(len(train_loss))],
        "val_kl": [5.5 + 0.1 * i for i in range(len(train_loss))],
    }


def test_plot_history_keeps_a_far_first_epoch_off_the_scale():
    history = _history([8000.0, -5000.0, -9000.0, -11000.0, -12000.0], [-2500.0, -6000.0, -9500.0, -11500.0, -12500.0])
    fig = plots.plot_history(history)
    loss_ax, recon_ax, kl_ax = fig.axes
    low, high = loss_ax.get_ylim()
    assert low < -12500.0 and -5000.0 < high < 0.0, "the y-limits come from epoch 2 onward"
    labels = [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert labels == ["train", "validation", "train, epoch 1: 8,000 (off scale)"]
    marker = loss_ax.get_lines()[-1]
    assert marker.get_marker() == "^" and marker.get_ydata()[0] == high and not marker.get_clip_on()
    assert kl_ax.get_ylim()[0] < 5.0 and len(kl_ax.get_legend().get_texts()) == 2, "a steady curve is left as is"
    unclipped = plots.plot_history(history, clip_first_epoch=False).axes[0]
    assert unclipped.get_ylim()[1] > 8000.0 and len(unclipped.get_legend().get_texts()) == 2
    forced = plots.plot_history(history, clip_first_epoch=True).axes[2]
    assert forced.get_ylim()[0] > 5.0, "True sets every panel's limits from epoch 2 onward"
    plt.close("all")

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
    plot_traversal(model, torch.zeros(8), dims=[0, 3], values=[-1.0, 1.0])
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
    with pytest.raises(ValueError, match=r"values.*finite.*nan"):
        plot_traversal(model, torch.zeros(2), dims=[0], values=[0.0, float("nan")])
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

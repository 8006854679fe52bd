"""Fast variants of the benchmarks, so they cannot rot. Speed targets are printed by the benchmarks, never asserted here."""

import os

import pytest
import torch

from vae_helpers.tools import bench


def test_reference_model_matches_ours_in_size_and_objective():
    from vae_helpers.losses import vae_loss
    from vae_helpers.models import MLPVAE

    ref, ours = bench.ExamplesVAE(), MLPVAE()
    assert sum(p.numel() for p in ref.parameters()) == ours.num_parameters() == 652_824
    # Same objective: BCE on sigmoid outputs summed + analytic KL == our per-image loss times the batch size.
    torch.manual_seed(0)
    x, logits = torch.rand(4, 1, 28, 28), torch.randn(4, 1, 28, 28)
    mu, logvar = torch.randn(4, 20), torch.randn(4, 20)
    theirs = bench.examples_loss(torch.sigmoid(logits).view(4, 784), x, mu, logvar)
    assert torch.allclose(theirs, vae_loss(logits, x, mu, logvar).loss * 4, rtol=1e-4)


def test_throughput_fast_variant_prints_a_table(capsys, mnist):
    result = bench.throughput(epochs=1, train_limit=3000, device=torch.device("cpu"), profile_steps=5)
    out = capsys.readouterr().out
    assert "| pytorch/examples pattern |" in out and "| vae_helpers `fit` |" in out and "speed-up" in out
    assert "| vae_helpers `fit`, bf16 autocast |" in out and "speed-up with bf16 autocast" in out
    assert "within 0.5 nats of the reference" in out and "load average" in out and "per repeat" in out
    assert "wall / fp32 matmul limit" in out and result["limit_seconds"]["fp32"] > 0
    assert result["ratio"] > 0 and result["ratio_bf16"] > 0 and result["profile"] and result["profile_bf16"]
    ref_loss, our_loss = result["reference"][0]["test_loss"], result["ours"][0]["test_loss"]
    bf16_loss = result["ours_bf16"][0]["test_loss"]
    for loss in (ref_loss, our_loss, bf16_loss):
        assert 120 < loss < 300  # one short epoch: far from converged, but a real VAE loss
    assert abs(ref_loss - our_loss) < 15 and abs(bf16_loss - our_loss) < 3
    # the agreement column is computed, not printed blindly
    for precision, summary in result["summary"].items():
        assert summary["agrees"] == (abs(summary["loss_difference"]) <= bench.LOSS_TOLERANCE), precision
    # the bf16 profile shows bf16 matrix products: autocast casts the weights every step
    assert any("copy" in key or "to_copy" in key for key, _ in result["profile_bf16"])


def test_throughput_without_bf16_has_two_rows(capsys, mnist):
    result = bench.throughput(epochs=1, train_limit=500, device=torch.device("cpu"), profile_steps=0, bf16=False)
    out = capsys.readouterr().out
    assert "bf16 autocast" not in out and "ratio_bf16" not in result and list(result["summary"]) == ["fp32"]


def test_loglik_fast_variant_prints_a_table(capsys, mnist):
    rows = bench.loglik(epochs=1, k=20, n_test=50, device=torch.device("cpu"), train_limit=1000)
    out = capsys.readouterr().out
    assert "Burda et al. 2015" in out and "-86.76" in out
    assert [r.model for r in rows] == ["MLPVAE (D=50)", "ConvVAE (D=50)"]
    for r in rows:
        assert r.iwae >= r.elbo - 2.0 and -600 < r.elbo < 0


def test_test_binarization_is_fixed_and_binary(mnist):
    a = bench.binarized_test_split(mnist.test.head(100))
    b = bench.binarized_test_split(mnist.test.head(100))
    assert torch.equal(a.images, b.images) and set(a.images.unique().tolist()) <= {0, 255}
    assert not torch.equal(a.images, bench.binarized_test_split(mnist.test.head(100), seed=7).images)


def test_roofline_counts_the_model_products():
    from vae_helpers.models import MLPVAE, ConvVAE

    model = MLPVAE()
    layers = bench.matmul_layers(model, torch.rand(128, 1, 28, 28))
    assert [layer.input_grad for layer in layers] == [False, True, True, True]  # the data needs no gradient
    forward = 2 * 128 * (784 * 400 + 400 * 40 + 20 * 400 + 400 * 784)
    assert sum(layer.flops(False) for layer in layers) == forward
    assert sum(layer.flops(True) for layer in layers) == 3 * forward - 2 * 128 * 784 * 400
    limit = bench.roofline(model, 16, min_run_time=0.01)
    assert limit.seconds > 0 and limit.rate > 0
    conv = bench.matmul_layers(ConvVAE(), torch.rand(2, 1, 28, 28))
    # conv 1->32 on 14x14 outputs, 4x4 kernel: 2 * N * 14*14 * 1*32*16; the transposed conv 32->1 scatters 14x14 inputs
    assert (
        conv[0].forward_flops() == 2 * 2 * 14 * 14 * 32 * 16 and conv[-1].forward_flops() == 2 * 2 * 14 * 14 * 32 * 16
    )


def test_step_options_and_iwae_speed_fast_variants(capsys, mnist):
    steps = bench.step_options(("mlp", "conv"), steps=2, repeats=1, compile_=False, device=torch.device("cpu"))
    iwae = bench.iwae_speed(n_images=2, k=30, epochs=1, repeats=1, device=torch.device("cpu"), train_limit=500)
    out = capsys.readouterr().out
    assert (
        "| eager fp32 |" in out and "| channels_last fp32 |" in out and "matmul limit" in out and "native bf16" in out
    )
    assert steps["mlp"]["runs"]["eager fp32"]["of_limit"] > 0
    summary = iwae["summary"]
    assert abs(summary["direct (textbook)"]["difference"]) < 1e-3  # the same bound, computed two ways
    assert summary["iwae_log_likelihood fp32"]["of_limit"] > 0


def test_roofline_follows_the_training_forward_of_every_model_kind():
    """The autoregressive decoder is counted as trained (teacher-forced: one pass, not one per pixel), and a
    conditional model gets labels."""
    from vae_helpers.models import AutoregressiveVAE, ConditionalVAE

    layers = bench.matmul_layers(AutoregressiveVAE(latent_dim=20), torch.rand(4, 1, 28, 28))
    # encoder, to_stats | x_to_hidden (data), z_to_hidden, hidden_to_out, direct (data), z_to_out
    assert [layer.input_grad for layer in layers] == [False, True, False, True, True, False, True]
    made = 2 * 4 * (784 * 500 + 20 * 500 + 500 * 784 + 784 * 784 + 20 * 784)
    assert sum(layer.flops(False) for layer in layers) == 2 * 4 * (784 * 400 + 400 * 40) + made
    cvae = bench.matmul_layers(ConditionalVAE(latent_dim=10), torch.rand(4, 1, 28, 28))
    assert cvae[0].module.in_features == 784 + 10  # the one-hot label enters the encoder


def test_course_training_counts_every_run_of_the_retrain_path(capsys):
    from vae_helpers.zoo import RECIPES

    rows = bench.course_training(min_run_time=0.005)
    names = [r.name for r in rows]
    assert set(RECIPES) <= set(names) and any(n.startswith("08:") for n in names)
    assert next(r for r in rows if r.name.startswith("08:")).epochs == 53  # notebook 08's committed run
    ar = next(r for r in rows if r.name == "fashion-ar-vae-none")
    assert ar.images == 30_000 and ar.epochs == 12
    assert all(r.flops > 0 and r.limit > 0 and r.limit_1thread > 0 for r in rows)
    mlp = [r for r in rows if r.name in ("fashion-vae-d20", "fashion-vae-d20-mean-bce")]
    assert mlp[0].flops == mlp[1].flops  # the same architecture and budget: the same work
    out = capsys.readouterr().out
    assert "| **total** |" in out and "one-thread jobs side by side" in out


def test_jobs_side_by_side_times_one_and_several_processes(capsys, fashion):
    result = bench.jobs_side_by_side(("mlp",), images=256, bf16=False, min_run_time=0.02)
    cores = os.cpu_count() or 1
    mlp = result["mlp"]
    assert len(mlp["side_by_side"]) == cores and mlp["alone"] > 0
    assert "bf16_speedup" not in mlp
    # the roofline: the limit is the matmul time of 256 training images and the validation split
    assert 0 < mlp["limit"] < mlp["alone"] and 0 < mlp["limit_1thread"] < max(mlp["side_by_side"])
    out = capsys.readouterr().out
    assert "work per second vs 1 job" in out and "bf16 autocast" not in out
    assert f"{mlp['alone']:.2f} ({mlp['alone'] / mlp['limit']:.2f}x)" in out
    assert f"({max(mlp['side_by_side']) / mlp['limit_1thread']:.2f}x)" in out


def test_jobs_side_by_side_adds_the_bf16_epochs_when_asked(capsys, fashion):
    result = bench.jobs_side_by_side(("mlp",), images=256, bf16=True, min_run_time=0.02)
    cores = os.cpu_count() or 1
    mlp = result["mlp"]
    assert len(mlp["side_by_side_bf16"]) == cores and all(s > 0 for s in mlp["side_by_side_bf16"])
    assert mlp["bf16_speedup"] == pytest.approx(max(mlp["side_by_side"]) / max(mlp["side_by_side_bf16"]))
    assert mlp["limit_bf16_1thread"] > 0
    out = capsys.readouterr().out
    assert "bf16 vs fp32, side by side" in out and f"{mlp['bf16_speedup']:.2f}x |" in out
    assert f"({max(mlp['side_by_side_bf16']) / mlp['limit_bf16_1thread']:.2f}x)" in out

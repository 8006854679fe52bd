"""Fast variants of the benchmarks (benchmarks/, at the repo root), so they cannot rot, and the GPU check's dry run.
Speed targets are printed by the benchmarks, never asserted here."""

import os

import pytest
import torch

from benchmarks import course, iwae, jobs, loglik, reference, roofline, steps, throughput


def test_reference_model_matches_ours_in_size_and_objective():
    from vae_helpers.losses import vae_loss
    from vae_helpers.models import MLPVAE

    ref, ours = reference.ExamplesVAE(), MLPVAE()
    assert sum(p.numel() for p in ref.parameters()) == ours.num_parameters() == 652_824
    # Same objective: BCE on sigmoid outputs summed + analytic KL == our per-image loss times the batch size.
    torch.manual_seed(0)
    x, logits = torch.rand(4, 1, 28, 28), torch.randn(4, 1, 28, 28)
    mu, logvar = torch.randn(4, 20), torch.randn(4, 20)
    theirs = reference.examples_loss(torch.sigmoid(logits).view(4, 784), x, mu, logvar)
    assert torch.allclose(theirs, vae_loss(logits, x, mu, logvar).loss * 4, rtol=1e-4)


def test_throughput_fast_variant_prints_a_table(capsys, mnist):
    result = throughput.throughput(epochs=1, train_limit=3000, device=torch.device("cpu"), profile_steps=5)
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
        assert summary["agrees"] == (abs(summary["loss_difference"]) <= reference.LOSS_TOLERANCE), precision
    # the bf16 profile shows bf16 matrix products: autocast casts the weights every step
    assert any("copy" in key or "to_copy" in key for key, _ in result["profile_bf16"])


def test_throughput_without_bf16_has_two_rows(capsys, mnist):
    result = throughput.throughput(epochs=1, train_limit=500, device=torch.device("cpu"), profile_steps=0, bf16=False)
    out = capsys.readouterr().out
    assert "bf16 autocast" not in out and "ratio_bf16" not in result and list(result["summary"]) == ["fp32"]


def test_loglik_fast_variant_prints_a_table(capsys, mnist):
    rows = loglik.loglik(epochs=1, k=20, n_test=50, device=torch.device("cpu"), train_limit=1000)
    out = capsys.readouterr().out
    assert "Burda et al. 2015" in out and "-86.76" in out
    assert [r.model for r in rows] == ["MLPVAE (D=50)", "ConvVAE (D=50)"]
    for r in rows:
        assert r.iwae >= r.elbo - 2.0 and -600 < r.elbo < 0


def test_test_binarization_is_fixed_and_binary(mnist):
    a = reference.binarized_test_split(mnist.test.head(100))
    b = reference.binarized_test_split(mnist.test.head(100))
    assert torch.equal(a.images, b.images) and set(a.images.unique().tolist()) <= {0, 255}
    assert not torch.equal(a.images, reference.binarized_test_split(mnist.test.head(100), seed=7).images)


def test_roofline_counts_the_model_products():
    from vae_helpers.models import MLPVAE, ConvVAE

    model = MLPVAE()
    layers = roofline.matmul_layers(model, torch.rand(128, 1, 28, 28))
    assert [layer.input_grad for layer in layers] == [False, True, True, True]  # the data needs no gradient
    forward = 2 * 128 * (784 * 400 + 400 * 40 + 20 * 400 + 400 * 784)
    assert sum(layer.flops(False) for layer in layers) == forward
    assert sum(layer.flops(True) for layer in layers) == 3 * forward - 2 * 128 * 784 * 400
    limit = roofline.roofline(model, 16, min_run_time=0.01)
    assert limit.seconds > 0 and limit.rate > 0
    conv = roofline.matmul_layers(ConvVAE(), torch.rand(2, 1, 28, 28))
    # conv 1->32 on 14x14 outputs, 4x4 kernel: 2 * N * 14*14 * 1*32*16; the transposed conv 32->1 scatters 14x14 inputs
    assert (
        conv[0].forward_flops() == 2 * 2 * 14 * 14 * 32 * 16 and conv[-1].forward_flops() == 2 * 2 * 14 * 14 * 32 * 16
    )


def test_step_options_and_iwae_speed_fast_variants(capsys, mnist):
    step_results = steps.step_options(("mlp", "conv"), steps=2, repeats=1, compile_=False, device=torch.device("cpu"))
    iwae_results = iwae.iwae_speed(n_images=2, k=30, epochs=1, repeats=1, device=torch.device("cpu"), train_limit=500)
    out = capsys.readouterr().out
    assert (
        "| eager fp32 |" in out and "| channels_last fp32 |" in out and "matmul limit" in out and "native bf16" in out
    )
    assert step_results["mlp"]["runs"]["eager fp32"]["of_limit"] > 0
    summary = iwae_results["summary"]
    assert abs(summary["direct (textbook)"]["difference"]) < 1e-3  # the same bound, computed two ways
    assert summary["iwae_log_likelihood fp32"]["of_limit"] > 0


def test_roofline_follows_the_training_forward_of_every_model_kind():
    """The autoregressive decoder is counted as trained (teacher-forced: one pass, not one per pixel), and a
    conditional model gets labels."""
    from vae_helpers.models import AutoregressiveVAE, ConditionalVAE

    layers = roofline.matmul_layers(AutoregressiveVAE(latent_dim=20), torch.rand(4, 1, 28, 28))
    # encoder, to_stats | x_to_hidden (data), z_to_hidden, hidden_to_out, direct (data), z_to_out
    assert [layer.input_grad for layer in layers] == [False, True, False, True, True, False, True]
    made = 2 * 4 * (784 * 500 + 20 * 500 + 500 * 784 + 784 * 784 + 20 * 784)
    assert sum(layer.flops(False) for layer in layers) == 2 * 4 * (784 * 400 + 400 * 40) + made
    cvae = roofline.matmul_layers(ConditionalVAE(latent_dim=10), torch.rand(4, 1, 28, 28))
    assert cvae[0].module.in_features == 784 + 10  # the one-hot label enters the encoder


def test_course_training_counts_every_run_of_the_retrain_path(capsys):
    from vae_helpers.zoo import RECIPES

    rows = course.course_training(min_run_time=0.005, val_batch=50)  # the counts, not the timings, are tested
    names = [r.name for r in rows]
    assert set(RECIPES) <= set(names) and any(n.startswith("10:") for n in names)
    # notebook 10's committed run: all 60 epochs (best 51)
    assert next(r for r in rows if r.name.startswith("10:")).epochs == 60
    ar = next(r for r in rows if r.name == "fashion-ar-vae-none")
    assert ar.images == 30_000 and ar.epochs == 12
    assert all(r.flops > 0 and r.limit > 0 and r.limit_1thread > 0 for r in rows)
    mlp = [r for r in rows if r.name in ("fashion-vae-d20", "fashion-vae-d20-mean-bce")]
    assert mlp[0].flops == mlp[1].flops  # the same architecture and budget: the same work
    out = capsys.readouterr().out
    assert "| **total** |" in out and "one-thread jobs side by side" in out


def test_jobs_side_by_side_times_one_and_several_processes_in_fp32_and_bf16(capsys, fashion):
    """One real run (each epoch in its own process): the lone job, the side-by-side jobs and their bf16 epochs."""
    result = jobs.jobs_side_by_side(("mlp",), images=256, bf16=True, min_run_time=0.02)
    cores = os.cpu_count() or 1
    mlp = result["mlp"]
    assert len(mlp["side_by_side"]) == cores and mlp["alone"] > 0
    assert len(mlp["side_by_side_bf16"]) == cores and all(s > 0 for s in mlp["side_by_side_bf16"])
    assert mlp["bf16_speedup"] == pytest.approx(max(mlp["side_by_side"]) / max(mlp["side_by_side_bf16"]))
    # the roofline: the limit is the measured matmul time of 256 training images and the validation split (whether
    # an epoch comes near it is the benchmark's figure, not a test's: a busy machine slows both)
    assert mlp["limit"] > 0 and mlp["limit_1thread"] > 0 and mlp["limit_bf16_1thread"] > 0
    out = capsys.readouterr().out
    assert "work per second vs 1 job" in out and "bf16 vs fp32, side by side" in out
    assert f"{mlp['alone']:.2f} ({mlp['alone'] / mlp['limit']:.2f}x)" in out
    assert f"({max(mlp['side_by_side']) / mlp['limit_1thread']:.2f}x)" in out
    assert f"{mlp['bf16_speedup']:.2f}x |" in out
    assert f"({max(mlp['side_by_side_bf16']) / mlp['limit_bf16_1thread']:.2f}x)" in out


def test_jobs_side_by_side_without_bf16_has_no_bf16_columns(capsys, fashion, monkeypatch):
    """The fp32-only table (a CPU without native bf16), with stand-in epoch times: no bf16 column, no bf16 run."""
    runs = []

    def fake_epochs(name, images, copies, threads, precision="fp32"):
        runs.append(precision)
        return [1.0 + i for i in range(copies)]

    class FakeLimit:
        def epoch_seconds(self, images, n_val):
            return 0.5, 0.25, 0.125

    monkeypatch.setattr(jobs, "epoch_processes", fake_epochs)
    monkeypatch.setattr(jobs, "per_image_limit", lambda *args: FakeLimit())
    mlp = jobs.jobs_side_by_side(("mlp",), images=256, bf16=False)["mlp"]
    cores = os.cpu_count() or 1
    assert runs == ["fp32", "fp32"] and "bf16_speedup" not in mlp
    assert mlp["gain"] == pytest.approx(cores * 1.0 / cores)
    out = capsys.readouterr().out
    assert "bf16 autocast" not in out and "bf16 vs fp32" not in out and "| mlp | 1.00 (2.00x) |" in out
    assert f"({cores / 0.25:.2f}x) | {mlp['gain']:.2f}x |" in out


# --------------------------------------------------------------------------------------------
# docs/benchmarks.md's generated sections
# --------------------------------------------------------------------------------------------
def test_grading_times_autogrades_one_solution_per_notebook_and_prints_a_table(capsys, monkeypatch):
    """The grading benchmark on its quickest case (notebook 04 in fast mode): the solution gets every point and the
    table names the notebook with its seconds; its kernel runs in fast mode, and the caller's setting comes back."""
    from benchmarks import grading

    monkeypatch.delenv("VAE_FAST", raising=False)
    rows = grading.grading_times(["04_"], fast=True)
    assert [r[0] for r in rows] == ["04_reparameterization"]
    _, seconds, got, full = rows[0]
    assert seconds > 0 and full > 0 and got == full
    out = capsys.readouterr().out
    assert "fast mode (VAE_FAST=1)" in out and "| 04_reparameterization |" in out
    assert "VAE_FAST" not in os.environ


def test_write_section_replaces_only_its_own_block(tmp_path):
    from benchmarks.report import read_section, write_section
    from vae_helpers.errors import ConfigError

    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nHand-written text stays.\n")
    write_section("steps", "| a |\n| 1 |", doc)
    write_section("iwae", "| b |", doc)
    write_section("steps", "| a |\n| 2 |", doc)  # a rerun replaces its own block, keeps the other
    text = doc.read_text()
    assert "Hand-written text stays." in text and "| 1 |" not in text and text.count("<!-- generated: steps -->") == 1
    assert read_section("steps", doc) == "| a |\n| 2 |" and read_section("iwae", doc) == "| b |"
    assert read_section("loglik", doc) is None
    doc.write_text(text.replace("<!-- end generated: iwae -->", ""))
    with pytest.raises(ConfigError, match="only its opening marker"):
        write_section("iwae", "| c |", doc)


def test_write_docs_puts_the_printed_tables_and_the_command_in_the_section(tmp_path, monkeypatch, capsys):
    import benchmarks.__main__ as cli
    from benchmarks import report

    doc = tmp_path / "benchmarks.md"
    monkeypatch.setattr(report, "DOCS", doc)
    monkeypatch.setattr(cli, "run", lambda args: print(f"### {args.command}\n\n| figure |\n| --- |\n| 1.5 |"))
    assert cli.main(["steps", "--fast", "--write-docs"]) == 0
    section = report.read_section("steps", doc)
    assert section.startswith("Command: `python -m benchmarks steps --fast`") and "| 1.5 |" in section
    assert "| 1.5 |" in capsys.readouterr().out  # printed as well as written


def test_docs_hold_a_section_for_every_benchmark():
    from benchmarks.__main__ import BENCHMARKS
    from benchmarks.report import DOCS, read_section

    for name in [*BENCHMARKS, "gpu-check"]:
        assert read_section(name, DOCS), f"docs/benchmarks.md has no generated section {name!r}"


# --------------------------------------------------------------------------------------------
# The GPU check: its dry run (CPU, tiny sizes) and its report
# --------------------------------------------------------------------------------------------
def test_gpu_check_help_names_every_measurement(capsys):
    from benchmarks import gpu_check

    with pytest.raises(SystemExit):
        gpu_check.main(["--help"])
    out = capsys.readouterr().out
    for words in (
        "nbval",
        "pytorch/examples",
        'precision="auto"',
        "conv VAE epoch",
        "Fashion-MNIST",
        "k=5000",
        "10,000 test images",
        "notebook 10",
        "seconds per epoch",
        "GPU's name",
        "CUDA versions",
        "--dry-run",
    ):
        assert words in out, words
    for name in gpu_check.PARTS:
        assert name in out


def test_gpu_check_without_a_gpu_says_to_use_the_dry_run():
    from benchmarks import gpu_check

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the check would run")
    with pytest.raises(SystemExit, match="--dry-run"):
        gpu_check.gpu_check(["celeba"], dry=False)


def test_gpu_check_dry_run_writes_a_complete_report(tmp_path, mnist, fashion):
    """The whole check as `make gpu-check` runs it (each part in its own process), on the CPU with tiny sizes."""
    import json
    import subprocess
    import sys

    from benchmarks import REPO_ROOT, gpu_check

    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "gpu-check", "--dry-run", "--out", str(out)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert gpu_check.check_report(report) == []
    assert report["mode"] == "dry-run" and report["machine"]["gpu"] is None and report["machine"]["cores"] >= 1
    assert list(report["parts"]) == list(gpu_check.PARTS)
    parts = report["parts"]
    for name in ("notebooks", "mnist_reference", "conv_epoch", "iwae_k5000"):  # their data is present here
        assert "figures" in parts[name], (name, parts[name])
    assert parts["notebooks"]["figures"]["notebooks_n"] == len(gpu_check.notebook_paths()) >= 9
    assert parts["notebooks"]["figures"]["cells_collected_n"] > parts["notebooks"]["figures"]["notebooks_n"]
    mnist_figures = parts["mnist_reference"]["figures"]
    assert mnist_figures["auto_precision"] in ("fp32", "bf16")
    for key in ("reference_loop", "fit_fp32", "fit_auto"):
        assert mnist_figures[key + "_s"] > 0 and 100 < mnist_figures[key + "_nats"] < 800  # a real, untrained loss
    iwae_figures = parts["iwae_k5000"]["figures"]
    for model in ("mlp_mnist", "conv_fashion"):
        assert iwae_figures[model]["test_images_n"] == gpu_check.DRY.iwae_test_images
        assert iwae_figures[model]["k_n"] == gpu_check.DRY.iwae_k and iwae_figures[model]["bound_nats"] < 0
    celeba = parts["celeba"]
    assert "figures" in celeba or "CelebA" in celeba["skipped"]
    table = out.with_suffix(".md").read_text()
    assert table == gpu_check.markdown(report)
    for label in ("nbval", "pytorch/examples loop", "precision='auto'", "conv VAE", "IWAE bound", "k=5000", "CelebA"):
        assert label in table, label


def _report(**parts) -> dict:
    return {
        "schema": 1,
        "mode": "gpu",
        "date": "2026-01-01T00:00:00+00:00",
        "machine": {"gpu": "G", "torch": "2", "cuda": "13", "cpu": "C", "cores": 16},
        "cpu_reference": {},
        "parts": parts,
        "total_s": 1.0,
    }


def test_check_report_names_each_problem():
    from benchmarks.gpu_check import check_report

    good = {"seconds_s": 1.0, "figures": {"epoch_s": 2.0, "model": {"bound_nats": -90.0}, "stopped": "completed"}}
    assert check_report(_report(conv_epoch=good, celeba={"seconds_s": 0.1, "skipped": "no faces"})) == []
    problems = check_report(
        _report(
            conv_epoch={"seconds_s": 1.0, "figures": {"epoch": 2.0}},  # no unit
            celeba={"seconds_s": 1.0},  # neither figures nor a reason
            iwae_k5000={"seconds_s": 1.0, "figures": {"wall_s": None}},  # not a number
            notebooks={"seconds_s": 1.0, "figures": {"wall_s": 1.0}, "skipped": "x"},  # both
            warp={"seconds_s": 1.0, "skipped": "x"},  # not a part
        )
    )
    assert any("conv_epoch.epoch" in p and "no unit" in p for p in problems)
    assert any("celeba" in p and "neither" in p for p in problems)
    assert any("iwae_k5000.wall_s" in p and "NoneType" in p for p in problems)
    assert any("notebooks" in p and "both" in p for p in problems)
    assert any("warp" in p for p in problems)
    del_gpu = _report()
    del del_gpu["machine"]["cuda"], del_gpu["total_s"]
    assert {"machine: missing 'cuda'", "missing key 'total_s'"} <= set(check_report(del_gpu))


def test_nbval_lines_are_tallied_per_notebook():
    from benchmarks.gpu_check import nbval_command, notebook_paths, tally_cells

    lines = [
        (1.0, "notebooks/00_setup.ipynb::Cell 0 PASSED                       [  1%]"),
        (3.0, "notebooks/00_setup.ipynb::Cell 1 PASSED                       [  2%]"),
        (4.0, "collected 232 items"),
        (7.5, "notebooks/01_ae.ipynb::Cell 0 FAILED                          [  3%]"),
        (8.0, "notebooks/01_ae.ipynb::Cell 1 SKIPPED                         [  4%]"),
    ]
    tally = tally_cells(lines)
    assert tally["00_setup"] == {"passed_n": 2, "failed_n": 0, "skipped_n": 0, "time_s": 3.0}
    assert tally["01_ae"] == {"passed_n": 0, "failed_n": 1, "skipped_n": 1, "time_s": 5.0}
    command = nbval_command(notebook_paths())
    # make notebooks' options, and every notebook by glob (not the student copies)
    assert {"--nbval-lax", "--sanitize-with", "tests/nbval_sanitize.cfg"} <= set(command)
    assert "notebooks/00_setup_and_data.ipynb" in command and not any("student" in c for c in command)

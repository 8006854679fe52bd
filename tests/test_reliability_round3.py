"""A beginner's mistakes on the switches, losses, training, evaluation, exercise checks, widgets and paths
(reliability, round three).

Each test is a case that used to give a silent wrong result or an error naming no setting, file or fix. Every error
asserted here names the thing (the setting, argument or file), says what is wrong and what to do.
"""

from __future__ import annotations

import importlib
import inspect
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from vae_helpers import config, evaluation, zoo
from vae_helpers.budget import CPU_IMAGE_EPOCHS, TrainingBudget, training_budget
from vae_helpers.data.containers import ImageDataset, ImageSplit
from vae_helpers.errors import ConfigError
from vae_helpers.exercises import ExerciseCheckError
from vae_helpers.latent import code_norms, encode_split, latent_usage, swap_reconstruction_nll
from vae_helpers.losses import bernoulli_nll, gaussian_nll, reconstruction_nll, vae_loss
from vae_helpers.models import MLPVAE, BaseVAE, MLPVAEConfig
from vae_helpers.training import TrainConfig, fit
from vae_helpers.widgets import AttributeExplorer, LatentExplorer, LatentPad2D

REPO = Path(__file__).resolve().parent.parent


def _synthetic(n_train=64, n_val=16, n_test=16, shape=(1, 28, 28)) -> ImageDataset:
    """A tiny ImageDataset of random uint8 images (no data files needed)."""
    gen = torch.Generator().manual_seed(0)

    def split(n):
        return ImageSplit(torch.randint(0, 256, (n, *shape), generator=gen, dtype=torch.uint8), torch.arange(n) % 10)

    return ImageDataset("fashion-mnist", split(n_train), split(n_val), split(n_test), [str(i) for i in range(10)], REPO)


# ---------------------------------------------------------------------------------------------
# Switches: TRAIN, VAE_FAST, VAE_DEVICE, CI, VAE_OFFLINE take the spellings people use, and refuse others by name
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spelling", ["1", "true", "True", "TRUE", "yes", "Yes", "on", "ON", " true ", True, 1])
def test_switch_spellings_for_on(spelling):
    assert config.parse_switch(spelling, "TRAIN") is True


@pytest.mark.parametrize("spelling", ["0", "false", "False", "FALSE", "no", "NO", "off", "Off", False, 0])
def test_switch_spellings_for_off(spelling):
    assert config.parse_switch(spelling, "TRAIN") is False


@pytest.mark.parametrize("bad", ["2", "y", "maybe", "", 2, 0.5, None, [True]])
def test_switch_refuses_other_values_by_name(bad):
    with pytest.raises(ConfigError, match=r"TRAIN=.*on/off.*1/0, true/false, yes/no, on/off"):
        config.parse_switch(bad, "TRAIN")


def test_switch_with_a_third_state():
    assert config.parse_switch(None, "TRAIN", allow_none=True) is None
    assert config.parse_switch("None", "TRAIN", allow_none=True) is None
    assert config.parse_switch("false", "TRAIN", allow_none=True) is False


@pytest.mark.parametrize("value", ["2", "y", "fast"])
def test_vae_fast_refuses_a_value_it_cannot_read(monkeypatch, value):
    monkeypatch.setenv("VAE_FAST", value)
    with pytest.raises(ConfigError, match=rf"VAE_FAST='{value}'.*environment variable.*unset it"):
        config.fast_mode()


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("Yes", True), ("off", False), ("", False)])
def test_vae_fast_spellings(monkeypatch, value, expected):
    monkeypatch.setenv("VAE_FAST", value)
    assert config.fast_mode() is expected


def test_vae_offline_and_ci_go_through_the_same_parser(monkeypatch):
    from vae_helpers.data import sources

    monkeypatch.setenv("CI", "On")
    assert config.in_ci() is True
    monkeypatch.setenv("CI", "perhaps")
    with pytest.raises(ConfigError, match=r"CI='perhaps'"):
        config.in_ci()
    monkeypatch.setenv("CI", "false")
    monkeypatch.setenv("VAE_OFFLINE", "on")  # "on" used to mean "online"
    assert sources.offline() is True
    monkeypatch.setenv("VAE_OFFLINE", "2")
    with pytest.raises(ConfigError, match=r"VAE_OFFLINE='2'"):
        sources.offline()


@pytest.mark.parametrize("value", ["CPU", " cpu ", "auto", "Auto", ""])
def test_vae_device_spellings(monkeypatch, value):
    monkeypatch.delenv("VAE_DEVICE", raising=False)
    automatic = config.get_device()
    monkeypatch.setenv("VAE_DEVICE", value)
    assert config.get_device() == (torch.device("cpu") if "cpu" in value.lower() else automatic)


def test_vae_device_typo_is_named(monkeypatch):
    monkeypatch.setenv("VAE_DEVICE", "gpu")
    with pytest.raises(ConfigError, match=r"VAE_DEVICE='gpu'.*'cpu', 'cuda'"):
        config.get_device()


@pytest.mark.parametrize("train", ["False", "false", "0", "no"])
def test_zoo_get_with_train_as_a_string_false_loads(monkeypatch, train):
    """papermill -p TRAIN false passes the string 'false': it must load, not retrain."""
    monkeypatch.setattr(zoo, "train_from_recipe", lambda *a, **k: pytest.fail("a string 'false' started a retrain"))
    loaded = []
    monkeypatch.setattr(zoo, "load", lambda name, *a, **k: loaded.append(name) or pytest.skip("reached load"))
    with pytest.raises(pytest.skip.Exception):
        zoo.get("fashion-vae-d20", train=train)
    assert loaded == ["fashion-vae-d20"]


def test_zoo_get_refuses_an_unreadable_train(monkeypatch):
    monkeypatch.setattr(zoo, "train_from_recipe", lambda *a, **k: pytest.fail("an unreadable TRAIN started a retrain"))
    with pytest.raises(ConfigError, match=r"TRAIN='maybe'"):
        zoo.get("fashion-vae-d20", train="maybe")


# ---------------------------------------------------------------------------------------------
# Pixels: 0..255 floats and uint8 images reaching a loss
# ---------------------------------------------------------------------------------------------
def _batch():
    gen = torch.Generator().manual_seed(0)
    return torch.randn(4, 1, 28, 28, generator=gen), torch.rand(4, 1, 28, 28, generator=gen)


@pytest.mark.parametrize(
    "loss",
    [
        bernoulli_nll,
        lambda logits, x: gaussian_nll(logits, x, 0.1),
        reconstruction_nll,
        lambda logits, x: reconstruction_nll(logits, x, "gaussian"),
        lambda logits, x: vae_loss(logits, x, None, None),
    ],
)
def test_losses_refuse_pixels_in_0_to_255(loss):
    logits, x = _batch()
    with pytest.raises(ConfigError, match=r"0\.\.255.*\[0, 1\].*/ 255"):
        loss(logits, x * 255)
    with pytest.raises(ConfigError, match=r"uint8.*x\.float\(\) / 255"):
        loss(logits, (x * 255).to(torch.uint8))
    loss(logits, x)  # pixels in [0, 1] are scored as before


def test_losses_refuse_negative_pixels():
    logits, x = _batch()
    with pytest.raises(ConfigError, match=r"\[-1\.00, 1\.00\].*\[0, 1\]"):
        bernoulli_nll(logits, x * 2 - 1)


def test_encode_split_refuses_bare_float_pixels_and_says_how_to_wrap_them():
    model = MLPVAE(hidden=(8,), latent_dim=2)
    images = torch.rand(4, 1, 28, 28) * 255  # a beginner's 0..255 floats, not a split
    with pytest.raises(ConfigError, match=r"encode_split\(\).*not a bare tensor.*ImageSplit\(images, labels\)"):
        encode_split(model, images)


# ---------------------------------------------------------------------------------------------
# Training: the config and the data as fit expects them
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [None, "0", 1.5, True])
def test_train_config_seed_must_be_a_whole_number(seed):
    with pytest.raises(ConfigError, match=r"TrainConfig\.seed=.*whole number"):
        TrainConfig(seed=seed)


@pytest.mark.parametrize("field", ["binarize", "progress"])
def test_train_config_flags_must_be_true_or_false(field):
    with pytest.raises(ConfigError, match=rf"TrainConfig\.{field}='False'.*True or False"):
        TrainConfig(**{field: "False"})


def test_seed_everything_names_a_bad_seed():
    with pytest.raises(ConfigError, match=r"seed_everything\(seed=None\).*whole number"):
        config.seed_everything(None)


def test_fit_refuses_a_dict_config():
    with pytest.raises(ConfigError, match=r"TrainConfig\(epochs=3\)"):
        fit(MLPVAE(hidden=(8,), latent_dim=2), _synthetic(), {"epochs": 3}, device="cpu")


def test_fit_refuses_a_split_instead_of_the_dataset():
    data = _synthetic()
    with pytest.raises(ConfigError, match=r"fit\(model, data, config\).*not data\.train"):
        fit(MLPVAE(hidden=(8,), latent_dim=2), data.train, TrainConfig(epochs=1, progress=False), device="cpu")


def test_fit_refuses_something_that_is_not_a_model():
    with pytest.raises(ConfigError, match=r"fit.*model.*BaseVAE.*Linear"):
        fit(nn.Linear(784, 2), _synthetic(), TrainConfig(epochs=1, progress=False), device="cpu")


# ---------------------------------------------------------------------------------------------
# Evaluation: a model for other images
# ---------------------------------------------------------------------------------------------
def test_latent_usage_on_a_model_for_other_images():
    data = _synthetic()
    model = MLPVAE(MLPVAEConfig(hidden=(8,), latent_dim=2, image_shape=(1, 14, 14)))
    with pytest.raises(ConfigError, match=r"latent_usage\(\).*built for images of shape \(1, 14, 14\)"):
        latent_usage(model, data.train, data.test)


# ---------------------------------------------------------------------------------------------
# Exercise checks given the function's result instead of the function
# ---------------------------------------------------------------------------------------------
#: Checks that judge what the student's function *returned* (a trained model), not the function itself.
CHECKS_OF_A_TRAINED_MODEL = {"check_used_code"}


def _every_check(of_a_trained_model: bool = False):
    import vae_helpers.exercises as exercises

    # one module per notebook with exercises (nbNN.py), and the modules that hold one exercise of a notebook
    numbered = sorted(p.stem for p in Path(exercises.__file__).parent.glob("nb[0-9][0-9]*.py"))
    assert numbered[0] == "nb01" and numbered[-1] == "nb10" and "nb09_conditional" in numbered, numbered
    for module_name in (f"vae_helpers.exercises.{stem}" for stem in numbered):
        module = importlib.import_module(module_name)
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("check_") and fn.__module__ == module_name:
                if (name in CHECKS_OF_A_TRAINED_MODEL) == of_a_trained_model:
                    yield pytest.param(fn, id=f"{module_name.rsplit('.', 1)[1]}.{name}")


@pytest.mark.parametrize("check", list(_every_check()))
def test_every_exercise_check_says_to_pass_the_function_itself(check):
    with pytest.raises(
        ExerciseCheckError,
        match=r"pass the (function|class) itself, not (its result|an instance of it).*check_\w+\(\w+\), not",
    ):
        check(torch.zeros(3))


@pytest.mark.parametrize("check", list(_every_check(of_a_trained_model=True)))
def test_a_check_of_a_trained_model_names_what_it_got_instead(check):
    with pytest.raises(ExerciseCheckError, match=r"return the trained \w+, got Tensor"):
        check(torch.zeros(3), None, None)
    with pytest.raises(ExerciseCheckError, match="pass the trained model"):
        check(lambda data, epochs, seed=0: None, None, None)


# ---------------------------------------------------------------------------------------------
# Widgets and models: what the explorers need
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda model: LatentExplorer(model),
        lambda model: LatentPad2D(model),
        lambda model: AttributeExplorer(model, {"a": torch.zeros(2)}),
    ],
    ids=["LatentExplorer", "LatentPad2D", "AttributeExplorer"],
)
def test_explorers_name_what_the_model_needs(make):
    with pytest.raises(ConfigError, match=r"Explorer|LatentPad2D"):
        make(nn.Linear(784, 2))
    with pytest.raises(ConfigError, match=r"encode.*decode.*latent_dim"):
        make(nn.Linear(784, 2))


class _NoDecoder(BaseVAE):
    Config = MLPVAEConfig

    def encode(self, x, y=None):
        return x.flatten(1)[:, :2], x.flatten(1)[:, :2]


def test_explorer_names_the_missing_method():
    with pytest.raises(ConfigError, match=r"_NoDecoder does not implement decode"):
        LatentExplorer(_NoDecoder(latent_dim=2))


def test_base_model_names_the_method_to_implement():
    model = _NoDecoder(latent_dim=2)
    with pytest.raises(NotImplementedError, match=r"_NoDecoder\.decode.*logits \[N x C x H x W\]"):
        model.decode(torch.zeros(1, 2))


# ---------------------------------------------------------------------------------------------
# CelebA at full size on a CPU: an estimate up front and a budget that fits
# ---------------------------------------------------------------------------------------------
def test_full_celeba_on_a_cpu_is_capped_to_about_an_hour():
    budget = training_budget(None, 162_770, 60, "cpu", seconds_per_image=0.012)
    assert isinstance(budget, TrainingBudget)
    assert budget.capped and budget.train_images == CPU_IMAGE_EPOCHS // 60
    assert budget.train_images * 60 * 0.012 <= 1.1 * 3600
    text = str(budget)
    assert "32.6 h" in text  # 162,770 x 60 x 12 ms, said up front
    assert "FULL_RUN = True" in text and f"{budget.train_images:,}" in text


def test_the_course_machines_celeba_is_not_capped():
    """The 6,000 shared faces (4,560 training) for 60 epochs: the committed run, which the budget must not change."""
    budget = training_budget(None, 4_560, 60, "cpu", seconds_per_image=0.012)
    assert not budget.capped and budget.train_images == 4_560
    data = _synthetic(n_train=40)
    assert budget.apply(data) is data


def test_the_full_run_is_one_switch_away_and_a_gpu_is_never_capped():
    assert not training_budget(None, 162_770, 60, "cpu", full_run=True, seconds_per_image=0.012).capped
    assert not training_budget(None, 162_770, 60, "cuda", seconds_per_image=0.0002).capped


def test_capped_budget_trains_on_the_first_images():
    budget = training_budget(None, 64, 10, "cpu", seconds_per_image=0.01, max_image_epochs=200)
    data = _synthetic(n_train=64)
    assert budget.train_images == 20
    assert len(budget.apply(data).train) == 20 and len(budget.apply(data).val) == len(data.val)


def test_budget_measures_the_speed_without_touching_the_model():
    model = MLPVAE(hidden=(8,), latent_dim=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    budget = training_budget(model, 1000, 5, "cpu", batch_size=16)
    assert budget.seconds_per_image > 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())


# ---------------------------------------------------------------------------------------------
# Paths: a data folder reached through a symbolic link
# ---------------------------------------------------------------------------------------------
def test_display_path_keeps_a_symlinked_folder_relative(tmp_path):
    target = tmp_path / "elsewhere" / "celeba"
    target.mkdir(parents=True)
    link = config.REPO_ROOT / "build" / "test-link-to-data"
    link.parent.mkdir(exist_ok=True)
    if link.is_symlink():
        link.unlink()
    link.symlink_to(target, target_is_directory=True)
    try:
        assert config.display_path(link) == "build/test-link-to-data"
        assert config.display_path(link / "img") == "build/test-link-to-data/img"
        assert config.display_path(config.REPO_ROOT / "build" / ".." / "assets") == "assets"
    finally:
        link.unlink()


# ---------------------------------------------------------------------------------------------
# make venv: the prerequisite check
# ---------------------------------------------------------------------------------------------
def _fake_python(folder: Path, version: str, has_venv: bool = True, has_ensurepip: bool = True) -> Path:
    """A stand-in interpreter that answers the check script's questions as the given Python would."""
    script = folder / f"python{version}"
    missing = [m for m, ok in (("venv", has_venv), ("ensurepip", has_ensurepip)) if not ok]
    script.write_text(
        "#!/bin/sh\n"
        f'case "$*" in\n'
        f'  *version_info*) echo "{version}";;\n'
        + "".join(f'  *"import {m}"*) exit 1;;\n' for m in missing)
        + "  *) exit 0;;\nesac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def _check(python: Path | str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(REPO / "tools" / "check_prereqs.sh"), str(python)], capture_output=True, text=True, check=False
    )


def test_prereqs_accept_a_supported_python(tmp_path):
    done = _check(_fake_python(tmp_path, "3.11.7"))
    assert done.returncode == 0, done.stderr
    assert "python3.11.7" in done.stdout or "3.11.7" in done.stdout


def test_prereqs_refuse_an_old_python_by_version(tmp_path):
    done = _check(_fake_python(tmp_path, "3.8.10"))
    assert done.returncode != 0
    assert "3.8.10" in done.stderr and "3.10" in done.stderr and "apt-get install python3.11" in done.stderr


def test_prereqs_name_the_missing_venv_module_and_the_apt_command(tmp_path):
    done = _check(_fake_python(tmp_path, "3.11.2", has_venv=False))
    assert done.returncode != 0
    assert "venv" in done.stderr and "apt-get install python3.11-venv" in done.stderr
    done = _check(_fake_python(tmp_path, "3.11.2", has_ensurepip=False))
    assert done.returncode != 0 and "ensurepip" in done.stderr and "python3.11-venv" in done.stderr


def test_prereqs_name_a_missing_python(tmp_path):
    done = _check(tmp_path / "python3.11")
    assert done.returncode != 0 and "python3.11" in done.stderr and "apt-get install" in done.stderr


def test_makefile_venv_depends_on_the_check_and_never_falls_back_silently():
    makefile = (REPO / "Makefile").read_text()
    assert "check_prereqs.sh" in makefile
    assert "$(STAMP): requirements.txt pyproject.toml | prereqs" in makefile
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", "venv"], cwd=REPO, capture_output=True, text=True, check=False
    )
    lines = done.stdout.splitlines()
    assert "check_prereqs.sh" in lines[0], "the check must run before anything installs"
    assert any("pip install" in line for line in lines[1:])


def test_real_python_passes_the_check():
    done = _check(sys.executable)
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------------------------------------
# The same families elsewhere: seeds, splits and image shapes of the other public functions
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda m, d: evaluation.evaluate(m, d.test, seed=None), "evaluate"),
        (lambda m, d: evaluation.evaluate(m, d.test, seed="0"), "evaluate"),
        (lambda m, d: evaluation.iwae_log_likelihood(m, d.test, k=2, seed=None), "iwae_log_likelihood"),
        (lambda m, d: evaluation.per_image_elbo(m, d.test, seed=None), "per_image_elbo"),
        (lambda m, d: swap_reconstruction_nll(m, d.test, seed=None), "swap_reconstruction_nll"),
        (lambda m, d: latent_usage(m, d.train, d.test, seed=None), "latent_usage"),
        (lambda m, d: code_norms(torch.zeros(4, 2), torch.zeros(4, 2), seed=None), "code_norms"),
    ],
)
def test_evaluation_seeds_must_be_whole_numbers(call, name):
    with pytest.raises(ConfigError, match=rf"{name}\(seed=\.\.\.\).*whole number"):
        call(MLPVAE(hidden=(8,), latent_dim=2), _synthetic())


def test_evaluate_given_the_dataset_or_a_tensor_says_which_split_to_pass():
    model, data = MLPVAE(hidden=(8,), latent_dim=2), _synthetic()
    with pytest.raises(ConfigError, match=r"evaluate\(\).*not the whole dataset: pass data\.test"):
        evaluation.evaluate(model, data)
    with pytest.raises(ConfigError, match=r"evaluate\(\).*not a bare tensor.*ImageSplit\(images, labels\)"):
        evaluation.evaluate(model, data.test.images)


def test_encode_split_on_images_of_another_shape():
    model = MLPVAE(MLPVAEConfig(hidden=(8,), latent_dim=2, image_shape=(1, 14, 14)))
    with pytest.raises(ConfigError, match=r"encode_split\(\).*built for images of shape \(1, 14, 14\).*\(1, 28, 28\)"):
        encode_split(model, _synthetic().test)


def test_image_split_of_float_pixels_says_how_to_convert():
    with pytest.raises(ConfigError, match=r"uint8.*float32.*\(x \* 255\)\.round\(\)\.to\(torch\.uint8\)"):
        ImageSplit(torch.rand(4, 1, 28, 28), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ConfigError, match=r"4 images but 3 labels"):
        ImageSplit(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), torch.zeros(3, dtype=torch.long))

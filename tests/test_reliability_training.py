"""Bad inputs to training, evaluation and checkpoints, as a beginner meets them (issue: reliability, round two).

Each test is a case that used to give a silent wrong result or an error naming no file, setting or fix. Every
error asserted here must name the thing (the file or setting) and say what to do.
"""

from __future__ import annotations

import errno
import math

import pytest
import torch

from vae_helpers import checkpoints
from vae_helpers.checkpoints import CHECKPOINT_FORMAT, load_checkpoint, read_checkpoint, save_checkpoint
from vae_helpers.config import get_device
from vae_helpers.errors import CheckpointError, ConfigError, TrainingDivergedError
from vae_helpers.evaluation import evaluate, iwae_log_likelihood
from vae_helpers.latent import active_units, encode_split, kl_per_dimension
from vae_helpers.losses import KLSchedule, LossTerms
from vae_helpers.models import MLPVAE, ConvVAE64, MLPVAEConfig
from vae_helpers.training import TrainConfig, fit

QUIET = dict(progress=False)


@pytest.fixture
def tiny(small_fashion):
    return small_fashion.subset(train=256, val=64, test=64)


def _small():
    return MLPVAE(hidden=(16,), latent_dim=2)


# ---------------------------------------------------------------------------------------------
# Silent wrong results
# ---------------------------------------------------------------------------------------------
def test_resume_with_a_lower_learning_rate_uses_it(tmp_path, tiny, capsys):
    path = tmp_path / "run.pt"
    fit(_small(), tiny, TrainConfig(epochs=1, lr=1e-3, **QUIET), checkpoint=path, device="cpu")
    model = _small()
    seen = []
    original_step = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original_step(self, *args, **kwargs)

    torch.optim.Adam.step = spy
    try:
        fit(model, tiny, TrainConfig(epochs=2, lr=1e-4, progress=True), checkpoint=path, resume=True, device="cpu")
    finally:
        torch.optim.Adam.step = original_step
    assert seen and set(seen) == {1e-4}, "the resumed run must train with the lr it is given"
    assert read_checkpoint(path)["train_config"]["lr"] == 1e-4
    assert "with lr=0.0001 (the saved run used lr=0.001)" in capsys.readouterr().out


def test_resume_with_another_objective_is_refused_with_the_setting(tmp_path, tiny):
    path = tmp_path / "run.pt"
    fit(_small(), tiny, TrainConfig(epochs=1, **QUIET), checkpoint=path, device="cpu")
    with pytest.raises(CheckpointError, match=r"beta: checkpoint 1\.0, now 4\.0.*resume=False"):
        fit(_small(), tiny, TrainConfig(epochs=2, beta=4.0, **QUIET), checkpoint=path, resume=True, device="cpu")


def test_empty_validation_split_is_refused(tiny):
    with pytest.raises(ConfigError, match=r"data\.val.*0"):
        fit(_small(), tiny.subset(val=0), TrainConfig(epochs=1, **QUIET), device="cpu")


def test_empty_training_split_is_refused(tiny):
    with pytest.raises(ConfigError, match=r"data\.train.*0"):
        fit(_small(), tiny.subset(train=0), TrainConfig(epochs=1, **QUIET), device="cpu")


class _NaNWhenEvaluated(MLPVAE):
    def decode(self, z, y=None):
        out = super().decode(z)
        return out if self.training else out * math.nan


def test_nan_validation_loss_stops_training(tiny):
    with pytest.raises(TrainingDivergedError, match="validation loss became NaN.*epoch 1"):
        fit(_NaNWhenEvaluated(hidden=(16,), latent_dim=2), tiny, TrainConfig(epochs=3, **QUIET), device="cpu")


@pytest.mark.parametrize("function", [evaluate, kl_per_dimension, encode_split, active_units, iwae_log_likelihood])
def test_evaluation_of_an_empty_split_is_refused(tiny, function):
    with pytest.raises(ConfigError, match="empty split|at least 2 images"):
        function(_small(), tiny.test.head(0))


@pytest.mark.parametrize("beta", [-1.0, math.nan, math.inf])
def test_invalid_beta_is_refused(beta):
    with pytest.raises(ConfigError, match=r"TrainConfig\.beta=.*finite number >= 0"):
        TrainConfig(beta=beta)


@pytest.mark.parametrize("value", [-0.5, math.nan])
def test_a_schedule_returning_a_bad_beta_names_the_step(tiny, value):
    schedule = lambda step: 1.0 if step < 2 else value  # noqa: E731
    with pytest.raises(ConfigError, match=r"schedule\) at step 2"):
        fit(_small(), tiny, TrainConfig(epochs=2, beta=schedule, **QUIET), device="cpu")  # 2 steps per epoch


def test_fit_never_overwrites_an_earlier_run_silently(tmp_path, tiny):
    path = tmp_path / "run.pt"
    fit(_small(), tiny, TrainConfig(epochs=1, **QUIET), checkpoint=path, device="cpu")
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match="already holds a checkpoint.*resume=True.*overwrite=True"):
        fit(_small(), tiny, TrainConfig(epochs=1, seed=3, **QUIET), checkpoint=path, device="cpu")
    assert path.read_bytes() == before
    fit(_small(), tiny, TrainConfig(epochs=1, seed=3, **QUIET), checkpoint=path, overwrite=True, device="cpu")
    assert path.read_bytes() != before


def test_a_model_built_for_other_images_is_named(tiny):
    with pytest.raises(ConfigError, match=r"ConvVAE64 was built for images of shape \(3, 64, 64\).*\(1, 28, 28\)"):
        fit(ConvVAE64(latent_dim=4, channels=(4, 4, 4, 4)), tiny, TrainConfig(epochs=1, **QUIET), device="cpu")
    with pytest.raises(ConfigError, match="built for images of shape"):
        evaluate(MLPVAE(image_shape=(3, 64, 64), hidden=(8,), latent_dim=2), tiny.test)


# ---------------------------------------------------------------------------------------------
# Checkpoint files that are empty, newer, weights-only or cannot be written
# ---------------------------------------------------------------------------------------------
def test_zero_byte_checkpoint_is_named(tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.pt is empty \(0 bytes\).*Delete it and train again"):
        load_checkpoint(path)


def test_checkpoint_from_a_newer_version_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "new.pt"
    save_checkpoint(path, _small())
    payload = torch.load(path, weights_only=True)
    payload["format"] = CHECKPOINT_FORMAT + 1
    torch.save(payload, path)
    with pytest.raises(
        CheckpointError, match=rf"format {CHECKPOINT_FORMAT + 1}.*reads format {CHECKPOINT_FORMAT}.*git pull"
    ):
        load_checkpoint(path)


def test_resume_from_a_weights_only_checkpoint_is_explained(tmp_path, tiny):
    path = tmp_path / "weights.pt"
    save_checkpoint(path, _small())
    with pytest.raises(CheckpointError, match="no resume state.*load_checkpoint"):
        fit(_small(), tiny, TrainConfig(epochs=1, **QUIET), checkpoint=path, resume=True, device="cpu")


def test_disk_full_during_a_checkpoint_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    save_checkpoint(path, _small())
    before = path.read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoints.torch, "save", full)
    with pytest.raises(CheckpointError, match="No space left on device.*previous file there is untouched.*Free disk"):
        save_checkpoint(path, _small())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"], "no temporary file is left behind"


def test_a_failed_save_during_fit_keeps_the_best_weights_in_the_model(tmp_path, tiny, monkeypatch):
    model = _small()
    monkeypatch.setattr(checkpoints.torch, "save", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(CheckpointError, match="Could not write the checkpoint"):
        fit(model, tiny, TrainConfig(epochs=2, **QUIET), checkpoint=tmp_path / "run.pt", device="cpu")
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_interrupt_before_the_first_checkpoint_promises_none(tmp_path, tiny, capsys):
    class Interrupt(MLPVAE):
        def decode(self, z, y=None):
            raise KeyboardInterrupt

    path = tmp_path / "run.pt"
    result = fit(
        Interrupt(hidden=(16,), latent_dim=2), tiny, TrainConfig(epochs=2, **QUIET), checkpoint=path, device="cpu"
    )
    out = capsys.readouterr().out
    assert result.stopped == "interrupted" and not path.exists()
    assert "no checkpoint was written yet" in out and "resume=True" not in out


# ---------------------------------------------------------------------------------------------
# Settings validated where they are made
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field, value",
    [
        ("batch_size", 0),
        ("batch_size", 12.5),
        ("epochs", 0),
        ("epochs", -3),
        ("lr", 0.0),
        ("lr", math.nan),
        ("sigma", -1.0),
        ("free_bits", -0.1),
        ("patience", 0),
        ("likelihood", "poisson"),
        ("precision", "fp16"),
    ],
)
def test_invalid_train_config_names_the_setting(field, value):
    with pytest.raises(ConfigError, match=field if field != "precision" else "precision"):
        TrainConfig(**{field: value})


@pytest.mark.parametrize(
    "kwargs, setting",
    [
        (dict(kind="cyclical", n_cycles=0), "n_cycles"),
        (dict(kind="cyclical", ratio=0.0), "ratio"),
        (dict(kind="cyclical", ratio=1.5), "ratio"),
        (dict(kind="linear", warmup_steps=0), "warmup_steps"),
        (dict(beta_max=-1.0), "beta_max"),
    ],
)
def test_invalid_kl_schedule_names_the_setting(kwargs, setting):
    with pytest.raises(ConfigError, match=setting):
        KLSchedule(**kwargs)


@pytest.mark.parametrize(
    "kwargs, setting", [(dict(k=0), "k="), (dict(chunk=0), "chunk="), (dict(batch_size=0), "batch_size=")]
)
def test_invalid_iwae_settings_are_named(tiny, kwargs, setting):
    with pytest.raises(ConfigError, match=setting):
        iwae_log_likelihood(_small(), tiny.test, **kwargs)


def test_invalid_model_sizes_are_named():
    with pytest.raises(ConfigError, match=r"MLPVAEConfig\.latent_dim=0"):
        MLPVAE(latent_dim=0)
    with pytest.raises(ConfigError, match=r"hidden is empty"):
        MLPVAEConfig(hidden=())


def test_a_loss_fn_returning_per_image_losses_is_named(tiny):
    def per_image(model, x, y, beta):
        v = torch.ones(len(x), requires_grad=True)
        return LossTerms(v, v, v, v)

    with pytest.raises(ConfigError, match=r"LossTerms\.loss of shape \[\d+\].*one number.*\.mean\(\)"):
        fit(_small(), tiny, TrainConfig(epochs=1, **QUIET), loss_fn=per_image, device="cpu")


def test_a_mistyped_device_is_named(monkeypatch):
    monkeypatch.setenv("VAE_DEVICE", "gpu")
    with pytest.raises(ConfigError, match="VAE_DEVICE='gpu' is not a device name"):
        get_device()
    if not torch.cuda.is_available():
        monkeypatch.setenv("VAE_DEVICE", "cuda")
        with pytest.raises(ConfigError, match="asks for a CUDA GPU.*Unset it"):
            get_device()


def test_load_finished_run_reuses_only_a_run_with_the_same_settings(tmp_path, tiny, capsys):
    from vae_helpers.training import load_finished_run

    path = tmp_path / "run.pt"
    config = TrainConfig(epochs=2, **QUIET)
    assert load_finished_run(path, _small(), config) is None  # nothing trained yet
    trained = _small()
    result = fit(trained, tiny, config, checkpoint=path, device="cpu")
    model = _small()
    loaded = load_finished_run(path, model, config, device="cpu")
    assert loaded.best_epoch == result.best_epoch and loaded.history == result.history and loaded.stopped == "loaded"
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), trained.state_dict().values()))
    assert not model.training
    assert load_finished_run(path, _small(), TrainConfig(epochs=3, **QUIET)) is None  # a full run meets a fast one
    assert "trained with other settings" in capsys.readouterr().out

import pickle
import random

import numpy as np
import pytest
import torch

from vae_helpers.atomic import atomic_torch_save
from vae_helpers.checkpoints import (
    CheckpointError,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from vae_helpers.config import seed_everything
from vae_helpers.losses import KLSchedule
from vae_helpers.models import AE, MLPVAE, ConvVAE
from vae_helpers.training import TrainConfig, TrainingDivergedError, fit, steps_per_epoch

QUIET = dict(progress=False)


def test_loss_decreases_on_real_subset(small_fashion):
    model = MLPVAE(latent_dim=10)
    result = fit(model, small_fashion, TrainConfig(epochs=4, **QUIET), device="cpu")
    val = result.history["val_loss"]
    assert len(val) == 4 and val[-1] < val[0] - 20, val
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]
    assert all(k > 0 for k in result.history["val_kl"])
    assert result.best_epoch == int(np.argmin(val)) + 1 and result.stopped == "completed"


def test_autoencoder_trains_on_reconstruction_only(small_fashion):
    result = fit(AE(latent_dim=10), small_fashion, TrainConfig(epochs=2, **QUIET), device="cpu")
    assert result.history["train_kl"] == [0.0, 0.0]
    assert result.history["val_recon"][1] < result.history["val_recon"][0]


def test_same_seed_same_losses_on_cpu(small_fashion):
    data = small_fashion.subset(train=1000, val=200)

    def run(seed):
        seed_everything(seed)  # the course's pattern: seed, then build the model, then fit
        return fit(ConvVAE(latent_dim=4), data, TrainConfig(epochs=2, seed=seed, **QUIET), device="cpu").history

    runs = [run(123), run(123)]
    for key in ("train_loss", "train_recon", "train_kl", "val_loss"):
        assert runs[0][key] == runs[1][key], key
    other = run(124)
    assert other["train_loss"] != runs[0]["train_loss"]


def test_seed_helper_sets_every_generator():
    seed_everything(7)
    first = (random.random(), np.random.rand(), torch.rand(1).item(), torch.randn(2, 2))
    gen = seed_everything(7)
    again = (random.random(), np.random.rand(), torch.rand(1).item(), torch.randn(2, 2))
    assert first[:3] == again[:3] and torch.equal(first[3], again[3])
    assert torch.backends.cudnn.deterministic is True and torch.backends.cudnn.benchmark is False
    assert not hasattr(torch.backends.cudnn, "determinstic")  # a misspelling would silently do nothing
    assert torch.equal(torch.rand(3, generator=gen), torch.rand(3, generator=torch.Generator().manual_seed(7)))


def test_early_stopping_restores_best_weights(small_fashion):
    data = small_fashion.subset(train=100, val=200)  # 100 images over-fit within a few dozen epochs
    model = MLPVAE(latent_dim=5)
    result = fit(model, data, TrainConfig(epochs=200, lr=3e-3, batch_size=50, patience=2, **QUIET), device="cpu")
    assert result.stopped == "early_stopping"
    assert len(result.history["epoch"]) == result.best_epoch + 2
    assert result.best_val == min(result.history["val_loss"])


def test_checkpoint_roundtrip_holds_config_and_version(tmp_path, small_fashion):
    path = tmp_path / "ck.pt"
    model = MLPVAE(latent_dim=3)
    fit(model, small_fashion.subset(train=500, val=100), TrainConfig(epochs=1, **QUIET), checkpoint=path, device="cpu")
    payload = read_checkpoint(path)
    assert payload["model_config"] == {"name": "MLPVAE", "image_shape": [1, 28, 28], "hidden": [400], "latent_dim": 3}
    assert payload["package_version"] and payload["history"]["epoch"] == [1.0]
    loaded, _ = load_checkpoint(path)
    x = torch.rand(4, 1, 28, 28)
    assert torch.allclose(loaded.reconstruct(x), model.reconstruct(x))


def test_checkpoint_into_a_different_architecture_names_the_mismatch(tmp_path):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, MLPVAE(latent_dim=20))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, model=MLPVAE(latent_dim=2))
    assert "to_stats.weight" in str(err.value) and "[40, 400]" in str(err.value) and "[4, 400]" in str(err.value)
    assert "latent_dim': 20" in str(err.value)


def test_truncated_checkpoint_gives_a_clear_error(tmp_path):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, MLPVAE(latent_dim=2))
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated, corrupt"):
        load_checkpoint(path)


class _Evil:
    def __reduce__(self):
        return (print, ("this would run code",))


def test_checkpoints_cannot_run_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model_state": {}, "model_config": {}, "payload": _Evil()}, path)
    with pytest.raises(CheckpointError, match="weights-only"):
        read_checkpoint(path)


def test_atomic_save_keeps_previous_file_on_failure(tmp_path):
    path = tmp_path / "ck.pt"
    atomic_torch_save({"a": torch.ones(2)}, path)
    before = path.read_bytes()
    with pytest.raises((AttributeError, TypeError, pickle.PicklingError)):
        atomic_torch_save({"a": lambda: None}, path)  # cannot be pickled: fails mid-write
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # no temp file left behind


def test_interrupt_during_a_checkpoint_write_keeps_the_previous_file(tmp_path, monkeypatch):
    import vae_helpers.checkpoints as ck

    path = tmp_path / "ck.pt"
    save_checkpoint(path, MLPVAE(latent_dim=2))
    before = path.read_bytes()
    real_save = torch.save

    def save_then_interrupt(obj, handle):
        real_save(obj, handle)
        handle.truncate(100)  # half-written file, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(ck.torch, "save", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, MLPVAE(latent_dim=2))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]
    monkeypatch.undo()
    load_checkpoint(path)  # still a valid checkpoint


class _FailAfter(MLPVAE):
    """An MLP VAE whose training-mode decoder misbehaves after ``n`` calls."""

    def __init__(self, n, failure, **kwargs):
        super().__init__(**kwargs)
        self.n, self.failure, self.calls = n, failure, 0

    def decode(self, z, y=None):
        if self.training:
            self.calls += 1
            if self.calls > self.n:
                if self.failure == "interrupt":
                    raise KeyboardInterrupt
                return super().decode(z) * float("nan")
        return super().decode(z)


def test_nan_loss_stops_with_epoch_step_and_advice(tmp_path, small_fashion):
    data = small_fashion.subset(train=512, val=100)  # 4 steps per epoch at batch 128
    path = tmp_path / "ck.pt"
    model = _FailAfter(4 + 2, "nan", latent_dim=3)  # the third step of epoch 2 breaks
    with pytest.raises(TrainingDivergedError) as err:
        fit(model, data, TrainConfig(epochs=3, **QUIET), checkpoint=path, device="cpu")
    message = str(err.value)
    assert "epoch 2, step 3" in message and "Lower the learning rate" in message and "intact" in message
    payload = read_checkpoint(path)  # the epoch-1 checkpoint is still there and finite
    assert payload["history"]["epoch"] == [1.0]
    assert all(torch.isfinite(v).all() for v in payload["model_state"].values())
    assert all(torch.isfinite(p).all() for p in model.parameters())  # model reset to its best weights


def test_keyboard_interrupt_keeps_best_and_resume_continues(tmp_path, small_fashion):
    data = small_fashion.subset(train=512, val=100)
    path = tmp_path / "ck.pt"
    config = TrainConfig(epochs=3, seed=5, **QUIET)
    seed_everything(5)
    model = _FailAfter(4 + 1, "interrupt", latent_dim=3)
    result = fit(model, data, config, checkpoint=path, device="cpu")
    assert result.stopped == "interrupted" and result.history["epoch"] == [1.0]
    saved = read_checkpoint(path)
    assert saved["history"]["epoch"] == [1.0]
    resumed_model = MLPVAE(latent_dim=3)
    resumed = fit(resumed_model, data, config, checkpoint=path, resume=True, device="cpu")
    assert resumed.history["epoch"] == [1.0, 2.0, 3.0]
    assert resumed.history["train_loss"][0] == saved["history"]["train_loss"][0]
    # Resuming reproduces an uninterrupted run exactly (same weights, optimiser, RNG state).
    seed_everything(5)
    straight = fit(MLPVAE(latent_dim=3), data, config, device="cpu")
    assert resumed.history["train_loss"] == pytest.approx(straight.history["train_loss"], rel=1e-6)


def test_resume_without_checkpoint_is_explained(tmp_path, small_fashion):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        fit(MLPVAE(), small_fashion, TrainConfig(epochs=1, **QUIET), checkpoint=tmp_path / "none.pt", resume=True)


def test_kl_schedule_is_applied_per_step(small_fashion):
    data = small_fashion.subset(train=256, val=100)
    steps = steps_per_epoch(len(data.train), 128)
    result = fit(
        MLPVAE(latent_dim=3),
        data,
        TrainConfig(epochs=4, beta=KLSchedule.linear(warmup_steps=2 * steps), **QUIET),
        device="cpu",
    )
    # 2 steps per epoch, ramp over 4 steps: beta = step / 4 at the last step (1, 3, 5, 7) of each epoch
    assert result.history["beta"] == [0.25, 0.75, 1.0, 1.0]


# ------------------------------------------------------------------------------------------------
# Mixed precision (TrainConfig.precision) and the speed-ups of vae_helpers.speed
# ------------------------------------------------------------------------------------------------
def test_bf16_trains_like_fp32_with_bf16_matmuls_and_fp32_state(small_fashion):
    histories, dtypes = {}, []
    for precision in ("fp32", "bf16"):
        seed_everything(0)
        model = MLPVAE()
        hook = model.encoder[0].register_forward_hook(
            lambda mod, inp, out, precision=precision: dtypes.append((precision, mod.training, out.dtype))
        )
        result = fit(model, small_fashion, TrainConfig(epochs=4, seed=0, precision=precision, **QUIET), device="cpu")
        hook.remove()
        histories[precision] = result.history
        assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay float32
    fp32, bf16 = histories["fp32"], histories["bf16"]
    assert bf16["val_loss"][-1] < bf16["val_loss"][0] - 50 and bf16["train_loss"][-1] < bf16["train_loss"][0] - 50, bf16
    # bf16 really changed the arithmetic, yet every epoch ends within 1 nat (of ~300) of float32
    assert bf16["train_loss"] != fp32["train_loss"]
    for key in ("train_loss", "val_loss", "val_kl"):
        assert bf16[key] == pytest.approx(fp32[key], abs=1.0), key
    # training forward passes ran in bfloat16; validation (eval mode) in float32; fp32 mode never in bf16
    assert {d for p, training, d in dtypes if p == "bf16" and training} == {torch.bfloat16}
    assert {d for p, training, d in dtypes if p == "bf16" and not training} == {torch.float32}
    assert {d for p, _, d in dtypes if p == "fp32"} == {torch.float32}


def test_bf16_keeps_adam_state_and_loss_in_fp32(small_fashion):
    from vae_helpers.objective import model_objective as model_loss
    from vae_helpers.speed import autocast_dtype as _autocast_dtype

    seed_everything(0)
    model = MLPVAE(latent_dim=4)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    dtype = _autocast_dtype(TrainConfig(precision="bf16"), torch.device("cpu"), None)
    assert dtype == torch.bfloat16
    x, y = next(small_fashion.train.batches(64))
    with torch.autocast("cpu", dtype=dtype):  # as fit's bf16 objective runs
        terms = model_loss(model, x, y)
    assert all(t.dtype == torch.float32 for t in (terms.loss, terms.recon, terms.kl, terms.kl_per_dim))
    terms.loss.backward()
    optimizer.step()
    assert all(p.grad.dtype == torch.float32 for p in model.parameters())
    assert all(v.dtype == torch.float32 for s in optimizer.state.values() for k, v in s.items() if k != "step")
    # the bf16 loss estimates the same quantity as the float32 one (same z noise: same seed)
    torch.manual_seed(3)
    with torch.autocast("cpu", dtype=dtype):
        a = model_loss(model, x, y).loss.item()
    torch.manual_seed(3)
    b = model_loss(model, x, y).loss.item()
    assert a == pytest.approx(b, rel=5e-3) and a != b


def test_invalid_precision_is_explained():
    with pytest.raises(ValueError, match=r"Unknown precision 'fp16'.*'fp32'.*'bf16'"):
        TrainConfig(precision="fp16")


def test_bf16_with_a_custom_loss_fn_is_refused(small_fashion):
    from vae_helpers.objective import model_objective as model_loss

    data = small_fashion.subset(train=64, val=64)
    loss_fn = lambda model, x, y, beta: model_loss(model, x, y, beta)  # noqa: E731
    with pytest.raises(ValueError, match="built-in objective only"):
        fit(
            MLPVAE(hidden=(8,), latent_dim=2),
            data,
            TrainConfig(epochs=1, precision="bf16", **QUIET),
            loss_fn=loss_fn,
            device="cpu",
        )
    fit(
        MLPVAE(hidden=(8,), latent_dim=2), data, TrainConfig(epochs=1, **QUIET), loss_fn=loss_fn, device="cpu"
    )  # fp32: fine


def test_bf16_on_mps_falls_back_to_fp32_with_a_warning():
    from vae_helpers.speed import autocast_dtype as _autocast_dtype

    with pytest.warns(UserWarning, match="training in float32 on mps"):
        assert _autocast_dtype(TrainConfig(precision="bf16"), torch.device("mps"), None) is None
    assert _autocast_dtype(TrainConfig(), torch.device("mps"), None) is None


@pytest.mark.parametrize("free_bits, autoencoder", [(0.0, False), (0.5, False), (0.0, True)])
def test_fused_objective_equals_vae_loss_in_value_and_gradient(free_bits, autoencoder):
    from vae_helpers.losses import add_kl_term, bernoulli_nll
    from vae_helpers.losses import vae_loss as _vae_objective  # the training path

    torch.manual_seed(0)
    logits = (torch.randn(16, 1, 28, 28) * 6).requires_grad_()  # includes |logit| > 15: the tails matter
    x = torch.rand(16, 1, 28, 28)
    mu = None if autoencoder else torch.randn(16, 5, requires_grad=True)
    logvar = None if autoencoder else torch.randn(16, 5, requires_grad=True)
    ours = _vae_objective(logits, x, mu, logvar, 2.0, "bernoulli", free_bits, 1.0)
    ref = add_kl_term(bernoulli_nll(logits, x).mean(), mu, logvar, 2.0, free_bits)  # torch's BCE-with-logits
    for a, b in zip((ours.loss, ours.recon, ours.kl), (ref.loss, ref.recon, ref.kl)):
        assert a.item() == pytest.approx(b.item(), rel=1e-6, abs=1e-5)
    inputs = [logits] + ([] if autoencoder else [mu, logvar])
    for g_ours, g_ref in zip(torch.autograd.grad(ours.loss, inputs), torch.autograd.grad(ref.loss, inputs)):
        assert torch.allclose(g_ours, g_ref, atol=1e-6)


def test_conv_models_train_channels_last_on_cpu_and_come_back_contiguous(small_fashion, monkeypatch):
    """fit trains a conv model in the channels-last layout (faster oneDNN convolutions), which changes
    rounding only: the same run in the default layout ends within float32 noise, and the model fit returns
    has the usual contiguous weights."""
    from vae_helpers import speed, training

    assert speed.uses_channels_last(ConvVAE(latent_dim=4), torch.device("cpu"))
    assert not speed.uses_channels_last(MLPVAE(latent_dim=4), torch.device("cpu"))
    assert not speed.uses_channels_last(ConvVAE(latent_dim=4), torch.device("meta"))
    data = small_fashion.subset(train=256, val=64)
    seen = []
    real = training.model_objective

    def spy(model, x, *args, **kwargs):
        convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1]
        seen.append(bool(convs) and all(not m.weight.is_contiguous() for m in convs))  # NHWC weights
        return real(model, x, *args, **kwargs)

    monkeypatch.setattr(training, "model_objective", spy)
    seed_everything(0)
    fast = fit(ConvVAE(latent_dim=4), data, TrainConfig(epochs=2, **QUIET), device="cpu")
    assert seen and all(seen)
    monkeypatch.setattr(speed, "uses_channels_last", lambda model, device: False)
    seed_everything(0)
    model = ConvVAE(latent_dim=4)
    plain = fit(model, data, TrainConfig(epochs=2, **QUIET), device="cpu")
    assert fast.history["val_loss"] == pytest.approx(plain.history["val_loss"], rel=1e-3)
    assert all(p.is_contiguous() for p in model.parameters())


def test_resumed_adam_moments_follow_their_parameters_layout():
    """Adam's fused kernel walks parameters and moments as flat memory: moments saved from a contiguous run
    and resumed into a channels-last model must be re-laid out, or the update lands on the wrong elements."""
    from vae_helpers.speed import _match_optimizer_layouts

    for fix, follows in ((False, False), (True, True)):
        param = torch.nn.Parameter(torch.zeros(4, 3, 2, 2).contiguous(memory_format=torch.channels_last))
        optimizer = torch.optim.Adam([param], lr=1.0, betas=(0.5, 0.5), fused=True)
        param.grad = torch.zeros_like(param)
        optimizer.step()
        moments = torch.arange(48.0).reshape(4, 3, 2, 2)  # contiguous, as read from an older checkpoint
        optimizer.state[param].update(exp_avg=moments.clone(), exp_avg_sq=torch.ones(4, 3, 2, 2))
        if fix:
            _match_optimizer_layouts(optimizer)
        with torch.no_grad():
            param.zero_()
        optimizer.step()
        step = -param.detach().flatten()  # in the logical order of the moments when laid out alike
        assert bool((step[1:] > step[:-1]).all()) is follows

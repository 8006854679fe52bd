"""The model zoo: every committed weights file matches its hash, loads into its class and reproduces its manifest metric."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from vae_helpers import zoo
from vae_helpers.errors import CheckpointError, CheckpointNotFoundError, ConfigError
from vae_helpers.evaluation import evaluate
from vae_helpers.models import MODEL_REGISTRY, AutoregressiveVAE

MANIFEST = zoo.read_manifest() if zoo.MANIFEST.is_file() else {"models": {}}


def test_every_recipe_has_committed_weights_within_the_budget():
    assert set(MANIFEST["models"]) == set(zoo.RECIPES), "run `make weights` for the recipes without weights"
    total = sum(e["bytes"] for e in MANIFEST["models"].values())
    assert total <= 30e6, f"the zoo is {total / 1e6:.1f} MB, over its 30 MB budget"
    for name, info in MANIFEST["models"].items():
        path = zoo.ZOO_DIR / info["file"]
        assert path.stat().st_size == info["bytes"], name
        assert zoo.sha256(path) == info["sha256"], f"{path} does not match its manifest hash"


@pytest.mark.parametrize("name", sorted(MANIFEST["models"]))
def test_zoo_model_loads_and_reproduces_its_manifest_metric(name, fashion, mnist):
    info = MANIFEST["models"][name]
    loaded = zoo.load(name, device="cpu")
    model = loaded.model
    assert type(model) is MODEL_REGISTRY[info["model"]["name"]] and model.config() == info["model"]
    assert not model.training and model.num_parameters() == info["parameters"]
    assert loaded.run.best_epoch == info["best_epoch"] and len(loaded.run.history["epoch"]) == info["epochs_run"]
    data = {"fashion-mnist": fashion, "mnist": mnist}[info["dataset"]]
    r = zoo.recipe(name)
    elbo = evaluate(model, data.test.head(zoo.CHECK_IMAGES), r.train.get("likelihood", "bernoulli"),
                    sigma=r.train.get("sigma", 1.0), with_mse=False).elbo
    assert elbo == pytest.approx(info["metrics"]["check ELBO"], abs=zoo.CHECK_TOLERANCE)


def test_a_damaged_weights_file_is_refused_with_the_fix(tmp_path, monkeypatch):
    name = "fashion-vae-d2"
    monkeypatch.setattr(zoo, "ZOO_DIR", tmp_path)
    shutil.copy(zoo.ASSETS_DIR / "zoo" / MANIFEST["models"][name]["file"], tmp_path)
    path = tmp_path / MANIFEST["models"][name]["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"does not match its manifest entry.*git checkout.*make weights"):
        zoo.load(name)
    path.unlink()
    with pytest.raises(CheckpointNotFoundError, match=r"are missing.*git checkout.*TRAIN = True"):
        zoo.load(name)


def test_an_unknown_name_lists_the_zoo():
    with pytest.raises(ConfigError, match="No zoo model 'fashion-vae-d21'.*fashion-vae-d20"):
        zoo.load("fashion-vae-d21")


def test_masked_weights_are_stored_without_their_masked_entries_and_restored_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(zoo, "ZOO_DIR", tmp_path)
    torch.manual_seed(0)
    model = AutoregressiveVAE(image_shape=(1, 4, 5), hidden=(8,), latent_dim=2, made_hidden=6)
    stored, packed = zoo._state_to_store(model)
    assert "direct.weight" in packed and stored["direct.weight"].numel() == int(model.direct.mask.sum())
    assert not any(k.endswith("mask") for k in stored) and all(v.dtype == torch.float16 for v in stored.values())
    again = AutoregressiveVAE(image_shape=(1, 4, 5), hidden=(8,), latent_dim=2, made_hidden=6)
    zoo._load_stored(again, stored, packed)
    for key, value in model.state_dict().items():
        assert torch.allclose(again.state_dict()[key], value.half().float()), key


def test_train_true_runs_the_recipe_in_fast_mode(monkeypatch):
    monkeypatch.setenv("VAE_FAST", "1")
    trained = zoo.get("fashion-vae-d2", train=True, device="cpu")
    model, run = trained
    assert model.latent_dim == 2 and len(run.history["epoch"]) == zoo.recipe("fashion-vae-d2").fast["epochs"]


def test_manifest_records_how_each_model_was_made():
    for name, info in MANIFEST["models"].items():
        r = zoo.recipe(name)
        assert info["train_config"] == json.loads(json.dumps(r.train)) and info["dataset"] == r.dataset
        for key in ("ELBO", "recon", "KL", "MSE", "check ELBO"):
            assert key in info["metrics"], (name, key)

"""The model zoo: every committed weights file matches its hash, loads into its class and reproduces its manifest metric."""

from __future__ import annotations

import json
import re
import shutil

import nbformat
import pytest
import torch

from vae_helpers import zoo
from vae_helpers.errors import CacheWarning, CheckpointError, CheckpointNotFoundError, ConfigError
from vae_helpers.evaluation import evaluate
from vae_helpers.models import MODEL_REGISTRY, AutoregressiveVAE
from vae_helpers.objective import model_objective
from vae_helpers.tools import weights

MANIFEST = zoo.read_manifest() if zoo.MANIFEST.is_file() else {"models": {}}


def test_every_recipe_has_committed_weights_within_the_budget():
    assert set(MANIFEST["models"]) == set(zoo.RECIPES), "run `make weights` for the recipes without weights"
    total = sum(e["bytes"] for e in MANIFEST["models"].values())
    assert total <= 35e6, f"the zoo is {total / 1e6:.1f} MB, over its 35 MB budget"
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
    elbo = evaluate(
        model,
        data.test.head(zoo.CHECK_IMAGES),
        r.train.get("likelihood", "bernoulli"),
        sigma=r.train.get("sigma", 1.0),
        with_mse=False,
    ).elbo
    assert elbo == pytest.approx(info["metrics"]["check ELBO"], abs=zoo.CHECK_TOLERANCE)


def test_a_damaged_weights_file_is_refused_with_the_fix(tmp_path, monkeypatch):
    name = "fashion-vae-d2"
    shutil.copy(zoo.ZOO_DIR / MANIFEST["models"][name]["file"], tmp_path)
    monkeypatch.setattr(zoo, "ZOO_DIR", tmp_path)
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
    stored, packed = weights.state_to_store(model)
    assert "direct.weight" in packed and stored["direct.weight"].numel() == int(model.direct.mask.sum())
    assert not any(k.endswith("mask") for k in stored) and all(v.dtype == torch.float16 for v in stored.values())
    again = AutoregressiveVAE(image_shape=(1, 4, 5), hidden=(8,), latent_dim=2, made_hidden=6)
    zoo.load_stored(again, stored, packed)
    state, restored = model.state_dict(), again.state_dict()
    for key, value in state.items():
        mask = state.get(key.rsplit(".", 1)[0] + ".mask", torch.ones(())) if key.endswith("weight") else torch.ones(())
        # masked-out entries never reach the output (weight * mask), so they are stored as zeros
        assert torch.allclose(restored[key] * mask, value.half().float() * mask), key


def test_train_true_runs_the_recipe_in_fast_mode(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_FAST", "1")
    monkeypatch.setattr(zoo, "RETRAIN_CACHE_DIR", tmp_path)
    trained = zoo.get("fashion-vae-d2", train=True, device="cpu")
    model, run = trained
    assert model.latent_dim == 2 and len(run.history["epoch"]) == zoo.recipe("fashion-vae-d2").fast["epochs"]


def test_the_retrain_path_trains_each_recipe_once_and_reuses_it(monkeypatch, tmp_path, capsys):
    """get(name, train=True) keeps its run in the retrain cache (safetensors, keyed by the recipe's hash and the mode):
    a second notebook asking for the same recipe reuses it; a student's loss or a changed mode trains again."""
    monkeypatch.setenv("VAE_FAST", "1")
    monkeypatch.setattr(zoo, "RETRAIN_CACHE_DIR", tmp_path)
    calls = []
    real = zoo.train_from_recipe
    monkeypatch.setattr(zoo, "train_from_recipe", lambda *a, **k: calls.append(k) or real(*a, **k))
    first_model, first_run = zoo.get("fashion-vae-d2", train=True, device="cpu")
    assert len(calls) == 1 and [p.name for p in tmp_path.iterdir()] == [zoo.retrain_cache_file("fashion-vae-d2").name]
    assert zoo.retrain_cache_file("fashion-vae-d2").suffix == ".safetensors"
    capsys.readouterr()
    again_model, again_run = zoo.get("fashion-vae-d2", train=True, device="cpu")
    assert len(calls) == 1, "the recipe was trained a second time"
    assert "trained earlier by its recipe" in capsys.readouterr().out
    for key, value in first_model.state_dict().items():
        assert torch.equal(value, again_model.state_dict()[key]), key
    assert again_run.history == first_run.history and again_run.best_epoch == first_run.best_epoch
    assert not again_model.training
    zoo.get("fashion-vae-d2", train=True, device="cpu", loss_fn=lambda m, x, y, beta: model_objective(m, x, y, beta))
    assert len(calls) == 2, "a student's loss_fn must train its own run"
    fast_file = zoo.retrain_cache_file("fashion-vae-d2")
    monkeypatch.setenv("VAE_FAST", "0")
    assert zoo.retrain_cache_file("fashion-vae-d2") != fast_file, "full mode would reuse a fast run"


def test_the_retrain_cache_key_ignores_which_notebooks_use_a_recipe(monkeypatch):
    """Renumbering the notebooks or rewording a recipe's purpose (docs only) keeps its cached runs; training
    settings do not."""
    import dataclasses

    monkeypatch.setenv("VAE_FAST", "1")
    before = zoo.recipe_key("fashion-vae-d2")
    r = zoo.recipe("fashion-vae-d2")
    monkeypatch.setitem(zoo.RECIPES, r.name, dataclasses.replace(r, notebooks=("99",), purpose="renamed"))
    assert zoo.recipe_key("fashion-vae-d2") == before
    monkeypatch.setitem(zoo.RECIPES, r.name, dataclasses.replace(r, train={**r.train, "lr": 0.5}))
    assert zoo.recipe_key("fashion-vae-d2") != before


def test_a_damaged_or_foreign_retrain_cache_file_is_never_used(monkeypatch, tmp_path):
    """The cache holds only safetensors: a pickle planted at its path is refused unread (no code runs), and a
    file whose tensors were changed is caught by its recorded digest; both are retrained with a CacheWarning."""
    monkeypatch.setenv("VAE_FAST", "1")
    monkeypatch.setattr(zoo, "RETRAIN_CACHE_DIR", tmp_path)
    path = zoo.retrain_cache_file("fashion-vae-d2")
    ran = tmp_path / "code-ran"
    torch.save({"x": _Planted(str(ran))}, path)
    with pytest.warns(CacheWarning, match="not a run of 'fashion-vae-d2'"):
        assert zoo.load_from_cache("fashion-vae-d2") is None
    assert not ran.exists(), "loading the cache ran code from the file"
    trained = zoo.train_into_cache("fashion-vae-d2", device="cpu")
    state, metadata = zoo.read_file(path)
    state["to_stats.weight"] = state["to_stats.weight"] + 1
    zoo.write_file(path, state, metadata)
    with pytest.warns(CacheWarning, match="do not match their recorded sha256"):
        assert zoo.load_from_cache("fashion-vae-d2") is None
    assert trained.model.latent_dim == 2


class _Planted:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _edited_manifest(tmp_path, monkeypatch, edit) -> None:
    manifest = json.loads(zoo.MANIFEST.read_text())
    edit(manifest["models"])
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    monkeypatch.setattr(zoo, "MANIFEST", path)


def test_a_manifest_entry_pointing_at_another_models_file_is_refused_by_name(tmp_path, monkeypatch):
    def point_d5_at_d10(models):
        models["fashion-vae-d5"].update({k: models["fashion-vae-d10"][k] for k in ("file", "sha256", "bytes")})

    _edited_manifest(tmp_path, monkeypatch, point_d5_at_d10)
    with pytest.raises(
        CheckpointError, match=r"entry 'fashion-vae-d5' points at fashion-vae-d10\.safetensors.*holds 'fashion-vae-d10'"
    ):
        zoo.load("fashion-vae-d5")


def test_a_manifest_entry_whose_config_disagrees_with_the_file_is_refused(tmp_path, monkeypatch):
    _edited_manifest(tmp_path, monkeypatch, lambda models: models["fashion-vae-d5"]["model"].update(latent_dim=6))
    with pytest.raises(CheckpointError, match=r"records the model 'MLPVAE'.*manifest entry 'fashion-vae-d5' says"):
        zoo.load("fashion-vae-d5")


@pytest.mark.parametrize("key", zoo.ENTRY_KEYS)
def test_a_manifest_entry_missing_a_key_names_the_entry_the_key_and_the_fix(tmp_path, monkeypatch, key):
    _edited_manifest(tmp_path, monkeypatch, lambda models: models["fashion-vae-d5"].pop(key))
    with pytest.raises(CheckpointError, match=rf"entry 'fashion-vae-d5' .* lacks '{key}'.*git checkout.*make weights"):
        zoo.get("fashion-vae-d5")


def test_manifest_records_how_each_model_was_made():
    for name, info in MANIFEST["models"].items():
        r = zoo.recipe(name)
        assert info["train_config"] == json.loads(json.dumps(r.train)) and info["dataset"] == r.dataset
        for key in ("ELBO", "recon", "KL", "MSE", "check ELBO"):
            assert key in info["metrics"], (name, key)


def test_docs_zoo_table_is_the_manifest():
    from vae_helpers.config import REPO_ROOT
    from vae_helpers.tools.weights import manifest_table

    page = (REPO_ROOT / "docs" / "pretrained-weights.md").read_text()
    start, end = "<!-- zoo-table: generated by python -m vae_helpers.tools.weights --table -->", "<!-- /zoo-table -->"
    assert start in page and end in page
    block = page.split(start, 1)[1].split(end, 1)[0].strip()
    assert block == manifest_table().strip(), "the zoo table differs from the manifest: paste --table's output"


NUMBER = re.compile(r"-?\d+\.\d+")


def _printed_numbers(notebook) -> list[float]:
    nb = nbformat.read(notebook, as_version=4)
    text = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text.append(out.get("text", ""))
            for key in ("text/plain", "text/markdown", "text/html"):
                text.append(str(out.get("data", {}).get(key, "")))
    return [float(v) for v in NUMBER.findall("\n".join(text))]


@pytest.mark.parametrize("name", sorted(n for n, e in MANIFEST["models"].items() if e["model"]["name"] != "AE"))
def test_notebooks_print_the_manifest_elbo_of_the_models_they_load(name):
    """Each notebook that uses a zoo model and prints its full-test-set ELBO prints the manifest's value."""
    from vae_helpers.config import REPO_ROOT

    info = MANIFEST["models"][name]
    for number in info["notebooks"]:
        if number not in PRINTS_TEST_ELBO.get(name, ()):
            continue
        notebook = next((REPO_ROOT / "notebooks").glob(f"{number}_*.ipynb"))
        numbers = _printed_numbers(notebook)
        assert any(abs(abs(v) - abs(info["metrics"]["ELBO"])) <= 0.051 for v in numbers), (  # a loss prints -ELBO
            f"{notebook.name} does not print {name}'s manifest test ELBO {info['metrics']['ELBO']:.2f}: its committed "
            "outputs tell a different story (rerun it: python -m vae_helpers.tools.course NN --in-place)"
        )


#: Which notebooks print a model's ELBO on the full test set (the others evaluate it on subsets or not at all).
PRINTS_TEST_ELBO = {
    "fashion-vae-d20": ("00", "03", "05", "06", "07", "11"),
    "fashion-vae-d20-mean-bce": ("03",),
    "fashion-vae-d2": ("05", "07"),
    "fashion-vae-d5": ("07",),
    "fashion-vae-d10": ("07", "08", "09"),
    "fashion-vae-d50": ("07",),
    "fashion-vae-d100": ("07",),
    "mnist-vae-d20": ("11",),
    "fashion-conv-vae-d20": ("06",),
    **{f"fashion-beta-vae-d10-beta{b}": ("08",) for b in ("0.5", "2", "4", "8")},
    **{f"fashion-ar-vae-{r}": ("09",) for r in ("none", "linear", "cyclical", "free-bits")},
    "fashion-cvae-d10": ("09",),
}


def test_zoo_file_format_round_trips_and_refuses_foreign_or_cut_files(tmp_path):
    tensors = {"w": torch.randn(33, 7).half(), "n": torch.arange(5)}
    metadata = {"name": "m", "history": {"epoch": [1.0, 2.0]}, "packed": []}
    path = tmp_path / "m.safetensors"
    zoo.write_file(path, tensors, metadata)
    back, back_metadata = zoo.read_file(path)
    assert torch.equal(back["w"], tensors["w"]) and back["w"].dtype == torch.float16
    assert torch.equal(back["n"], tensors["n"]) and back_metadata == metadata
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"], "a temporary file was left behind"
    torch.save(tensors, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a readable vae_helpers weights file"):
        zoo.read_file(tmp_path / "plain.pt")
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(CheckpointError, match="not a readable vae_helpers weights file"):
        zoo.read_file(path)


def test_every_zoo_file_records_its_model_and_recipe_as_json():
    """The recipe a file records is the recipe's record, but for the fields that only document it (which notebooks
    use the model, its purpose): the notebooks were renumbered after the files were written."""
    docs_only = ("notebooks", "purpose")
    for name, info in MANIFEST["models"].items():
        _, metadata = zoo.read_file(zoo.ZOO_DIR / info["file"])
        assert metadata["name"] == name and metadata["model_config"] == info["model"], name
        recorded = {k: v for k, v in metadata["recipe"].items() if k not in docs_only}
        expected = {k: v for k, v in zoo.recipe_record(zoo.recipe(name)).items() if k not in docs_only}
        assert metadata["model_class"] == info["model"]["name"] and recorded == expected, name
        assert set(metadata["recipe"]) == set(zoo.recipe_record(zoo.recipe(name))), name


def test_save_writes_a_file_that_load_file_verifies_and_restores(tmp_path, monkeypatch):
    """The retrain tool's path: save() writes the safetensors file and its manifest entry, load_file() reads it back."""
    from vae_helpers.training import FitResult

    monkeypatch.setattr(zoo, "ZOO_DIR", tmp_path)
    torch.manual_seed(0)
    model = zoo._builder(zoo.recipe("fashion-vae-d2").model, None)
    history = {"epoch": [1.0, 2.0], "seconds": [1.5, 1.5], "val_loss": [300.0, 290.0]}
    trained = zoo.Pretrained(model, FitResult(history, 2, 290.0, "completed", "cpu"))
    info = weights.save("fashion-vae-d2", trained, {"ELBO": -290.0}, seconds=3.0)
    assert info["file"] == "fashion-vae-d2.safetensors" and info["sha256"] == zoo.sha256(tmp_path / info["file"])
    assert [p.name for p in tmp_path.iterdir()] == [info["file"]], "a temporary file was left behind"
    loaded = zoo.load_file("fashion-vae-d2", info, device="cpu")
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value.half().float()), key
    assert loaded.run.history == history and loaded.run.best_epoch == 2 and loaded.run.stopped == "completed"

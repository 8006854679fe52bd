"""Notebook 10 (CelebA): what it says and does when CelebA is missing, its metadata and fast-mode size, and the
Kaggle-mirror converter it points people to."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

import vae_helpers.data as data_mod
from vae_helpers.config import REPO_ROOT
from vae_helpers.data import DataNotFoundError, celeba_instructions, celeba_txt_from_csv, read_celeba_annotations

NOTEBOOK = REPO_ROOT / "notebooks" / "10_celeba_faces.ipynb"
#: What a person without CelebA must be told (issue: source, mirror, layout, where to put it, torchvision's failures, licence).
MUST_NAME = (
    "mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
    "jessicali9530/celeba-dataset",
    "img_align_celeba/000001.jpg",
    "list_attr_celeba.txt",
    "list_eval_partition.txt",
    "VAE_DATA_DIR",
    "repo's data/",
    "../shared/data",
    "#1920",
    "#3708",
    "#8501",
    "non-commercial research",
)


def _isolate(monkeypatch, tmp_path: Path) -> None:
    """Point every CelebA search place at empty folders."""
    (tmp_path / "env").mkdir(exist_ok=True)
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setattr(data_mod.roots, "REPO_DATA_DIR", tmp_path / "repo_data")
    monkeypatch.setattr(data_mod.roots, "REPO_ROOT", tmp_path / "repo")
    monkeypatch.setattr(data_mod.sources, "DATASETS", data_mod.sources.DatasetCache())


def _cells() -> list[dict]:
    return json.loads(NOTEBOOK.read_text())["cells"]


def test_instructions_name_source_mirror_layout_places_and_licence(monkeypatch, tmp_path):
    _isolate(monkeypatch, tmp_path)
    text = celeba_instructions()
    for needle in MUST_NAME:
        assert needle in text, needle
    # The places are listed in the order they are searched, with the real paths.
    assert (
        text.index(str(tmp_path / "env" / "celeba"))
        < text.index(str(tmp_path / "repo_data" / "celeba"))
        < text.index(str(tmp_path / "shared" / "data" / "celeba"))
    )


def test_instructions_mention_the_variable_when_it_is_not_set(monkeypatch, tmp_path):
    _isolate(monkeypatch, tmp_path)
    monkeypatch.delenv("VAE_DATA_DIR")
    assert "1. $VAE_DATA_DIR: <not set>" in celeba_instructions()


def test_notebook_data_cell_prints_instructions_then_fails_when_celeba_is_missing(monkeypatch, tmp_path):
    """Run the notebook's own first cells (imports, parameters, data) with CelebA hidden: the data cell must print
    the instructions and raise, so papermill and nbval stop there (and fail under CI)."""
    _isolate(monkeypatch, tmp_path)
    code = [c for c in _cells() if c["cell_type"] == "code"]
    data_cell = next(i for i, c in enumerate(code) if "celeba_instructions()" in "".join(c["source"]))
    assert "parameters" in code[1].get("metadata", {}).get("tags", []) and data_cell == 2
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for cell in code[:data_cell]:
            exec(compile("".join(cell["source"]), "<notebook 10>", "exec"), namespace)
        with pytest.raises(DataNotFoundError, match="Dataset 'celeba' was not found"):
            exec(compile("".join(code[data_cell]["source"]), "<notebook 10 data cell>", "exec"), namespace)
    printed = out.getvalue()
    for needle in MUST_NAME:
        assert needle in printed, needle


def test_notebook_metadata_and_fast_mode_size():
    nb = json.loads(NOTEBOOK.read_text())
    assert nb["metadata"]["vae_course"]["requires"] == ["celeba"]  # the course runner skips it without CelebA
    params = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    namespace: dict = {}
    monkey = pytest.MonkeyPatch()
    try:
        monkey.setenv("VAE_FAST", "1")
        exec("from vae_helpers import config\n" + "".join(params["source"]), namespace)
    finally:
        monkey.undo()
    steps = namespace["EPOCHS"] * -(-namespace["MAX_PER_SPLIT"] // namespace["BATCH_SIZE"])
    assert 100 <= namespace["MAX_PER_SPLIT"] <= 500 and 100 <= steps <= 500  # "a few hundred images and steps"
    assert namespace["LATENT_DIM"] in (128, 256)


def test_no_celeba_images_or_weights_are_tracked():
    import subprocess

    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [p for p in tracked if p.endswith(".jpg") or "img_align_celeba" in p]
    assert not [
        p for p in tracked if p.endswith((".pt", ".pth", ".safetensors")) and ("celeba" in p.lower() or "10_" in p)
    ]


def test_kaggle_csv_is_converted_to_the_official_txt_format(tmp_path):
    names = [f"Attr_{i}" for i in range(40)]
    rows = [(f"00000{i + 1}.jpg", [1 if (i + j) % 3 == 0 else -1 for j in range(40)]) for i in range(3)]
    (tmp_path / "list_attr_celeba.csv").write_text(
        "image_id," + ",".join(names) + "\n" + "".join(f"{n}," + ",".join(map(str, v)) + "\n" for n, v in rows)
    )
    (tmp_path / "list_eval_partition.csv").write_text("image_id,partition\n000001.jpg,0\n000002.jpg,1\n000003.jpg,2\n")
    celeba_txt_from_csv(tmp_path)
    filenames, attr_names, attrs, partition = read_celeba_annotations(tmp_path)
    assert filenames == ["000001.jpg", "000002.jpg", "000003.jpg"] and attr_names == names
    assert attrs.tolist() == [[1 if v > 0 else 0 for v in values] for _, values in rows]
    assert partition == {"000001.jpg": 0, "000002.jpg": 1, "000003.jpg": 2}
    (tmp_path / "list_attr_celeba.csv").write_text("filename,A\nx.jpg,1,1\n")
    with pytest.raises(data_mod.CorruptDataError, match="Kaggle layout"):
        celeba_txt_from_csv(tmp_path)


def test_converted_real_annotations_match_the_official_files(celeba_folder, tmp_path):
    """Round trip on the real files: official txt -> Kaggle-style CSV -> txt gives the same table."""
    filenames, names, attrs, partition = read_celeba_annotations(celeba_folder)
    k = 500
    (tmp_path / "list_attr_celeba.csv").write_text(
        "image_id,"
        + ",".join(names)
        + "\n"
        + "".join(
            f"{f}," + ",".join("1" if a else "-1" for a in row) + "\n" for f, row in zip(filenames[:k], attrs[:k])
        )
    )
    (tmp_path / "list_eval_partition.csv").write_text(
        "image_id,partition\n" + "".join(f"{f},{partition[f]}\n" for f in filenames[:k])
    )
    celeba_txt_from_csv(tmp_path)
    again = read_celeba_annotations(tmp_path)
    assert again[0] == filenames[:k] and again[1] == names and (again[2] == attrs[:k]).all()
    assert again[3] == {f: partition[f] for f in filenames[:k]}


def test_the_published_notebook_shows_no_celeba_photograph():
    """CelebA's images may not be redistributed: by default the reconstructions figure leaves the originals out,
    and the committed notebook holds no figure drawn with them (the photographs appear only in a learner's run)."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    parameters = next(c for c in cells if "parameters" in c["metadata"].get("tags", []))
    assert "SHOW_ORIGINALS = False" in "".join(parameters["source"])
    calls = [c for c in cells if c["cell_type"] == "code" and "plot_reconstructions(" in "".join(c["source"])]
    assert calls and all("show_originals=SHOW_ORIGINALS" in "".join(c["source"]) for c in calls)
    for cell in calls:
        for out in cell.get("outputs", []):
            assert "original" not in json.dumps(out.get("data", {}).get("text/plain", "")), "a figure with originals"

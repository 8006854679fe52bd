import json
import re
from pathlib import Path

import pytest
import torch

from vae_helpers import config


def test_fast_mode_switch(monkeypatch):
    monkeypatch.delenv("VAE_FAST", raising=False)
    assert not config.fast_mode() and config.pick(full=50, fast=2) == 50
    for value in ("1", "true", "YES"):
        monkeypatch.setenv("VAE_FAST", value)
        assert config.fast_mode() and config.pick(full=50, fast=2) == 2
    monkeypatch.setenv("VAE_FAST", "0")
    assert not config.fast_mode()


def test_device_choice(monkeypatch):
    monkeypatch.delenv("VAE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if expected == "cpu" and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        expected = "mps"
    assert config.get_device().type == expected
    monkeypatch.setenv("VAE_DEVICE", "cpu")
    assert config.get_device() == torch.device("cpu")
    assert config.describe_device(torch.device("cpu")).startswith("cpu (")


def test_fast_mode_is_read_only_in_config():
    package = Path(config.__file__).parent
    pattern = re.compile(r"(environ\.get|getenv|environ\[|env_switch)\(?\s*[\"']VAE_FAST[\"']\s*[,)\]]")
    readers = [p.name for p in package.glob("*.py") if pattern.search(p.read_text()) and p.name != "config.py"]
    assert pattern.search(Path(config.__file__).read_text())
    assert readers == [], f"VAE_FAST must be read only through vae_helpers.config, found in {readers}"


NOTEBOOKS = sorted((Path(config.REPO_ROOT) / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_has_one_parameters_cell_that_honours_fast_mode(path):
    nb = json.loads(path.read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters', has {len(tagged)}"
    source = "".join(tagged[0]["source"])
    other = "".join("".join(c["source"]) for c in nb["cells"] if c is not tagged[0] and c["cell_type"] == "code")
    # a notebook that neither loads a zoo model nor trains one (02: no data, no training) has no TRAIN switch
    if "zoo.get(" in other or re.search(r"\bTRAIN\b", other):
        assert re.search(r"^TRAIN = (False|None)\b", source, re.M), (
            f"{path.name}: the parameters cell needs the TRAIN switch (False: load the verified zoo weights)"
        )
    else:
        assert not re.search(r"^TRAIN = ", source, re.M), f"{path.name} trains nothing: TRAIN would do nothing"
    sizes = [
        line
        for line in source.splitlines()
        if re.match(r"[A-Z_0-9]+ = ", line) and not line.startswith(("TRAIN", "SEED"))
    ]
    assert "pick(" in source or not sizes, f"{path.name}: the parameters cell must size the run with config.pick"
    assert "VAE_FAST" not in other, f"{path.name}: read fast mode only in the parameters cell"


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ has no NN_topic.ipynb"


def test_threads_label_names_one_thread_in_the_singular():
    assert config.threads_label(1) == "1 thread"
    assert config.threads_label(2) == "2 threads"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert config.describe_device(torch.device("cpu")) == "cpu (1 thread)"
    finally:
        torch.set_num_threads(threads)

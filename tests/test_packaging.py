"""``pip install .`` (not only ``-e``) gives a package that finds its own data: the zoo's weights and the
feature classifier are package data read through importlib.resources, not files of a clone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vae_helpers.config import REPO_ROOT

#: Run in a folder outside the repository, with only the installed copy on the path.
_USE_INSTALLED = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import vae_helpers
    from vae_helpers import quality, zoo
    site = Path(sys.argv[1]).resolve()
    assert Path(vae_helpers.__file__).resolve().is_relative_to(site), vae_helpers.__file__
    assert zoo.ZOO_DIR.resolve().is_relative_to(site), zoo.ZOO_DIR
    loaded = zoo.get("fashion-vae-d2", device="cpu")
    assert loaded.model.latent_dim == 2 and not loaded.model.training
    classifier = quality.classifier_path("fashion-mnist")
    assert classifier.is_file() and classifier.resolve().is_relative_to(site), classifier
    from vae_helpers import config
    # Installed, the course folder is where the notebooks run: build/ and data/ land there, not in site-packages.
    assert config.REPO_ROOT == Path.cwd().resolve(), config.REPO_ROOT
    assert config.figure_dir().is_relative_to(Path.cwd().resolve()), config.figure_dir()
    print("installed package OK")
    """
)


@pytest.mark.slow
def test_pip_install_without_e_loads_a_zoo_model_outside_the_repository(tmp_path):
    # A copy of what the package is built from, so the build writes nothing into the repository.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    shutil.copytree(
        REPO_ROOT / "vae_helpers", source / "vae_helpers", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["--target", str(site), str(source)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert list(site.glob("vae_helpers/assets/zoo/*.safetensors")), "the zoo's weights are not in the wheel"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VAE_FAST")}
    env.update(PYTHONPATH=str(site), OMP_NUM_THREADS="1")
    run = subprocess.run(
        [sys.executable, "-c", _USE_INSTALLED, str(site)], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0 and "installed package OK" in run.stdout, run.stdout + run.stderr
    assert not Path(elsewhere, "build").exists(), "loading pretrained weights wrote into the working folder"

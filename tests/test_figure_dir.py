"""A learner's run, a test or an autograde never writes into tracked files: figures go under build/; only the
maintainer's course runner with --in-place (which sets VAE_UPDATE_COURSE_FIGURES=1) updates assets/figures/."""

from __future__ import annotations

import subprocess

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from vae_helpers import config, plots  # noqa: E402


@pytest.mark.parametrize(
    "fast, course_figures, where",
    [
        ("0", None, "build/figures"),
        ("1", None, "build/figures-fast"),
        ("1", "1", "build/figures-fast"),
        ("0", "1", "assets/figures"),
        ("0", "0", "build/figures"),
    ],
)
def test_figure_dir(monkeypatch, fast, course_figures, where):
    monkeypatch.setenv("VAE_FAST", fast)
    if course_figures is None:
        monkeypatch.delenv(config.COURSE_FIGURES_ENV, raising=False)
    else:
        monkeypatch.setenv(config.COURSE_FIGURES_ENV, course_figures)
    assert config.figure_dir() == config.REPO_ROOT / where


def test_a_learners_full_run_saves_figures_in_an_ignored_folder(monkeypatch):
    monkeypatch.setenv("VAE_FAST", "0")
    monkeypatch.delenv(config.COURSE_FIGURES_ENV, raising=False)
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    path = plots.save_figure(fig, "test_figure_dir_probe")
    plt.close(fig)
    try:
        assert path.is_file() and path.parent == config.REPO_ROOT / "build" / "figures"
        ignored = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=config.REPO_ROOT)
        assert ignored.returncode == 0, f"{path} is not ignored by git: a learner's run would dirty the clone"
    finally:
        path.unlink(missing_ok=True)

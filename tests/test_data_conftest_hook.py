"""The nbval collection hook in the repo-root conftest.py must survive broken data: a corrupt CelebA used to turn
``make test`` into a pytest INTERNALERROR. Now the notebook that needs it is skipped (or, under CI, failed) with
the message, and collection goes on."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vae_helpers.config import REPO_ROOT
from vae_helpers.errors import CorruptDataError, DataNotFoundError
from vae_helpers.tools import course


def _root_conftest():
    spec = importlib.util.spec_from_file_location("vae_root_conftest", REPO_ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Item:
    """The parts of a pytest item the hook uses."""

    def __init__(self, path: Path):
        self.path = path
        self.markers: list = []

    def add_marker(self, marker):
        self.markers.append(marker.mark if hasattr(marker, "mark") else marker)

    def get_closest_marker(self, name):
        return next((m for m in self.markers if m.name == name), None)


@pytest.fixture
def broken_requirements(monkeypatch):
    def check(notebook):
        if "celeba" in notebook.name:
            raise CorruptDataError("/data/celeba/list_attr_celeba.txt, line 7: 40 columns, expected 41.")
        if "mnist" in notebook.name:
            raise DataNotFoundError("Dataset 'mnist' was not found.")
        return []

    monkeypatch.setattr(course, "missing_requirements", check)  # where the root conftest imports it from


@pytest.mark.parametrize("ci", [False, True])
def test_hook_marks_the_notebook_with_a_data_problem_and_leaves_the_others(broken_requirements, monkeypatch, ci):
    monkeypatch.setenv("CI", "true" if ci else "")
    hooks = _root_conftest()
    celeba = [_Item(Path("notebooks/10_celeba.ipynb")) for _ in range(2)]
    fine = _Item(Path("notebooks/01_fine.ipynb"))
    unit = _Item(Path("tests/test_x.py"))
    hooks.pytest_collection_modifyitems(None, [*celeba, fine, unit])
    assert fine.markers == [] and unit.markers == []
    for item in celeba:
        (mark,) = item.markers
        assert "list_attr_celeba.txt, line 7" in (mark.kwargs.get("reason") or mark.args[0])
        assert mark.name == ("vae_data_problem" if ci else "skip")
    if ci:
        with pytest.raises(pytest.fail.Exception, match="list_attr_celeba.txt, line 7"):
            hooks.pytest_runtest_setup(celeba[0])
    hooks.pytest_runtest_setup(fine)  # no marker: nothing happens


def test_missing_data_is_skipped_outside_ci_and_failed_under_ci(broken_requirements, monkeypatch):
    hooks = _root_conftest()
    item = _Item(Path("notebooks/05_mnist.ipynb"))
    monkeypatch.setenv("CI", "")
    hooks.pytest_collection_modifyitems(None, [item])
    assert item.markers[0].name == "skip" and "Dataset 'mnist' was not found" in item.markers[0].kwargs["reason"]
    item = _Item(Path("notebooks/05_mnist.ipynb"))
    monkeypatch.setenv("CI", "true")
    hooks.pytest_collection_modifyitems(None, [item])
    assert item.markers[0].name == "vae_data_problem"


def test_collecting_a_notebook_with_corrupt_celeba_is_not_an_internal_error(tmp_path):
    """End to end, as ``make test`` meets it: pytest collects notebook 10 with a corrupt CelebA first in the search."""
    folder = tmp_path / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    (folder / "list_attr_celeba.txt").write_text("1\nA B\n000001.jpg 1\n")  # a row with one of two attributes
    (folder / "list_eval_partition.txt").write_text("000001.jpg 0\n")
    env = dict(os.environ, VAE_DATA_DIR=str(tmp_path), PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1", CI="")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "--nbval-lax",
            "-p",
            "no:cacheprovider",
            "notebooks/10_celeba_faces.ipynb",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "INTERNALERROR" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_longest_files_go_first_and_cells_keep_their_order(monkeypatch):
    """Two pytest-xdist workers finish together only if the long files start first: the listed test files
    (conftest.LONGEST_FIRST), then notebooks by the time their committed outputs took."""
    from vae_helpers.tools.course import committed_seconds

    hooks = _root_conftest()
    monkeypatch.setattr(hooks, "_data_problems", lambda notebook: [])
    mlp, collapse = (
        REPO_ROOT / "notebooks" / name for name in ("05_mlp_vae.ipynb", "09_collapse_and_conditional_vae.ipynb")
    )
    assert committed_seconds(mlp) > committed_seconds(collapse) > 0
    quick = [_Item(REPO_ROOT / "tests" / "test_config.py") for _ in range(2)]
    cells_09 = [_Item(collapse) for _ in range(3)]
    cells_05 = [_Item(mlp) for _ in range(2)]
    grading = _Item(REPO_ROOT / "tests" / "test_nbgrader.py")
    items = [quick[0], cells_09[0], quick[1], cells_05[0], cells_09[1], grading, cells_09[2], cells_05[1]]
    hooks.pytest_collection_modifyitems(None, items)
    assert items == [grading, *cells_05, *cells_09, *quick]
    for listed in hooks.LONGEST_FIRST:  # every name is a file that exists (a renamed one would lose its place)
        assert (REPO_ROOT / listed).is_file(), listed

"""The headless course runner (``python -m vae_helpers.tools.course``): a damaged dataset or a failing
notebook is reported by name and the run carries on with the other notebooks, then exits non-zero.

Only trivial one-cell notebooks written into tmp_path are executed, never the course's own.
"""

from __future__ import annotations

import nbformat
import pytest

from vae_helpers.errors import CorruptDataError, DataNotFoundError
from vae_helpers.tools import course


def _notebook(path, source: str, requires: list[str] | None = None):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if requires:
        nb.metadata["vae_course"] = {"requires": requires}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def fake_course(tmp_path, monkeypatch):
    """A notebooks/ folder in tmp_path; executed copies go to tmp_path/out."""
    books = tmp_path / "notebooks"
    books.mkdir()
    monkeypatch.setattr(course, "NOTEBOOK_DIR", books)
    monkeypatch.setattr(course, "OUTPUT_DIR", tmp_path / "out")
    monkeypatch.delenv("CI", raising=False)
    return books


def test_corrupt_dataset_is_reported_with_its_file_and_other_datasets_still_checked(tmp_path, monkeypatch):
    checked = []

    def load_dataset(name, **kwargs):
        checked.append(name)
        if name == "fashion-mnist":
            raise CorruptDataError(
                "/data/fashion/train-images-idx3-ubyte.gz: truncated (100 bytes, expected 26421880)."
            )
        if name == "celeba":
            raise DataNotFoundError("CelebA not found; searched: /data/celeba")
        return object()

    monkeypatch.setattr(course, "load_dataset", load_dataset)
    nb = _notebook(tmp_path / "01_x.ipynb", "pass", requires=["fashion-mnist", "mnist", "celeba"])
    problems = course.data_problems(nb)
    assert checked == ["fashion-mnist", "mnist", "celeba"]  # a damaged dataset does not stop the other checks
    assert len(problems["corrupt"]) == 1 and "train-images-idx3-ubyte.gz: truncated" in problems["corrupt"][0]
    assert problems["corrupt"][0].startswith("fashion-mnist: damaged data")
    assert problems["missing"] == ["celeba: CelebA not found; searched: /data/celeba"]
    # conftest.py's nbval skip reason lists both kinds
    assert len(course.missing_requirements(nb)) == 2


def test_course_reports_a_failing_notebook_and_runs_the_rest(fake_course, monkeypatch, capfd):
    """Two real one-cell notebooks: the first raises, the second still runs; a third has damaged data."""

    def load_dataset(name, **kwargs):
        raise CorruptDataError(f"/data/{name}.gz: cannot be read as gzip. Delete it and run `make data`.")

    monkeypatch.setattr(course, "load_dataset", load_dataset)
    _notebook(fake_course / "01_broken.ipynb", "raise ValueError('boom in the first notebook')")
    _notebook(fake_course / "02_fine.ipynb", "print('second notebook ran')")
    _notebook(fake_course / "03_damaged_data.ipynb", "print('never runs')", requires=["fashion-mnist"])
    assert course.main([]) == 1
    out, err = capfd.readouterr()
    assert "| 01_broken.ipynb | FAILED |" in out and "| 02_fine.ipynb | ok |" in out
    assert "| 03_damaged_data.ipynb | FAILED (damaged data) |" in out
    assert "01_broken.ipynb failed" in err and "boom in the first notebook" in err
    assert "01_broken.ipynb: ValueError: boom in the first notebook" in out  # the summary names the notebook and error
    assert "/data/fashion-mnist.gz: cannot be read as gzip" in out
    assert (fake_course.parent / "out" / "02_fine.ipynb").is_file()
    # the kernel runs over IPC, so jupyter's "running over TCP without encryption" warning is gone
    assert "without encryption" not in out + err


def test_no_notebooks_is_an_error(fake_course, capsys):
    assert course.main(["no-such-name"]) == 1
    assert "No notebooks" in capsys.readouterr().out

"""The headless course runner (``python -m vae_helpers.tools.course``): a damaged dataset or a failing
notebook is reported by name and the run carries on with the other notebooks, then exits non-zero.

Only trivial one-cell notebooks written into tmp_path are executed, never the course's own.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest
import torch

from vae_helpers import zoo
from vae_helpers.errors import CorruptDataError, DataNotFoundError
from vae_helpers.tools import course, course_jobs


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
    _notebook(fake_course / "04_damaged_data.ipynb", "print('never runs')", requires=["fashion-mnist"])
    assert course.main([]) == 1
    out, err = capfd.readouterr()
    assert "| 01_broken.ipynb | FAILED |" in out and "| 02_fine.ipynb | ok |" in out
    assert "| 04_damaged_data.ipynb | FAILED (damaged data) |" in out
    assert "01_broken.ipynb failed" in err and "boom in the first notebook" in err
    assert "01_broken.ipynb: ValueError: boom in the first notebook" in out  # the summary names the notebook and error
    assert "/data/fashion-mnist.gz: cannot be read as gzip" in out
    assert (fake_course.parent / "out" / "02_fine.ipynb").is_file()
    # the kernel runs over IPC, so jupyter's "running over TCP without encryption" warning is gone
    assert "without encryption" not in out + err


def test_no_notebooks_is_an_error(fake_course, capsys):
    assert course.main(["no-such-name"]) == 1
    assert "No notebooks" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# The parallel retrain path: a scheduler of processes, and which recipes each notebook waits for
# --------------------------------------------------------------------------------------------
# The jobs' tasks: module-level functions, which the pool's processes import by name.
def _wait_for(mine: str, other: str) -> None:
    Path(mine).write_text("here")
    deadline = time.time() + 60
    while not Path(other).exists():
        if time.time() > deadline:
            raise RuntimeError("the other job never ran beside me")
        time.sleep(0.05)
    print("saw", Path(other).name, flush=True)


def _check_both_exist(a: str, b: str) -> None:
    assert Path(a).exists() and Path(b).exists()
    print("threads", os.environ["OMP_NUM_THREADS"], torch.get_num_threads(), flush=True)


def _fail() -> None:
    print("the real error text", flush=True)
    raise RuntimeError("broken recipe")


def _print(text: str) -> None:
    print(text, flush=True)


def _append(path: str, text: str) -> None:
    with open(path, "a") as handle:
        handle.write(text)


def _sleep_forever(pid_file: str) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(600)


def test_run_jobs_runs_jobs_side_by_side_and_each_after_what_it_needs(tmp_path, capsys):
    """``a`` and ``b`` can only both succeed if they run at the same time (each waits for the other's file);
    ``c`` needs both and checks that their files exist when it starts. Logs hold each job's output."""
    a, b = tmp_path / "a.flag", tmp_path / "b.flag"
    jobs = [
        course.Job("c", _check_both_exist, (str(a), str(b)), needs=("a", "b")),
        course.Job("a", _wait_for, (str(a), str(b))),
        course.Job("b", _wait_for, (str(b), str(a))),
    ]
    done = course.run_jobs(jobs, slots=2, log_dir=tmp_path / "logs")
    assert [j.status for j in done] == ["ok", "ok", "ok"], capsys.readouterr().out
    assert "saw b.flag" in (tmp_path / "logs" / "a.log").read_text()
    # c ran alone (nothing else could run beside it), so it had every core; a and b shared them
    cores = course.default_jobs()
    assert f"threads {cores} {cores}" in (tmp_path / "logs" / "c.log").read_text()
    assert done[1].threads == max(1, cores // 2)


def test_run_jobs_reports_a_failure_with_its_log_and_still_runs_what_needed_it(tmp_path, capsys):
    jobs = [
        course.Job("train broken-recipe", _fail),
        course.Job("notebook", _print, ("ran anyway",), needs=("train broken-recipe",)),
    ]
    done = course.run_jobs(jobs, slots=2, log_dir=tmp_path / "logs")
    assert [j.status for j in done] == ["FAILED", "ok"]
    out = capsys.readouterr().out
    assert "FAILED train broken-recipe" in out and "the real error text" in out  # the log's tail is shown
    assert "RuntimeError: broken recipe" in out  # and the traceback


def test_an_interrupt_stops_the_running_jobs(tmp_path, monkeypatch):
    """Ctrl-C in the runner (here: raised by its wait once the job runs) stops the pool's processes, then propagates."""
    pid_file = tmp_path / "pid"
    jobs = [course.Job("sleeper", _sleep_forever, (str(pid_file),))]

    def interrupt_once_the_job_runs():
        while not pid_file.exists() or not pid_file.read_text():
            time.sleep(0.05)
        raise KeyboardInterrupt

    monkeypatch.setattr(course_jobs, "_pause", interrupt_once_the_job_runs)
    with pytest.raises(KeyboardInterrupt):
        course.run_jobs(jobs, slots=1, log_dir=tmp_path / "logs")
    assert jobs[0].status == "interrupted"
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)  # the job's process is gone


def test_one_slot_runs_jobs_one_after_another(tmp_path):
    order = tmp_path / "order.txt"
    jobs = [course.Job(name, _append, (str(order), name)) for name in "xyz"]
    course.run_jobs(jobs, slots=1, log_dir=tmp_path / "logs")
    assert order.read_text() == "xyz"


def _zoo_calls(notebook) -> list[str]:
    """Every ``zoo.get(...)`` call in the notebook's code cells, with its arguments."""
    nb = nbformat.read(notebook, as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    calls = []
    for match in re.finditer(r"zoo\.get\(", source):
        depth, i = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(source[i], 0)
            i += 1
        calls.append(source[match.start() : i])
    return calls


def test_cached_recipes_match_what_the_notebooks_ask_for():
    """A parallel --train run trains a notebook's recipes before it starts, unless the notebook trains them
    with the student's code (``loss_fn=`` or ``model_class=``, which the retrain cache never serves)."""
    books = course.course_notebooks()
    assert books, "no course notebooks found"
    for book in books:
        calls = _zoo_calls(book)
        own = [c for c in calls if "loss_fn=" in c or "model_class=" in c]
        number = book.name[:2]
        if number in course.TRAINS_ITS_OWN_MODELS:
            assert own, f"{book.name} trains nothing with the student's code: remove it from TRAINS_ITS_OWN_MODELS"
            plain = [c for c in calls if c not in own]
            names = [name for call in plain for name in re.findall(r'zoo\.get\(\s*"([^"]+)"', call)]
            assert len(names) == len(plain), f"{book.name}: name the recipe of each plain zoo.get literally, {plain}"
            assert sorted(course.cached_recipes(book)) == sorted(set(names)), (
                f"{book.name} gets {names} from the cache: list them in CACHED_BESIDE_OWN_MODELS"
            )
        else:
            assert not own, f"{book.name} trains with the student's code: add it to TRAINS_ITS_OWN_MODELS"
            expected = course.cached_recipes(book)
            assert bool(calls) == bool(expected), f"{book.name}: zoo.get calls {calls}, recipes {expected}"
            for call in calls:  # a literal name must be among the recipes the notebook is listed for
                for name in re.findall(r'zoo\.get\(\s*"([^"]+)"', call):
                    assert name in expected, f"{book.name} asks for {name}; add {number!r} to its recipe's notebooks"


def test_parallel_jobs_start_the_independent_notebooks_first_and_wait_for_recipes(tmp_path):
    books = [book for book in course.course_notebooks() if book.name[:2] in ("04", "07", "08", "09")]
    jobs = course.parallel_jobs(books, tmp_path, fast=True, in_place=False)
    labels = [j.label for j in jobs]
    # 08 trains its models with the student's code: it needs no cached recipe and starts at once
    assert labels[0].startswith("08_")
    # 09 trains its own too, but compares them with a plain VAE that it gets from the cache
    assert next(j for j in jobs if j.label.startswith("09_")).needs == ("train fashion-vae-d10",)
    trained = [j.label for j in jobs if j.notebook is None]
    assert "train fashion-vae-d20" in trained and "train fashion-vae-d100" in trained
    assert len(trained) == len(set(trained))  # a recipe two notebooks share is trained once
    seven = next(j for j in jobs if j.label.startswith("07_"))
    assert set(seven.needs) == {f"train fashion-vae-d{d}" for d in (2, 5, 10, 20, 50, 100)}
    assert set(next(j for j in jobs if j.label.startswith("04_")).needs) == {"train fashion-vae-d20"}
    assert all(j.args[-1] is True for j in jobs)  # fast mode reaches every job
    assert all(j.task is course._notebook_job for j in jobs if j.notebook)
    assert all(j.task is course._training_job for j in jobs if not j.notebook)
    # the notebooks that wait for recipes go longest first (their committed runs), so the longest does not start last
    waiting = [j.notebook for j in jobs if j.notebook and j.needs]
    assert len(waiting) == 3 and waiting[-1].startswith("04_")  # 04 is the quickest of 04, 07 and 09
    assert waiting == sorted(waiting, key=lambda name: -course.committed_seconds(course.NOTEBOOK_DIR / name))


def test_committed_seconds_reads_papermills_duration_and_is_zero_without_it(tmp_path):
    book = tmp_path / "00_x.ipynb"
    book.write_text(json.dumps({"metadata": {"papermill": {"duration": 12.5}}, "cells": []}))
    assert course.committed_seconds(book) == 12.5
    book.write_text(json.dumps({"metadata": {}, "cells": []}))
    assert course.committed_seconds(book) == 0.0
    assert course.committed_seconds(tmp_path / "missing.ipynb") == 0.0
    assert course.committed_seconds(course.NOTEBOOK_DIR / "05_mlp_vae.ipynb") > 0  # the committed outputs have one


def test_recipe_option_trains_through_the_function_zoo_get_trains_with(monkeypatch, capsys):
    trained = []
    fake_run = type("Run", (), {"history": {"epoch": [1, 2]}})()
    monkeypatch.setattr(course, "train_into_cache", lambda name: trained.append(name) or zoo.Pretrained(None, fake_run))
    assert course.main(["--recipe", "fashion-vae-d20"]) == 0 and trained == ["fashion-vae-d20"]
    assert course.main(["--recipe", "fashion-vae-d21"]) == 2 and trained == ["fashion-vae-d20"]
    assert "No zoo model 'fashion-vae-d21'" in capsys.readouterr().err


def test_a_train_run_starts_from_an_empty_retrain_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_FAST", "1")
    monkeypatch.setattr(zoo, "RETRAIN_CACHE_DIR", tmp_path)
    earlier = [zoo.retrain_cache_file(name) for name in ("fashion-vae-d2", "fashion-vae-d20")]
    other_mode = tmp_path / "fashion-vae-d2-0123456789abcdef.safetensors"
    for path in [*earlier, other_mode]:
        path.write_bytes(b"an earlier run")
    assert sorted(course.clear_retrain_cache()) == sorted(earlier)
    assert [p.name for p in tmp_path.iterdir()] == [other_mode.name]


def test_the_runner_and_the_zoo_share_no_environment_variable():
    """The retrain cache is an explicit folder (zoo.RETRAIN_CACHE_DIR), not a setting passed through the environment."""
    for module in (course, zoo):
        source = open(module.__file__).read()
        assert "VAE_RETRAIN_CACHE" not in source and "VAE_COURSE_NOTEBOOK" not in source, module.__name__


def test_jobs_above_one_need_the_retrain_path(capsys):
    with pytest.raises(SystemExit):
        course.main(["--jobs", "2"])
    assert "only with --train" in capsys.readouterr().err

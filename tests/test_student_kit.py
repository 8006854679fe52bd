"""The student kit (``make student-kit``, ``tools/student_kit.py``) installs and runs outside the repository.

The kit is built, unpacked in a temporary folder outside the repository, and its wheel installed into an empty
folder with ``pip install --no-deps --target SITE``, as ``tests/test_packaging.py`` does. That is the fresh
environment: a virtual environment created from the course venv's base interpreter would inherit none of the
course's packages, and installing the kit's pinned requirements into it needs the network and gigabytes. So the
notebooks run with the course environment's Python and its pinned dependencies, with ``PYTHONPATH=SITE`` (ahead of
the course environment's own editable install) and the kit's notebook folder as working directory: every kernel
checks that ``import vae_helpers`` is the kit's copy, not the repository's.

In fast mode (``VAE_FAST=1``), with the data passed explicitly through ``VAE_DATA_DIR`` (the package's own search
looks beside the repository, ``../shared/data``, which the kit cannot see): notebook 00 runs whole, each blank
exercise notebook runs up to (not including) its first exercise's solution cell, and notebook 01 with the reference
solutions pasted in (``tests/_solutions.py``) runs whole, its check cells passing. ``pytest -s`` prints the CPU
time the notebooks took. nbgrader's autograde of the solved notebooks is ``tests/test_nbgrader.py``'s work.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from _solutions import paste_solutions

from tools import student_kit
from vae_helpers.config import REPO_ROOT, in_ci
from vae_helpers.data import search_roots

pytestmark = pytest.mark.slow  # builds a wheel and starts ten kernels; part of `make test` (make unit)
BLANK = [p.name for p in student_kit.student_notebooks()]
SOLVED = "01_autoencoder_limitations.ipynb"  # the smallest: solved and run whole
PROBE = "import vae_helpers\nprint('vae_helpers from', vae_helpers.__file__)"

#: Executes each notebook named on its command line in place (outputs kept), in the notebook's folder; prints
#: ``{"errors": {notebook: error or null}, "cpu": {notebook: its kernel's CPU seconds}}`` as JSON. Run by the course environment's Python with PYTHONPATH=SITE.
_RUNNER = textwrap.dedent(
    """
    import json
    import resource
    import sys
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError


    def kernels_cpu():
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime


    errors, cpu = {}, {}
    for name in sys.argv[1:]:
        path, before = Path(name), kernels_cpu()
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
            errors[path.name] = None
        except CellExecutionError as err:
            errors[path.name] = str(err)[-3000:]
        nbformat.write(nb, path)
        cpu[path.name] = kernels_cpu() - before
    print(json.dumps({"errors": errors, "cpu": cpu}))
    """
)


def _data_root() -> Path:
    """The data root the course's search finds (VAE_DATA_DIR, the repo's data/ or ../shared/data)."""
    for _, root in search_roots():
        if (root / "FashionMNIST" / "raw").is_dir() and (root / "MNIST" / "raw").is_dir():
            return root
    message = "no data root with MNIST/raw and FashionMNIST/raw was found: " + ", ".join(
        str(r) for _, r in search_roots()
    )
    if in_ci():
        pytest.fail("CI=true and " + message)
    pytest.skip(message)


def _first_solution_cell(nb: nbformat.NotebookNode) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution"))


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> dict:
    """Build the kit, unpack it outside the repository and install its wheel into an empty folder."""
    tmp = tmp_path_factory.mktemp("student-kit")
    assert not tmp.resolve().is_relative_to(REPO_ROOT), "the kit must be tried outside the repository"
    archive = student_kit.build(tmp / "out")
    unpacked = tmp / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    (wheel,) = (unpacked / student_kit.KIT_NAME).glob("vae_helpers-*.whl")
    site = tmp / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(site),
            str(wheel),
        ],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return {"archive": archive, "root": unpacked / student_kit.KIT_NAME, "wheel": wheel, "site": site}


def test_the_kit_holds_the_notebooks_the_wheel_the_pins_and_a_readme(kit):
    root = kit["root"]
    reading = [p.name for p in student_kit.reading_notebooks()]  # no exercise: 00, 03 and the appendix 11
    assert reading == ["00_setup_and_data.ipynb", "03_elbo_on_real_images.ipynb", "11_appendix_reproductions.ipynb"]
    assert sorted(p.name for p in (root / "notebooks" / "student").glob("*.ipynb")) == sorted([*reading, *BLANK])
    for name in BLANK:  # byte for byte nbgrader's release, so that submissions from the kit grade as any other
        shipped = root / "notebooks" / "student" / name
        assert shipped.read_bytes() == (student_kit.STUDENT_DIR / name).read_bytes(), name
    for name in reading:
        nb = nbformat.read(root / "notebooks" / "student" / name, as_version=4)
        assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code"), f"{name} ships without outputs"
    for nb_path in (root / "notebooks" / "student").glob("*.ipynb"):
        for target in re.findall(r"\]\((\.\./[^)]+)\)", nb_path.read_text(encoding="utf-8")):
            assert (nb_path.parent / target).is_file(), f"{nb_path.name} links to {target}, missing from the kit"
    assert (root / "requirements.txt").read_text(encoding="utf-8") == (REPO_ROOT / "requirements.txt").read_text(
        encoding="utf-8"
    )
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert f"pip install -r requirements.txt {kit['wheel'].name}" in readme
    assert "jupyter lab --notebook-dir=notebooks/student" in readme
    assert "VAE_DATA_DIR" in readme


def test_the_wheel_has_the_weights_and_no_answers(kit):
    names = zipfile.ZipFile(kit["wheel"]).namelist()
    assert any(n.startswith("vae_helpers/assets/zoo/") and n.endswith(".safetensors") for n in names)
    assert "vae_helpers/assets/classifier_fashion-mnist.pt" in names
    assert not [n for n in names if n.startswith(("grading/", "tests/")) or "hidden_" in n or "reference_" in n]
    assert not [n for n in names if n.startswith("vae_helpers/tools/")], "the maintainer's tools reach students"
    assert "vae_helpers/exercises/nb09.py" in names and "vae_helpers/zoo.py" in names
    assert student_kit.check_wheel(kit["wheel"]) == names


def test_check_wheel_refuses_a_wheel_with_the_grading_module(kit, tmp_path):
    leaky = tmp_path / kit["wheel"].name
    with zipfile.ZipFile(kit["wheel"]) as source, zipfile.ZipFile(leaky, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item))
        target.writestr("grading/nb01.py", "def hidden_codes_stats(fn):\n    pass\n")
    with pytest.raises(student_kit.StudentKitError, match=r"teacher-only material.*grading/nb01\.py"):
        student_kit.check_wheel(leaky)


@pytest.fixture(scope="module")
def runs(kit) -> dict:
    """Run, in fast mode, notebook 00, the blank notebooks up to their first exercise and the solved
    notebook 01, each with a first cell that prints where ``vae_helpers`` comes from.
    Returns ``{"errors": {notebook: error or None}, "dir": the executed copies' folder, "site": the install}``."""
    data_root = _data_root()
    shipped = kit["root"] / "notebooks" / "student"
    run_dir = kit["root"] / "notebooks" / "executed"  # copies, beside the shipped notebooks (same relative links)
    run_dir.mkdir()
    to_run = []

    def add(name: str, nb: nbformat.NotebookNode) -> None:
        nb.cells.insert(0, nbformat.v4.new_code_cell(PROBE))
        nbformat.write(nb, run_dir / name)
        to_run.append(name)

    add("00_setup_and_data.ipynb", nbformat.read(shipped / "00_setup_and_data.ipynb", as_version=4))
    for name in BLANK:
        nb = nbformat.read(shipped / name, as_version=4)
        nb.cells = nb.cells[: _first_solution_cell(nb)]
        add(f"blank_{name}", nb)
    solved = paste_solutions(nbformat.read(shipped / SOLVED, as_version=4), SOLVED)
    add(f"solved_{SOLVED}", solved)

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PYTHONPATH=str(kit["site"]), VAE_FAST="1", VAE_DATA_DIR=str(data_root), OMP_NUM_THREADS="1")
    # Two one-thread runners side by side: notebook 10's prefix (it trains the faces' VAE) and 00 in one, the rest
    # in the other; the two take about as long, and the kit's notebooks are independent of each other.
    first = [n for n in to_run if "10_celeba" in n or n.startswith("00_")]
    groups = [first, [n for n in to_run if n not in first]]
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    logs = [(run_dir / f"runner{i}.out", run_dir / f"runner{i}.err") for i in range(len(groups))]
    procs = []
    for group, (out, err) in zip(groups, logs):
        with open(out, "w") as stdout, open(err, "w") as stderr:  # files, not pipes: neither runner can block
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", _RUNNER, *group], cwd=run_dir, env=env, stdout=stdout, stderr=stderr
                )
            )
    for proc in procs:
        proc.wait(timeout=1800)
    after, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic() - start
    result: dict = {"errors": {}, "cpu": {}}
    for proc, (out, err) in zip(procs, logs):
        stdout, stderr = out.read_text(), err.read_text()
        assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
        for key, values in json.loads(stdout.strip().splitlines()[-1]).items():
            result[key].update(values)
    assert set(result["errors"]) == set(to_run)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"\nstudent kit: {len(to_run)} notebooks in fast mode, CPU {cpu:.0f} s, wall {wall:.0f} s; kernels' CPU:")
    for name, seconds in result["cpu"].items():
        print(f"  {name:50s} {seconds:5.1f} s")
    return {"errors": result["errors"], "dir": run_dir, "site": kit["site"]}


def _check_ran(runs: dict, name: str) -> nbformat.NotebookNode:
    assert runs["errors"][name] is None, f"{name} failed:\n{runs['errors'][name]}"
    nb = nbformat.read(runs["dir"] / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), f"{name}: not every cell ran"
    probe = "".join(o.get("text", "") for o in code[0].outputs)
    package = Path(probe.split("vae_helpers from", 1)[1].strip())
    assert package.resolve().is_relative_to(runs["site"].resolve()), f"{name} imported {package}, not the kit's copy"
    return nb


def test_notebook_00_runs_from_the_kit(runs):
    nb = _check_ran(runs, "00_setup_and_data.ipynb")
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "fashion-mnist" in text and "Test set" in text  # the data was found and the pretrained VAE evaluated


@pytest.mark.parametrize("name", BLANK)
def test_blank_notebook_runs_up_to_its_first_exercise(runs, name):
    _check_ran(runs, f"blank_{name}")


def test_solved_notebook_01_passes_its_checks(runs):
    nb = _check_ran(runs, f"solved_{SOLVED}")
    graded = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    checks = [c for c in graded if "check_" in c.source]  # the visible checks (hidden tests are not released)
    assert len(checks) >= 2, "the solved notebook has no visible check cells"
    for cell in checks:
        output = "".join(o.get("text", "") for o in cell.outputs)
        assert "ExerciseCheckError" not in output and "✓" in output, (cell.metadata["nbgrader"]["grade_id"], output)

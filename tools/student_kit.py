"""Build the student kit: one archive a student unpacks and installs, without the repository.

``make student-kit`` (``python -m tools.student_kit``) writes ``build/student-kit/vae-course-student-kit.tar.gz``,
which unpacks to one folder ``vae-course-student-kit/`` holding:

* ``notebooks/student/``: the released exercise notebooks (``notebooks/student/``, byte for byte: what nbgrader's
  ``generate_assignment`` gives, so submissions from the kit grade like any other) and the notebooks without an
  exercise, which nbgrader does not release (``00``, ``03`` and the appendix ``11``), taken from ``notebooks/`` with
  their outputs cleared like the others: ``00`` checks the student's own setup, and the course machine's outputs
  (its data paths, its "found" lines, its figures) would look like a passing check before anything ran;
* ``assets/figures/diagrams/``: the diagrams the notebooks' Markdown shows (``../../assets/...`` from the notebooks);
* ``vae_helpers-<version>-py3-none-any.whl``: the package built from this repository (``pip wheel --no-deps``), with
  the verified zoo weights and the feature classifier as package data, checked to hold no answer (no ``grading/``,
  no ``hidden_*``/``reference_*`` name);
* ``requirements.txt``: the course's exact pins;
* ``README.md``: the two commands a student types, and where the data comes from.

The folder ``tools/`` is not part of the installed package: students never receive this builder.
Run it after ``python -m vae_helpers.tools.release`` has refreshed ``notebooks/student/``
(``tests/test_nbgrader.py`` checks that the committed student versions are nbgrader's release).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parents[1]
KIT_NAME = "vae-course-student-kit"
DEFAULT_OUT_DIR = REPO_ROOT / "build" / "student-kit"
STUDENT_DIR = REPO_ROOT / "notebooks" / "student"
SETUP_NOTEBOOK = REPO_ROOT / "notebooks" / "00_setup_and_data.ipynb"
#: What the wheel is built from (copied first, so that setuptools' build/ and egg-info never land in the repository).
WHEEL_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "vae_helpers")
#: Folders of the package that only maintainers and teachers run (``vae_helpers/tools``): left out of the wheel.
MAINTAINER_ONLY = ("tools",)
#: Package data every student needs: the zoo's weights and manifest, the feature classifier.
REQUIRED_PACKAGE_DATA = (
    "vae_helpers/assets/zoo/manifest.json",
    "vae_helpers/assets/zoo/*.safetensors",
    "vae_helpers/assets/classifier_fashion-mnist.pt",
)
#: A teacher-only file or name in the wheel: the grading module, a hidden test or a reference solution.
TEACHER_PATH = re.compile(r"(^|/)grading/|(^|/)tests/|hidden_|reference_")
#: A teacher-only function defined or called in a file of the wheel (not a model's ``self.hidden_*`` layer), as in
#: ``tests/test_no_leaks.py``.
TEACHER_NAME = re.compile(r"(?<!self\.)(?<!\w)(hidden|reference)_\w+\s*\(")
#: Markdown links from ``notebooks/student/`` to the repository's assets (the diagrams).
ASSET_LINK = re.compile(r"\.\./\.\./(assets/[\w./-]+)")


class StudentKitError(RuntimeError):
    """The kit cannot be built as it must be: the message names the file and what to do."""


def student_notebooks() -> list[Path]:
    """The released exercise notebooks, in course order."""
    notebooks = sorted(STUDENT_DIR.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise StudentKitError(
            f"No student notebooks in {STUDENT_DIR}: run `python -m vae_helpers.tools.release` to release them."
        )
    return notebooks


def reading_notebooks() -> list[Path]:
    """The numbered notebooks without an exercise (``00``, ``03``, the appendix ``11``): nbgrader releases nothing for
    them, so the kit takes them from ``notebooks/``."""
    from vae_helpers.tools.release import has_nbgrader_cells

    return [
        p
        for p in sorted(SETUP_NOTEBOOK.parent.glob("[0-9][0-9]_*.ipynb"))
        if not has_nbgrader_cells(nbformat.read(p, as_version=4))
    ]


def setup_notebook(path: Path = SETUP_NOTEBOOK) -> nbformat.NotebookNode:
    """A notebook without an exercise as the kit holds it (notebook 00 unless ``path`` is given): no outputs, no run
    metadata, links one folder deeper (``notebooks/student/``)."""
    from vae_helpers.tools.release import source_notebook

    nb = source_notebook(nbformat.read(path, as_version=4))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def build_wheel(out_dir: Path) -> Path:
    """``pip wheel --no-deps`` of the package, built from a copy of its sources; returns the wheel's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vae-kit-wheel-") as tmp:
        source = Path(tmp) / "source"
        source.mkdir()
        for name in WHEEL_SOURCES:
            path = REPO_ROOT / name
            if path.is_dir():  # without the maintainer's tools (course runner, release, site): students run none
                ignore = shutil.ignore_patterns("__pycache__", "*.pyc", *MAINTAINER_ONLY)
                shutil.copytree(path, source / name, ignore=ignore)
            else:
                shutil.copy(path, source / name)
        # Offline, with the course environment's setuptools (pinned by the environment that builds the kit).
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--quiet"]
        proc = subprocess.run([*cmd, "--wheel-dir", str(out_dir), str(source)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise StudentKitError(
                f"`pip wheel --no-deps .` failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
            )
    wheels = sorted(out_dir.glob("vae_helpers-*.whl"))
    if len(wheels) != 1:
        raise StudentKitError(f"Expected one vae_helpers wheel in {out_dir}, found {[w.name for w in wheels]}.")
    return wheels[0]


def check_wheel(wheel: Path) -> list[str]:
    """Raise :class:`StudentKitError` unless ``wheel`` holds the package data and no answer; returns its file names."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        teacher_paths = [n for n in names if TEACHER_PATH.search(n)]
        teacher_names = [
            f"{n}: {m.group(0)}"
            for n in names
            if n.endswith((".py", ".json", ".md", ".txt", ".toml", ".cfg"))
            for m in [TEACHER_NAME.search(archive.read(n).decode("utf-8", errors="replace"))]
            if m
        ]
    teacher_paths += [n for n in names if n.startswith("vae_helpers/tools/")]
    if teacher_paths or teacher_names:
        raise StudentKitError(
            f"{wheel.name} holds teacher-only material, which must never reach students: "
            f"{teacher_paths + teacher_names}. Hidden tests and reference solutions belong in grading/ (not installed)."
        )
    missing = [pattern for pattern in REQUIRED_PACKAGE_DATA if not any(Path(n).match(pattern) for n in names)]
    if missing:
        raise StudentKitError(
            f"{wheel.name} lacks package data {missing}: check [tool.setuptools.package-data] in pyproject.toml "
            "and that vae_helpers/assets/ holds the zoo's weights and the classifier (`make weights`)."
        )
    return names


def diagram_paths(notebooks: list[nbformat.NotebookNode]) -> list[str]:
    """The repository-relative paths (``assets/...``) that the notebooks' Markdown links to."""
    found = set()
    for nb in notebooks:
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                found.update(ASSET_LINK.findall(cell.source))
    missing = sorted(p for p in found if not (REPO_ROOT / p).is_file())
    if missing:
        raise StudentKitError(f"The notebooks link to {missing}, which do not exist in the repository.")
    return sorted(found)


def readme(wheel_name: str) -> str:
    """The kit's README: the two commands, the notebooks, and where the data comes from."""
    return f"""# Variational autoencoders in PyTorch: student kit

`notebooks/student/` holds the course's notebooks: `00_setup_and_data` checks your setup, `03` and the appendix `11`
have no exercise, and the others carry the exercises (fill in each `# YOUR CODE HERE`, then run the check cell below
it). `{wheel_name}` is the
course's Python package `vae_helpers`, with the pretrained models the notebooks load. `requirements.txt` pins the
exact versions the course is tested with (Python 3.10 or newer; tested on 3.11).

## The two commands

In this folder (Linux and macOS; on Windows write `.venv\\Scripts\\` instead of `.venv/bin/`):

```bash
python3 -m venv .venv && .venv/bin/pip install -r requirements.txt {wheel_name}
.venv/bin/jupyter lab --notebook-dir=notebooks/student
```

The first installs everything (about 6 GB on Linux, mostly PyTorch and its CUDA libraries); the second opens
JupyterLab in your browser. Run `00_setup_and_data` first: it finds the datasets and loads a pretrained VAE.

## The data

The notebooks find the datasets themselves. They look, in this order, in:

1. the folder named by the environment variable `VAE_DATA_DIR`, which holds `MNIST/raw/`, `FashionMNIST/raw/`
   and `celeba/` (set it before you start JupyterLab: `export VAE_DATA_DIR=/path/to/data`);
2. for MNIST and Fashion-MNIST, the copy downloaded before, in the `data/` folder beside the installed package
   (inside `.venv`);
3. for Fashion-MNIST, Debian's package `dataset-fashion-mnist` (`sudo apt-get install dataset-fashion-mnist`);
4. for MNIST and Fashion-MNIST, a download by torchvision into that `data/` folder when the computer is online
   (about 60 MB, once); set `VAE_OFFLINE=1` to never download.

If your teacher gives you a data folder, set `VAE_DATA_DIR` to it. CelebA (notebook 10 only) is never downloaded
automatically: it is licensed for non-commercial research only, and notebook 10 prints where to get it and where
to put it when it is missing. `.venv/bin/python -m vae_helpers.data` lists every dataset it finds.
"""


def _reset_owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """No builder's user name or id in the archive."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def build(out_dir: Path = DEFAULT_OUT_DIR) -> Path:
    """Lay out the kit in ``out_dir/vae-course-student-kit/`` and pack it; returns the archive's path."""
    kit = out_dir / KIT_NAME
    if kit.exists():
        shutil.rmtree(kit)
    notebooks_dir = kit / "notebooks" / "student"
    notebooks_dir.mkdir(parents=True)
    for path in student_notebooks():
        shutil.copyfile(path, notebooks_dir / path.name)
    for path in reading_notebooks():
        nbformat.write(setup_notebook(path), notebooks_dir / path.name)
    shipped = [nbformat.read(p, as_version=4) for p in sorted(notebooks_dir.glob("*.ipynb"))]
    for relative in diagram_paths(shipped):
        (kit / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / relative, kit / relative)
    wheel = build_wheel(kit)
    check_wheel(wheel)
    shutil.copyfile(REPO_ROOT / "requirements.txt", kit / "requirements.txt")
    (kit / "README.md").write_text(readme(wheel.name), encoding="utf-8")
    archive = out_dir / f"{KIT_NAME}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(kit, arcname=KIT_NAME, filter=_reset_owner)
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="where the kit is laid out and packed")
    args = parser.parse_args(argv)
    try:
        archive = build(args.out_dir)
    except StudentKitError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    size = archive.stat().st_size / 2**20
    print(f"student kit: {archive} ({size:.1f} MiB); unpack it and follow its README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

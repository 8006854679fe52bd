"""Release the student versions of the exercise notebooks with nbgrader (``generate_assignment``).

The solution notebooks (``notebooks/NN_topic.ipynb``, with full-run outputs and nbgrader's cell metadata)
are the only source. This module does only what nbgrader does not:

1. it lays out an nbgrader course directory (``build/nbgrader/`` by default): the course's
   ``nbgrader_config.py``, the teacher's hidden tests (``grading/``, which the autograder imports) and
   ``source/NN_topic/NN_topic.ipynb`` for every notebook with nbgrader cells.
   The source copies drop what a re-run changes (papermill's and the kernel's execution metadata), so the
   release depends only on the cells' sources, tags and nbgrader metadata;
2. it runs ``nbgrader generate_assignment`` there (nbgrader itself clears solutions, hides hidden tests,
   clears outputs, locks cells, records checksums; ``RemoveTeacherOnlyCells`` from
   :mod:`vae_helpers.tools.nbgrader_ext`, enabled in ``nbgrader_config.py``, drops teacher-only cells);
3. it copies ``release/NN_topic/NN_topic.ipynb`` byte for byte to ``notebooks/student/NN_topic.ipynb``,
   so that the course can be handed out without nbgrader too.

Commands::

    python -m vae_helpers.tools.release            # regenerate notebooks/student/
    python -m vae_helpers.tools.release --check    # exit 1 if a committed student version is out of date (CI)
    python -m vae_helpers.tools.release --course-dir DIR [NN_topic ...]   # lay out an nbgrader course in DIR from
                                                   # the current solution notebooks and release there
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from ..config import REPO_ROOT
from .nbgrader_ext import is_teacher_only

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
STUDENT_DIR = NOTEBOOK_DIR / "student"
CONFIG_FILE = REPO_ROOT / "nbgrader_config.py"
#: The teacher's hidden tests (never released): copied into the course folder, where the autograder's kernels find
#: them (:func:`vae_helpers.exercises.teacher_grading` looks in the folders above the submission).
GRADING_DIR = REPO_ROOT / "grading"
DEFAULT_COURSE_DIR = REPO_ROOT / "build" / "nbgrader"
#: Notebook-level metadata kept in the source copy (papermill's run record and the kernel's version are dropped).
KEPT_METADATA = ("kernelspec", "vae_course")
#: Cell metadata kept in the source copy (the rest is execution bookkeeping).
KEPT_CELL_METADATA = ("tags", "nbgrader")
#: A Markdown link or image whose target leaves ``notebooks/`` (``](../assets/...)``, ``src="../assets/..."``).
_PARENT_LINK = re.compile(r"(\]\(|src=[\"'])\.\./")


def relink_for_student_folder(markdown: str) -> str:
    """``markdown`` with every relative link out of ``notebooks/`` one level deeper, for ``notebooks/student/``.

    ``![graph](../assets/figures/diagrams/x.svg)`` in ``notebooks/NN.ipynb`` becomes
    ``![graph](../../assets/figures/diagrams/x.svg)`` in ``notebooks/student/NN.ipynb``; links inside the
    notebook folder, anchors and URLs are left alone.
    """
    return _PARENT_LINK.sub(r"\1../../", markdown)


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message holds its command line and its log."""


def has_nbgrader_cells(nb: nbformat.NotebookNode) -> bool:
    return any("nbgrader" in c.metadata for c in nb.cells)


def exercise_notebooks() -> list[Path]:
    """The numbered solution notebooks that carry nbgrader cells, in course order."""
    return [
        p for p in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")) if has_nbgrader_cells(nbformat.read(p, as_version=4))
    ]


def source_notebook(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The copy of a solution notebook that goes into nbgrader's ``source/``: same cells, sources and outputs,
    without the metadata that a re-run changes, and with Markdown links out of ``notebooks/`` (the diagrams)
    pointing one folder further up, where the released copy will sit (``notebooks/student/``)."""
    nb = copy.deepcopy(solution)
    nb.metadata = nbformat.NotebookNode({k: nb.metadata[k] for k in KEPT_METADATA if k in nb.metadata})
    nb.metadata["language_info"] = nbformat.NotebookNode({"name": "python"})
    for cell in nb.cells:
        cell.metadata = nbformat.NotebookNode({k: cell.metadata[k] for k in KEPT_CELL_METADATA if cell.metadata.get(k)})
        if cell.cell_type == "markdown":
            cell.source = relink_for_student_folder(cell.source)
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def nbgrader(course_dir: Path, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m nbgrader ARGS`` in ``course_dir`` (where its ``nbgrader_config.py`` is); raise on failure."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    # nbgrader runs the `alembic` command of its environment to create the gradebook: put that bin/ first.
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    proc = subprocess.run(cmd, cwd=course_dir, capture_output=True, text=True, timeout=timeout, env=env)
    # nbgrader only logs a broken nbgrader_config.py and goes on without it: that must fail too.
    if proc.returncode != 0 or "Exception while loading config file" in proc.stdout + proc.stderr:
        raise NbgraderError(
            f"`{' '.join(cmd[1:])}` failed in {course_dir} (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    return proc


def prepare_course(course_dir: Path, notebooks: list[Path] | None = None) -> list[str]:
    """Lay out an nbgrader course in ``course_dir``: the config and one source folder per notebook.
    Returns the assignment ids (the notebooks' stems)."""
    course_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CONFIG_FILE, course_dir / "nbgrader_config.py")
    if GRADING_DIR.is_dir():  # absent from an installed package: only the teacher's repository has it
        shutil.copytree(
            GRADING_DIR, course_dir / "grading", dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
        )
    ids = []
    for path in notebooks if notebooks is not None else exercise_notebooks():
        target = course_dir / "source" / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(source_notebook(nbformat.read(path, as_version=4)), target)
        ids.append(path.stem)
    return ids


def generate(course_dir: Path, ids: list[str]) -> dict[str, Path]:
    """``nbgrader generate_assignment`` for each id; returns ``{id: released notebook}``.

    Raises :class:`NbgraderError` if a released notebook still holds a teacher-only cell of its source (the
    course's ``RemoveTeacherOnlyCells`` was not active: an ``nbgrader_config.py`` without it, or one that
    nbgrader could not load)."""
    sources = {p.name for p in (course_dir / "source").iterdir() if p.is_dir()}
    # One nbgrader process for the whole course when it holds exactly these assignments: most of a run is nbgrader
    # starting, and the releases are the same byte for byte as one run per assignment.
    for pattern in ["*"] if sources == set(ids) else ids:
        nbgrader(course_dir, "generate_assignment", pattern, "--force")
    released = {}
    for assignment in ids:
        released[assignment] = course_dir / "release" / assignment / f"{assignment}.ipynb"
        check_no_teacher_only_cells(course_dir / "source" / assignment / f"{assignment}.ipynb", released[assignment])
    return released


def check_no_teacher_only_cells(source: Path, released: Path) -> None:
    """Raise :class:`NbgraderError` if ``released`` holds a cell that is tagged teacher-only in ``source``."""
    teacher = [c.source.strip() for c in nbformat.read(source, as_version=4).cells if is_teacher_only(c)]
    cells = nbformat.read(released, as_version=4).cells
    leaked = [c.source.strip().split("\n")[0] for c in cells if is_teacher_only(c) or c.source.strip() in teacher]
    if leaked:
        raise NbgraderError(
            f"{released} holds {len(leaked)} teacher-only cell(s) of {source.name} (first line: {leaked[0]!r}): "
            "nbgrader ran without the course's RemoveTeacherOnlyCells preprocessor. Use the course's "
            "nbgrader_config.py (copied by `python -m vae_helpers.tools.release --course-dir DIR`) and run "
            "`.venv/bin/nbgrader` from the course's environment. Do not hand out this release."
        )


def expected_outputs(course_dir: Path | None = None) -> dict[Path, str]:
    """``{notebooks/student/NN.ipynb: text nbgrader releases}`` for every exercise notebook."""
    with tempfile.TemporaryDirectory() as tmp:
        where = course_dir or Path(tmp)
        released = generate(where, prepare_course(where))
        return {STUDENT_DIR / p.name: p.read_text(encoding="utf-8") for p in released.values()}


def _show(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--check", action="store_true", help="do not write; exit 1 if notebooks/student/ is out of date"
    )
    parser.add_argument("--course-dir", type=Path, help="lay out the nbgrader course here and keep it")
    parser.add_argument(
        "notebooks", nargs="*", metavar="NN_topic", help="with --course-dir: only these notebooks (default: all)"
    )
    args = parser.parse_args(argv)
    if args.notebooks and not args.course_dir:
        parser.error("naming notebooks needs --course-dir (notebooks/student/ is always regenerated whole)")
    if args.course_dir:
        known = {p.stem: p for p in exercise_notebooks()}
        unknown = [n for n in args.notebooks if n not in known]
        if unknown:
            parser.error(f"no exercise notebook {', '.join(unknown)}; the exercise notebooks are {', '.join(known)}")
        ids = prepare_course(args.course_dir.resolve(), [known[n] for n in args.notebooks] or None)
        generate(args.course_dir.resolve(), ids)
        print(f"nbgrader course in {args.course_dir}: source/ and release/ for {', '.join(ids)}")
        return 0
    expected = expected_outputs()
    stale = sorted(p for p in STUDENT_DIR.glob("*.ipynb") if p not in expected) if STUDENT_DIR.is_dir() else []
    if args.check:
        bad = [p for p, text in expected.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
        for p in bad:
            print(
                f"OUT OF DATE: {_show(p)} differs from what nbgrader releases from notebooks/{p.name}.", file=sys.stderr
            )
        for p in stale:
            print(f"STALE: {_show(p)} has no solution notebook with nbgrader cells.", file=sys.stderr)
        if bad or stale:
            print("Run `python -m vae_helpers.tools.release` and commit notebooks/student/.", file=sys.stderr)
            return 1
        print(f"{len(expected)} student notebook(s) up to date: " + ", ".join(p.name for p in expected))
        return 0
    STUDENT_DIR.mkdir(parents=True, exist_ok=True)
    for path, text in expected.items():
        changed = not path.is_file() or path.read_text(encoding="utf-8") != text
        path.write_text(text, encoding="utf-8")
        print(f"{'wrote' if changed else 'unchanged'} {_show(path)}")
    for p in stale:
        print(f"warning: {_show(p)} has no solution notebook with nbgrader cells; delete it if it is obsolete.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

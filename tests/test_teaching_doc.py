"""docs/teaching.md's workflow runs as written: its ``bash`` blocks, in order, in one shell, on a temporary course
folder with two made-up students: ada hands in the solution, bob the typical wrong submission of
tests/nbgrader_submissions.py (through an LMS zip in Moodle's layout). Their grades and feedback are checked.

Fast mode (``VAE_FAST=1``, which the document mentions for a trial run): the submissions run on small data.
"""

from __future__ import annotations

import csv
import html
import os
import re
import subprocess
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader_submissions import SUBMISSIONS

from vae_helpers.tools import release

REPO_ROOT = Path(__file__).resolve().parents[1]
DOC = REPO_ROOT / "docs" / "teaching.md"
STUDENTS = {"1001": ("Ada", "Lovelace", "solution"), "1002": ("Bob", "Marley", "wrong")}


def bash_blocks(markdown: str) -> list[str]:
    """The fenced ```bash blocks of a Markdown text, in order (```text blocks are shown, not run)."""
    return re.findall(r"^```bash\n(.*?)^```", markdown, flags=re.DOTALL | re.MULTILINE)


def _assignment(script: str) -> str:
    match = re.search(r"^A=(\S+)", script, flags=re.MULTILINE)
    assert match, "the document must name its assignment as A=NN_topic"
    return match.group(1)


def test_the_document_has_the_whole_workflow():
    text = DOC.read_text(encoding="utf-8")
    script = "\n".join(bash_blocks(text))
    for step in (
        "release --course-dir",
        "db student import",
        "zip_collect",
        "autograde",
        "generate_feedback",
        "export",
    ):
        assert step in script, f"docs/teaching.md runs no `{step}`"
    assert "Formgrader" in text and "release_assignment" in text
    assert re.search(r"(?m)^\s*nbgrader ", script) is None, "use the course's nbgrader, $NBGRADER"
    assert not re.search(r"generate_assignment\s", script), "the release command generates from the current source"


def test_no_file_mentions_a_formgrader_command():
    """That command does not exist in nbgrader 0.9.6 (the formgrader is JupyterLab's Nbgrader menu)."""
    wrong = "nbgrader " + "formgrader"
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    for name in tracked.stdout.split("\n"):
        path = REPO_ROOT / name
        if name and path.is_file() and path.suffix in {".md", ".py", ".ipynb", ".txt", ".toml", ""}:
            assert wrong not in path.read_text(encoding="utf-8", errors="replace"), name


def _lms_zip(path: Path, assignment: str) -> None:
    """Moodle's "download all submissions": one folder per submission, holding the student's notebook."""
    source = release.source_notebook(nbformat.read(release.NOTEBOOK_DIR / f"{assignment}.ipynb", as_version=4))
    (wrong_spec,) = SUBMISSIONS[assignment].values()
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in source.cells if "nbgrader" in c.metadata}
    wrong = nbformat.from_dict(source)
    wrong_cells = {c.metadata["nbgrader"]["grade_id"]: c for c in wrong.cells if "nbgrader" in c.metadata}
    for gid, edits in wrong_spec["edits"].items():
        for old, new in edits:
            assert old in cells[gid].source
            wrong_cells[gid].source = wrong_cells[gid].source.replace(old, new)
    with zipfile.ZipFile(path, "w") as archive:
        for student_id, (first, last, kind) in STUDENTS.items():
            nb = source if kind == "solution" else wrong
            folder = f"{first} {last}_{student_id}_assignsubmission_file_"
            archive.writestr(f"{folder}/{assignment}.ipynb", nbformat.writes(nb))


def _text(page: Path) -> str:
    body = re.sub(r"<(style|script)[^>]*>.*?</\1>", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", "", body))


@pytest.mark.slow
def test_the_workflow_runs_as_written_on_two_students(tmp_path, fashion):
    script = "\n".join(bash_blocks(DOC.read_text(encoding="utf-8")))
    assignment = _assignment(script)
    course = tmp_path / "vae-course"
    course.mkdir()
    with open(course / "students.csv", "w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["id", "first_name", "last_name", "email"])
        for student_id, (first, last, _) in STUDENTS.items():
            rows.writerow([student_id, first, last, f"{first.lower()}@example.org"])
    lms_zip = tmp_path / "submissions.zip"
    _lms_zip(lms_zip, assignment)
    env = dict(os.environ, COURSE=str(course), LMS_ZIP=str(lms_zip), VAE_FAST="1")
    started = time.perf_counter()
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, f"the workflow failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    print(f"\nthe workflow of docs/teaching.md ({assignment}, 2 students, fast mode) ran in {seconds:.0f} s")

    # grades.csv: ada has every autograded point, bob loses exactly the cells of his mistakes
    source = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    points = {
        c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"
    }
    lost = sum(points[g] for g in next(iter(SUBMISSIONS[assignment].values()))["loses"])
    with open(course / "grades.csv", newline="") as f:
        grades = {row["student_id"]: row for row in csv.DictReader(f) if row["assignment"] == assignment}
    assert set(grades) == set(STUDENTS)
    assert float(grades["1001"]["score"]) == sum(points.values())
    assert lost > 0 and float(grades["1002"]["score"]) == sum(points.values()) - lost
    assert grades["1001"]["first_name"] == "Ada"

    # feedback: bob's page names his mistakes; ada's has no error
    (spec,) = SUBMISSIONS[assignment].values()
    bob = _text(course / "feedback" / "1002" / assignment / f"{assignment}.html")
    for message in spec["messages"]:
        assert message in bob
    ada = _text(course / "feedback" / "1001" / assignment / f"{assignment}.html")
    assert "Traceback (most recent call last)" not in ada and "✓" in ada
    # what goes back to the LMS and what students get
    with zipfile.ZipFile(course / f"{assignment}-feedback.zip") as archive:
        assert f"feedback/1002/{assignment}/{assignment}.html" in archive.namelist()
    with zipfile.ZipFile(course / f"{assignment}-student.zip") as archive:
        student = nbformat.reads(archive.read(f"{assignment}/{assignment}.ipynb").decode(), as_version=4)
    assert "### BEGIN SOLUTION" not in "\n".join(c.source for c in student.cells)

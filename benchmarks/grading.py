"""grading: the time to autograde one submission of each exercise notebook with nbgrader, as a teacher grades it:
the solution notebook handed in by one made-up student, released and autograded at full size (``TRAIN = False``:
the verified pretrained weights; notebook 10 resumes its finished checkpoint when there is one) or, with
``--fast``, in fast mode. One ``nbgrader autograde`` run per notebook, timed from start to end; the score shows the
submission ran through."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import nbformat
import torch

from vae_helpers.tools import release

from .machine import machine_line

STUDENT = "timing"


def grading_times(names: list[str] | None = None, fast: bool = False) -> list[tuple[str, float, float, float]]:
    """``[(notebook, seconds, points, max points)]`` of one autograded solution per exercise notebook (those whose
    name contains one of ``names``; all by default), printed as a markdown table."""
    from nbgrader.api import Gradebook

    books = [p for p in release.exercise_notebooks() if not names or any(n in p.name for n in names)]
    rows = []
    old = os.environ.get("VAE_FAST")
    os.environ["VAE_FAST"] = "1" if fast else "0"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            course = Path(tmp)
            ids = release.prepare_course(course, books)
            release.generate(course, ids)
            for assignment in ids:
                submitted = course / "submitted" / STUDENT / assignment / f"{assignment}.ipynb"
                submitted.parent.mkdir(parents=True)
                source = course / "source" / assignment / f"{assignment}.ipynb"
                nbformat.write(nbformat.read(source, as_version=4), submitted)
                started = time.perf_counter()
                release.nbgrader(course, "autograde", assignment, "--force")
                seconds = time.perf_counter() - started
                with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
                    nb = gb.find_submission_notebook(assignment, assignment, STUDENT)
                    got = sum(g.score or 0.0 for g in nb.grades if g.cell_type == "code")
                    full = sum(g.max_score for g in nb.grades if g.cell_type == "code")
                rows.append((assignment, seconds, got, full))
                print(f"  {assignment}: {seconds:.0f} s, {got:g} / {full:g} autograded points", flush=True)
    finally:
        if old is None:
            os.environ.pop("VAE_FAST", None)
        else:
            os.environ["VAE_FAST"] = old
    mode = "fast mode (VAE_FAST=1)" if fast else "full size, TRAIN = False"
    print(f"\nAutograding one submission (the solution), {mode}; {machine_line(torch.device('cpu'))}\n")
    print("| notebook | seconds to autograde | autograded points |")
    print("| --- | ---: | ---: |")
    for assignment, seconds, got, full in rows:
        print(f"| {assignment} | {seconds:.0f} | {got:g} / {full:g} |")
    print(f"| all | {sum(r[1] for r in rows):.0f} | |")
    return rows

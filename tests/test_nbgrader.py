"""nbgrader itself, as the teacher uses it (nbgrader 0.9.6, pinned): release, autograde, feedback.

One course directory is laid out for the whole session (`vae_helpers.tools.release.prepare_course`):

1. `nbgrader generate_assignment` on every exercise notebook; the committed `notebooks/student/` must be
   exactly its release, and the release must leak nothing (solutions, hidden tests, teacher-only cells, outputs);
2. ONE `nbgrader autograde` run (fast mode, real data) that executes each notebook once: its submission of
   `tests/nbgrader_submissions.py`, right in some exercises and wrong in others, loses exactly the cells of the
   wrong ones and keeps every point of the right ones; one blank student version (the quickest notebook) scores
   nothing without crashing nbgrader, and its first error is the NotImplementedError of exercise 1;
3. ONE `nbgrader generate_feedback` run: each submission's feedback shows its teaching messages and the success
   lines of the exercises it got right.

What the one run does not repeat is proven more cheaply elsewhere: every hidden test passes on the solution because
`make notebooks` runs each solution notebook, hidden tests included, under nbval (an error fails CI; the test below
checks no graded cell is skipped); the full marks of a solution through nbgrader are `tests/test_teaching_doc.py`'s
(notebook 02, as a teacher grades it); each blank exercise notebook runs up to its first exercise in
`tests/test_student_kit.py`; the checks fail on a stub with NotImplementedError in tests/test_exercises*.py.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbgrader_submissions import SUBMISSIONS

from vae_helpers.tools import release
from vae_helpers.tools.nbgrader_ext import is_teacher_only

NOTEBOOKS = release.exercise_notebooks()
IDS = [p.stem for p in NOTEBOOKS]
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def test_exercise_notebooks_cover_the_course():
    for done in (
        "01_autoencoder_limitations",
        "02_elbo_and_kl",
        "04_reparameterization",
        "05_mlp_vae",
        "06_conv_vae",
        "07_latent_dimension_study",
        "08_beta_vae_and_likelihoods",
        "09_collapse_and_conditional_vae",
        "10_celeba_faces",
    ):
        assert done in IDS
    for without_exercises in ("00_setup_and_data", "03_elbo_on_real_images", "11_appendix_reproductions"):
        assert without_exercises not in IDS
    assert set(SUBMISSIONS) == set(IDS), "one submission per exercise notebook (tests/nbgrader_submissions.py)"
    assert all(len(subs) == 1 for subs in SUBMISSIONS.values()), "each notebook is autograded once"


@pytest.fixture(scope="session")
def course(tmp_path_factory) -> Path:
    """An nbgrader course directory with every exercise notebook generated (released)."""
    course_dir = tmp_path_factory.mktemp("nbgrader-course")
    ids = release.prepare_course(course_dir)
    assert ids == IDS
    release.generate(course_dir, ids)
    return course_dir


def _released(course: Path, assignment: str) -> Path:
    return course / "release" / assignment / f"{assignment}.ipynb"


def _nbgrader_cells(nb) -> dict:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


# ------------------------------------------------------------------------------------------------
# 1: the release
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("assignment", IDS)
def test_committed_student_version_is_nbgraders_release(course, assignment):
    committed = release.STUDENT_DIR / f"{assignment}.ipynb"
    assert committed.is_file(), "run `python -m vae_helpers.tools.release` and commit notebooks/student/"
    assert committed.read_text(encoding="utf-8") == _released(course, assignment).read_text(encoding="utf-8"), (
        f"notebooks/student/{assignment}.ipynb is not what nbgrader releases: run `python -m vae_helpers.tools.release`"
    )


def test_no_stale_student_versions():
    assert sorted(p.stem for p in release.STUDENT_DIR.glob("*.ipynb")) == IDS


def _solution_lines(nb) -> tuple[set[str], set[str]]:
    """(lines inside solution/hidden-test regions, lines outside any region) over all cells."""
    inside, outside = set(), set()
    for cell in nb.cells:
        region = False
        for line in cell.source.split("\n"):
            if any(m in line for m in MARKERS[0::2]):
                region = True
            elif any(m in line for m in MARKERS[1::2]):
                region = False
            elif line.strip():
                (inside if region else outside).add(line.strip())
    return inside, outside


@pytest.mark.parametrize("assignment", IDS)
def test_release_leaks_nothing(course, assignment):
    solution = nbformat.read(release.NOTEBOOK_DIR / f"{assignment}.ipynb", as_version=4)
    student = nbformat.read(_released(course, assignment), as_version=4)
    text = "\n".join(c.source for c in student.cells)
    for marker in MARKERS:
        assert marker not in text
    inside, outside = _solution_lines(solution)
    leaked = [line for line in inside - outside if len(line) > 3 and line in {s.strip() for s in text.split("\n")}]
    assert not leaked, f"solution lines in the student version: {leaked}"
    teacher = [c for c in solution.cells if is_teacher_only(c)]
    assert teacher, "the closing note / teachers' note must be tagged teacher-only"
    for cell in teacher:
        assert cell.source.strip().split("\n")[0] not in text
    assert not any(is_teacher_only(c) for c in student.cells)
    assert "Teachers" not in text and "Closing note" not in text and "solution notebook" not in text.lower()
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    # every graded cell of the solution is in the release; solution cells carry the stub
    sol_cells, stu_cells = _nbgrader_cells(solution), _nbgrader_cells(student)
    assert set(sol_cells) == set(stu_cells)
    for gid, cell in stu_cells.items():
        meta = cell.metadata["nbgrader"]
        if meta["solution"] and cell.cell_type == "code":
            assert "raise NotImplementedError()" in cell.source, gid
        if meta["solution"] and cell.cell_type == "markdown":
            assert "YOUR ANSWER HERE" in cell.source, gid


@pytest.mark.parametrize("assignment", IDS)
def test_every_exercise_has_a_visible_check_hidden_tests_and_a_written_answer(assignment):
    cells = _nbgrader_cells(nbformat.read(release.NOTEBOOK_DIR / f"{assignment}.ipynb", as_version=4))
    tests = {g: c for g, c in cells.items() if c.metadata["nbgrader"]["grade"] and c.cell_type == "code"}
    hidden = [g for g, c in tests.items() if "BEGIN HIDDEN TESTS" in c.source]
    visible = [g for g, c in tests.items() if "BEGIN HIDDEN TESTS" not in c.source]
    answers = [g for g, c in cells.items() if c.cell_type == "markdown" and c.metadata["nbgrader"]["grade"]]
    assert 2 <= len(visible) <= 5 and len(hidden) == len(visible), (visible, hidden)
    assert answers, "at least one manually graded written answer (predict before you run)"
    for gid, cell in tests.items():
        assert cell.metadata["nbgrader"]["locked"] and cell.metadata["nbgrader"]["points"] > 0, gid


# ------------------------------------------------------------------------------------------------
# 2-3: autograde and feedback
# ------------------------------------------------------------------------------------------------
def _submission(solution, edits: dict) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(solution)
    cells = _nbgrader_cells(nb)
    for gid, replacements in edits.items():
        for old, new in replacements:
            assert old in cells[gid].source, f"{gid}: {old!r} is not in the solution any more; update the submission"
            cells[gid].source = cells[gid].source.replace(old, new)
    return nb


BLANK = "04_reparameterization"  # the quickest exercise notebook: its blank student version is autograded too


def test_no_graded_cell_is_skipped_by_nbval():
    """nbval runs every solution notebook whole, so every visible and hidden test passes on the solution."""
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and "nbgrader" in cell.metadata:
                tags = set(cell.metadata.get("tags", []))
                assert not tags & {"nbval-skip", "raises-exception", "nbval-raises-exception"}, (path.name, tags)
                assert "NBVAL_SKIP" not in cell.source and "NBVAL_RAISES_EXCEPTION" not in cell.source, path.name


def _kept(assignment: str, student: str, scores: dict) -> set[str]:
    return {g for g, (_, _, kind) in scores.items() if kind == "code"} - set(SUBMISSIONS[assignment][student]["loses"])


@pytest.fixture(scope="session")
def graded(course, fashion):
    """Autograde and generate feedback, each in ONE nbgrader run that executes every notebook once (its submission
    of tests/nbgrader_submissions.py) and the blank student version of BLANK.
    Returns {(assignment, student): {grade_id: (score, max, cell type)}}."""
    from nbgrader.api import Gradebook

    for assignment in IDS:
        source = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", as_version=4)
        submissions = {}
        if assignment == BLANK:
            submissions["blank"] = nbformat.read(_released(course, assignment), as_version=4)
        for student, spec in SUBMISSIONS[assignment].items():
            submissions[student] = _submission(source, spec["edits"])
        for student, nb in submissions.items():
            target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target)
    old_env = dict(os.environ)
    os.environ["VAE_FAST"] = "1"  # the kernels nbgrader starts inherit fast mode
    try:
        release.nbgrader(course, "autograde", "*", "--force")
        release.nbgrader(course, "generate_feedback", "*", "--force")
    finally:
        os.environ.clear()
        os.environ.update(old_env)
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for assignment in IDS:
            for sub in gb.assignment_submissions(assignment):
                nb = gb.find_submission_notebook(assignment, assignment, sub.student.id)
                scores[assignment, sub.student.id] = {
                    g.name: (g.auto_score, g.max_score, g.cell_type) for g in nb.grades
                }
    return scores


def test_every_submission_was_graded_in_the_one_run(graded):
    expected = {(a, s) for a in IDS for s in SUBMISSIONS[a]} | {(BLANK, "blank")}
    assert set(graded) == expected


def test_scores_per_notebook_are_reported(graded, capsys):
    """Print the autograded score of every submission (the report's table; `pytest -s` shows it)."""
    lines = ["autograded points (code cells) per notebook and submission, fast mode:"]
    for (assignment, student), scores in sorted(graded.items()):
        got, full = _auto(scores)
        lines.append(f"  {assignment:34s} {student:56s} {got:g} / {full:g}")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    report = release.REPO_ROOT / "build" / "nbgrader_scores.txt"  # the same table, kept for the report
    report.parent.mkdir(exist_ok=True)
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _auto(scores: dict) -> tuple[float, float]:
    code = [(s or 0.0, m) for s, m, kind in scores.values() if kind == "code"]
    return sum(s for s, _ in code), sum(m for _, m in code)


def test_autograde_of_the_blank_student_version_is_low(graded, course):
    assignment = BLANK
    got, full = _auto(graded[assignment, "blank"])
    assert got <= 0.1 * full, f"a blank notebook scores {got} of {full}"
    # it ran to the end without crashing nbgrader, and its first error is exercise 1's NotImplementedError
    nb = nbformat.read(course / "autograded" / "blank" / assignment / f"{assignment}.ipynb", as_version=4)
    first_error = next(
        (i, o) for i, c in enumerate(nb.cells) if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    )
    index, error = first_error
    assert error.ename == "NotImplementedError", (index, error.ename, error.evalue)
    graded_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "nbgrader" in c.metadata]
    first_exercise = graded_cells[0]
    first_test = next(i for i in graded_cells if nb.cells[i].metadata["nbgrader"]["grade"])
    assert first_exercise <= index <= first_test, "the blank notebook must stop at exercise 1, not earlier"
    for cell in nb.cells[:index]:
        if cell.cell_type == "code":
            assert cell.execution_count is not None


WRONG = [(a, s) for a, subs in SUBMISSIONS.items() for s in subs]


@pytest.mark.parametrize("assignment, student", WRONG, ids=[s for _, s in WRONG])
def test_wrong_submission_loses_the_expected_points(graded, assignment, student):
    scores = graded[assignment, student]
    loses = set(SUBMISSIONS[assignment][student]["loses"])
    for gid, (score, max_score, kind) in scores.items():
        if kind != "code":
            continue
        if gid in loses:
            assert score == 0, f"{gid} should score 0 for {student}"
        else:
            assert score == max_score, f"{gid} should keep its {max_score} points for {student}, got {score}"
    got, full = _auto(scores)
    assert got == full - sum(scores[g][1] for g in loses)
    assert _kept(assignment, student, scores), (
        "a submission must get some exercise right: its points show the solution's"
    )


def _feedback_text(course: Path, assignment: str, student: str) -> str:
    page = (course / "feedback" / student / assignment / f"{assignment}.html").read_text(encoding="utf-8")
    page = re.sub(r"<(style|script)[^>]*>.*?</\1>", "", page, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.mark.parametrize("assignment, student", WRONG, ids=[s for _, s in WRONG])
def test_feedback_shows_the_teaching_messages(graded, course, assignment, student):
    text = _feedback_text(course, assignment, student)
    for message in SUBMISSIONS[assignment][student]["messages"]:
        assert message in text, f"feedback for {student} lacks {message!r}"


@pytest.mark.parametrize("assignment, student", WRONG, ids=[s for _, s in WRONG])
def test_feedback_shows_the_success_lines_of_the_right_exercises(graded, course, assignment, student):
    assert "✓" in _feedback_text(course, assignment, student)  # the checks of the kept exercises print them


# ------------------------------------------------------------------------------------------------
# The release fails loudly when the course's teacher-only preprocessor is not active
# ------------------------------------------------------------------------------------------------
SMALL = "04_reparameterization"  # the quickest notebook to release


def _course_with_config(tmp_path: Path, edit: tuple[str, str]) -> Path:
    course_dir = tmp_path / "course"
    release.prepare_course(course_dir, [release.NOTEBOOK_DIR / f"{SMALL}.ipynb"])
    config = course_dir / "nbgrader_config.py"
    text = config.read_text(encoding="utf-8")
    assert edit[0] in text
    config.write_text(text.replace(edit[0], edit[1]), encoding="utf-8")
    return course_dir


def test_nbgrader_stops_when_its_config_cannot_import_the_preprocessor(tmp_path):
    """An nbgrader without the course's package (a bare `nbgrader` from another environment): traitlets would only
    log the ImportError and release without RemoveTeacherOnlyCells; the config stops nbgrader instead."""
    course_dir = _course_with_config(
        tmp_path,
        ("from vae_helpers.tools.nbgrader_ext import", "from vae_helpers_not_installed.tools.nbgrader_ext import"),
    )
    with pytest.raises(release.NbgraderError, match="cannot import the course's preprocessor RemoveTeacherOnlyCells"):
        release.nbgrader(course_dir, "generate_assignment", SMALL, "--force")
    assert not (course_dir / "release" / SMALL).exists()


def test_release_without_the_teacher_only_preprocessor_fails(tmp_path):
    course_dir = _course_with_config(tmp_path, ("    RemoveTeacherOnlyCells,\n", ""))
    with pytest.raises(release.NbgraderError, match="teacher-only cell"):
        release.generate(course_dir, [SMALL])

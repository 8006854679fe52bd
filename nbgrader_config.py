"""nbgrader's configuration for this course (nbgrader 0.9.6, pinned in requirements.txt).

`python -m vae_helpers.tools.release` copies this file into the course directory it prepares
(`build/nbgrader/` by default), where every `nbgrader ...` command is run. Teachers running their own
course directory copy it there too (see docs/teaching.md).
"""

c = get_config()  # noqa: F821 (provided by nbgrader/traitlets when the file is loaded)

c.CourseDirectory.course_id = "vae-course"

# Cells tagged `teacher-only` (teachers' notes, closing notes with the results of a full run) never reach a
# student: nbgrader has no such cell type, so a small preprocessor of ours removes them, first, during
# generate_assignment. Everything else is nbgrader's own pipeline, unchanged.
# The rest of the list is nbgrader 0.9.6's default GenerateAssignment.preprocessors, in its order.
from nbgrader import preprocessors as pp  # noqa: E402

# nbgrader (traitlets) only logs an exception raised here and goes on WITHOUT this file: teacher-only cells would
# then reach students. SystemExit is not caught, so a missing package stops every nbgrader command instead.
try:
    from vae_helpers.tools.nbgrader_ext import RemoveTeacherOnlyCells
except ImportError as err:
    raise SystemExit(
        f"nbgrader_config.py cannot import the course's preprocessor RemoveTeacherOnlyCells ({err}): this nbgrader "
        "runs in an environment without the course's package `vae_helpers`. Run the course's own nbgrader, "
        "`.venv/bin/nbgrader ...` from the repository (after `make setup`), or install the package into this "
        "environment (`pip install -e PATH/TO/REPO`). Nothing was generated or graded."
    ) from err

c.GenerateAssignment.preprocessors = [
    RemoveTeacherOnlyCells,
    pp.IncludeHeaderFooter,
    pp.InstantiateTests,
    pp.LockCells,
    pp.ClearSolutions,
    pp.ClearOutput,
    pp.CheckCellMetadata,
    pp.ComputeChecksums,
    pp.SaveCells,
    pp.ClearHiddenTests,
    pp.ClearMarkScheme,
    pp.ComputeChecksums,
    pp.CheckCellMetadata,
]

# Exercise cells keep nbgrader's default stub (`# YOUR CODE HERE` + `raise NotImplementedError()`); the
# hints are comments outside the solution region. Written answers become "YOUR ANSWER HERE".

# Autograding executes the whole notebook: training cells can take minutes at full size (seconds with
# VAE_FAST=1, which CI sets), so allow 10 minutes per cell instead of nbgrader's 30 s.
c.Execute.timeout = 600

# `nbgrader zip_collect` reads an LMS's "download all submissions" zip (put into downloaded/<assignment>/archive/).
# This pattern fits Moodle's layout, one folder per submission named "<full name>_<participant id>_assignsubmission_
# file_" holding the student's notebook; the participant id is the student id of the roster (students.csv). For
# another LMS, change the pattern: it must name the groups student_id and file_id (the notebook's file name).
c.FileNameCollectorPlugin.named_regexp = (
    r".*/[^/]*_(?P<student_id>[^/_]+)_assignsubmission_file_/(?P<file_id>[^/]+\.ipynb)$"
)

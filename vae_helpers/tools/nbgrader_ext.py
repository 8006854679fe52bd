"""The one thing about the course's notebooks that nbgrader cannot do by itself: drop teacher-only cells.

nbgrader replaces solution regions and hides hidden tests, but it keeps every other cell. The course's
solution notebooks also hold cells meant for teachers only (the teachers' note, the closing note with the
numbers and conclusions of a full run, which would answer the "predict before you run" questions). They
are tagged ``teacher-only`` and :class:`RemoveTeacherOnlyCells`, added in front of nbgrader's own
preprocessors by the course's ``nbgrader_config.py``, removes them during ``generate_assignment``.
"""

from __future__ import annotations

from typing import Any

from nbgrader.preprocessors import NbGraderPreprocessor

TEACHER_ONLY_TAG = "teacher-only"


def is_teacher_only(cell: Any) -> bool:
    return TEACHER_ONLY_TAG in cell.get("metadata", {}).get("tags", [])


class RemoveTeacherOnlyCells(NbGraderPreprocessor):
    """Remove every cell tagged ``teacher-only`` (it must not carry nbgrader metadata: it is not gradable)."""

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        for cell in nb.cells:
            if is_teacher_only(cell) and cell.get("metadata", {}).get("nbgrader"):
                raise ValueError(
                    f"A cell tagged {TEACHER_ONLY_TAG!r} also has nbgrader metadata "
                    f"({cell.metadata['nbgrader'].get('grade_id')}): a graded cell cannot be removed from the "
                    "student version. Remove the tag or the nbgrader metadata."
                )
        nb.cells = [cell for cell in nb.cells if not is_teacher_only(cell)]
        return nb, resources

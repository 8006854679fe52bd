"""The solution cells of a course notebook, executed into one namespace (for the exercise-check tests)."""

from __future__ import annotations

import nbformat

from vae_helpers.config import REPO_ROOT

#: What the notebooks' import cells give the solution cells.
PRELUDE = """
import math
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
"""


def solutions(name: str) -> dict:
    """Run every nbgrader solution cell of ``notebooks/<name>`` (in order) and return the names they define."""
    namespace: dict = {}
    exec(PRELUDE, namespace)
    for cell in nbformat.read(REPO_ROOT / "notebooks" / name, as_version=4).cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            exec(cell.source, namespace)
    return namespace


def paste_solutions(student: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """A copy of the released ``student`` notebook with each code solution cell replaced by the cell of the same
    ``grade_id`` in ``notebooks/<name>`` (the reference solution): a student who answered every exercise as the
    solution notebook does. Written answers (Markdown) stay blank."""
    reference = {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in nbformat.read(REPO_ROOT / "notebooks" / name, as_version=4).cells
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")
    }
    solved = nbformat.from_dict(student)
    pasted = set()
    for cell in solved.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if cell.cell_type == "code" and meta.get("solution"):
            if grade_id not in reference:
                raise KeyError(
                    f"{name}: the student notebook's solution cell {grade_id!r} is not in the solution notebook"
                )
            cell.source = reference[grade_id]
            pasted.add(grade_id)
    if pasted != set(reference):
        raise KeyError(
            f"{name}: solution cells {sorted(set(reference) - pasted)} are missing from the student notebook"
        )
    return solved

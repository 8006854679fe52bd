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

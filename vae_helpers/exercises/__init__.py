"""The exercises of the course: one module of check functions per notebook, and their shared machinery.

* ``check_*`` (visible in the notebooks, after each exercise): fixed inputs with known results; on a wrong
  result they raise :class:`ExerciseCheckError` whose message names the likely mistake;
* the hidden tests are not here: they live in the teacher's grading module (``grading/`` at the root of the
  course's repository, never installed), loaded by :func:`teacher_grading` from nbgrader's hidden-test regions,
  which nbgrader removes from the student versions and restores when it autogrades.

Modules: :mod:`.nb01` (AE limitations), :mod:`.nb02` (ELBO and KL), :mod:`.nb04` (reparameterization),
:mod:`.nb05` (MLP VAE), :mod:`.nb06` (conv VAE), :mod:`.nb07` (latent dimension), :mod:`.nb08` (β-VAE and
likelihoods), :mod:`.nb09` (collapse, annealing, free bits, conditional VAE), :mod:`.nb10` (CelebA attribute
vectors). Notebooks 08 and 09 call their checks through this package (``exercises.check_beta_vae_loss``), so their
names are re-exported here.
"""

import importlib
import sys
from pathlib import Path
from types import ModuleType

from ._common import (
    KNOWN_GAUSSIAN_NLL_SIGMA_HALF,
    KNOWN_KL,
    KNOWN_KL_PER_DIM,
    KNOWN_RECON,
    ExerciseCheckError,
    fixed_batch,
)
from .nb08 import *  # noqa: F403
from .nb08 import __all__ as _nb08_all
from .nb09 import *  # noqa: F403
from .nb09 import __all__ as _nb09_all

__all__ = [
    "ExerciseCheckError",
    "fixed_batch",
    "KNOWN_RECON",
    "KNOWN_KL",
    "KNOWN_KL_PER_DIM",
    "KNOWN_GAUSSIAN_NLL_SIGMA_HALF",
    *_nb08_all,
    *(name for name in _nb09_all if name not in _nb08_all),
]

from . import nb01, nb02, nb04, nb05, nb06, nb07, nb10  # noqa: E402,F401  (`from vae_helpers.exercises import nb02`)

#: The teacher's grading package: a folder of this name holding ``__init__.py``.
GRADING_PACKAGE = "grading"


def _grading_root(start: Path) -> Path | None:
    """The nearest folder, from ``start`` upwards, that holds the grading package."""
    for folder in (start, *start.parents):
        if (folder / GRADING_PACKAGE / "__init__.py").is_file():
            return folder
    return None


def teacher_grading(notebook: str) -> ModuleType:
    """The teacher's hidden tests of one notebook (``"nb01"`` ... ``"nb10"``): ``grading.<notebook>``.

    Found on ``sys.path`` or else in a ``grading/`` folder in the working directory or one above it: the course
    folder that ``python -m vae_helpers.tools.release --course-dir DIR`` lays out holds a copy, and nbgrader runs a
    submission in a folder below it; the repository root holds the original for runs of ``notebooks/``.
    """
    try:
        return importlib.import_module(f"{GRADING_PACKAGE}.{notebook}")
    except ModuleNotFoundError as err:
        if err.name not in (GRADING_PACKAGE, f"{GRADING_PACKAGE}.{notebook}"):
            raise
    root = _grading_root(Path.cwd())
    if root is None or not (root / GRADING_PACKAGE / f"{notebook}.py").is_file():
        raise ModuleNotFoundError(
            f"The hidden tests need the teacher's grading module `{GRADING_PACKAGE}/{notebook}.py`, which is not in "
            f"{Path.cwd()} or a folder above it, nor on sys.path. Hidden tests run only when a teacher autogrades: "
            f"copy the repository's `{GRADING_PACKAGE}/` folder into the nbgrader course folder (next to "
            "nbgrader_config.py; `python -m vae_helpers.tools.release --course-dir DIR` does it)."
        )
    sys.path.insert(0, str(root))
    return importlib.import_module(f"{GRADING_PACKAGE}.{notebook}")

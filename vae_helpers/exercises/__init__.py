"""The exercises of the course: one module of check functions per notebook, and their shared machinery.

* ``check_*`` (visible in the notebooks, after each exercise): fixed inputs with known results; on a wrong
  result they raise :class:`ExerciseCheckError` whose message names the likely mistake;
* ``hidden_*`` (called only from nbgrader's hidden-test regions, so they run when the teacher autogrades):
  other inputs and sizes, and the mistakes a visible check could let through (hard-coded values,
  detached terms, beta applied to the returned KL).

Modules: :mod:`.nb01` (AE limitations), :mod:`.nb02` (ELBO and KL), :mod:`.nb03` (reparameterization),
:mod:`.nb04` (MLP VAE), :mod:`.nb05` (conv VAE), :mod:`.nb06` (latent dimension), :mod:`.nb07` (beta-VAE,
annealing, CVAE, likelihoods), :mod:`.nb08` (CelebA attribute vectors). Notebook 07's
names are re-exported here (``exercises.check_beta_vae_loss``) for its check cells.
"""

from ._common import (
    KNOWN_GAUSSIAN_NLL_SIGMA_HALF,
    KNOWN_KL,
    KNOWN_KL_PER_DIM,
    KNOWN_RECON,
    ExerciseCheckError,
    fixed_batch,
)
from .nb07 import *  # noqa: F403
from .nb07 import __all__ as _nb07_all

__all__ = [
    "ExerciseCheckError",
    "fixed_batch",
    "KNOWN_RECON",
    "KNOWN_KL",
    "KNOWN_KL_PER_DIM",
    "KNOWN_GAUSSIAN_NLL_SIGMA_HALF",
    *_nb07_all,
]

from . import nb01, nb02, nb03, nb04, nb05, nb06, nb08  # noqa: E402,F401  (`from vae_helpers.exercises import nb02`)

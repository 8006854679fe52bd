"""Maintainer tools, not course material: nothing in the notebooks imports them.

* :mod:`vae_helpers.tools.course`: ``python -m vae_helpers.tools.course`` (what ``make course`` runs)
  executes every numbered notebook headless and prints a table of results (``--train``: the retrain path);
* :mod:`vae_helpers.tools.weights`: ``python -m vae_helpers.tools.weights`` (``make weights``) retrains
  the model zoo by its recipes and rewrites ``vae_helpers/assets/zoo/manifest.json``;
* :mod:`vae_helpers.tools.release`: ``python -m vae_helpers.tools.release [--check]`` releases the
  student notebooks with ``nbgrader generate_assignment`` (``--check``: exit 1 when they are out of date),
  with :mod:`vae_helpers.tools.nbgrader_ext`, the one preprocessor nbgrader lacks.

The benchmarks are not part of the package: ``benchmarks/`` at the repository root (``python -m benchmarks``).
"""

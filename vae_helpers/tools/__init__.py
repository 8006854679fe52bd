"""Maintainer tools, not course material: nothing in the notebooks imports them.

* :mod:`vae_helpers.tools.course`: ``python -m vae_helpers.tools.course`` (what ``make course`` runs)
  executes every numbered notebook headless and prints a table of results;
* :mod:`vae_helpers.tools.student`: ``python -m vae_helpers.tools.student [--check]`` generates the
  student notebooks from the solution notebooks (``--check``: exit 1 when they are out of date);
* :mod:`vae_helpers.tools.bench`: ``python -m vae_helpers.tools.bench {throughput,loglik}``, the
  benchmarks quoted in the README.
"""

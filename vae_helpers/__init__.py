"""Shared, tested code for the Variational Autoencoder course.

The notebooks teach each idea; the module that holds it is the tested version they import. The package map (each
module, what it holds and the notebooks that use it) is in CONTRIBUTING.md, "The package"; the error messages and
their fixes are in docs/troubleshooting.md.
"""

__version__ = "0.1.0"

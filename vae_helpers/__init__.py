"""Shared, tested code for the Variational Autoencoder course; CONTRIBUTING.md ("The package") maps its modules."""

__version__ = "0.1.0"

"""Shared, tested code for the Variational Autoencoder course.

Modules, one concern each:

* :mod:`vae_helpers.config`: fast mode (``VAE_FAST``), device choice, seeding, paths;
* :mod:`vae_helpers.data`: MNIST, Fashion-MNIST and CelebA as in-memory uint8 tensors;
* :mod:`vae_helpers.models`: AE, MLP VAE, conv VAEs and a conditional VAE behind one interface;
* :mod:`vae_helpers.losses`: Gaussian KL, likelihoods, beta, KL schedules, free bits;
* :mod:`vae_helpers.training`: ``fit`` with early stopping, checkpoints and resume;
* :mod:`vae_helpers.checkpoints`: atomic, weights-only checkpoints;
* :mod:`vae_helpers.evaluation`: test ELBO, IWAE bound, active units, KL per dimension;
* :mod:`vae_helpers.plots`: image grids, curves, latent plots.
"""

__version__ = "0.1.0"

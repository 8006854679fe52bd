"""Shared, tested code for the Variational Autoencoder course.

Every module and subpackage, one concern each, with the notebooks that import it (the
notebook teaches what the module does; the module is the tested version):

* :mod:`vae_helpers.config`: fast mode (``VAE_FAST``), device choice, seeding, paths; notebooks 00-08;
* :mod:`vae_helpers.errors`: every error and warning type the package raises, one per failure family
  (the README's troubleshooting table); no notebook imports it, the messages reach students directly;
* :mod:`vae_helpers.data` (package): MNIST, Fashion-MNIST and CelebA as in-memory uint8 tensors; notebooks 00-08;
* :mod:`vae_helpers.models`: AE, MLP VAE, conv VAEs and a conditional VAE behind one interface,
  ``eval_mode``; notebooks 00-08 (the MLP VAE in 04, the conv VAEs in 05 and 08);
* :mod:`vae_helpers.losses`: Gaussian KL, likelihoods, beta, KL schedules, free bits,
  ``reparameterize``; notebooks 00, 02, 03, 07, 08;
* :mod:`vae_helpers.objective`: the objective of one batch for any model, per image (encode, sample z, score x):
  what training, validation, evaluation and the exercises' ``make_loss_fn`` share;
* :mod:`vae_helpers.training`: ``fit`` with early stopping, checkpoints and resume; notebooks 00-08;
* :mod:`vae_helpers.run_state`: what a run keeps between epochs (best weights, patience, history), saved to and
  resumed from a checkpoint; used through ``training.fit``;
* :mod:`vae_helpers.speed`: the optional speed-ups ``fit`` applies in one call (bf16, channels-last, fused Adam);
* :mod:`vae_helpers.checkpoints`: atomic, weights-only checkpoints; used through ``training.fit``
  (no notebook imports it directly);
* :mod:`vae_helpers.evaluation`: test ELBO, per-image ELBOs, the IWAE bound; notebooks 00, 01, 02, 04, 05, 06, 07, 08;
* :mod:`vae_helpers.latent`: the one encode loop (``encode_split``), active units, KL per dimension, probes of
  what the code holds, the aggregate posterior against the prior; notebooks 01, 02, 04, 06, 07, 08;
* :mod:`vae_helpers.stats`: bootstrap and Wilson intervals behind ``scipy.stats``; notebooks 04, 05, 06, 07, 08;
* :mod:`vae_helpers.quality`: Fréchet distance, confidence and entropy of samples in a cached
  classifier's feature space; notebooks 01, 04, 05, 06, 07;
* :mod:`vae_helpers.attributes`: attribute vectors and latent arithmetic on CelebA; notebook 08;
* :mod:`vae_helpers.exercises`: the checks and hidden tests of the exercises (one module per notebook);
* :mod:`vae_helpers.widgets` (package): interactive latent sliders, 2-D pad and attribute sliders (ipywidgets),
  one module per explorer; notebooks 04, 05, 06, 08;
* :mod:`vae_helpers.plots`: image grids, curves, latent plots in one seaborn style; notebooks 00-08;
* :mod:`vae_helpers.tools` (package): maintainer tools, not course material: the headless course
  runner (``python -m vae_helpers.tools.course``, what ``make course`` runs), the student-notebook
  release with nbgrader (``python -m vae_helpers.tools.release``) and the benchmarks (``python -m vae_helpers.tools.bench``).
"""

__version__ = "0.1.0"

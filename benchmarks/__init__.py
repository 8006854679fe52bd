"""The course's benchmarks: maintainer tools, not course material, and not installed with ``vae_helpers``.

Run from the repository root: ``python -m benchmarks NAME [--fast] [--write-docs]`` (``python -m benchmarks --help``).

* :mod:`.throughput`: pytorch/examples' MNIST VAE loop against ``fit`` (fp32, bf16 autocast).
* :mod:`.loglik`: test log-likelihood (IWAE bound, k=5000) on binarized MNIST, next to Burda et al. (2015).
* :mod:`.steps`: fit's training step under each option (bf16, channels_last, torch.compile).
* :mod:`.iwae`: the IWAE bound's speed.
* :mod:`.course`: every training run of the retrain path at the machine's matmul limit.
* :mod:`.jobs`: one job on every core against one one-thread job per core.
* :mod:`.gpu_check`: the GPU path in one command (every notebook under nbval, the reference job, speed figures).

Shared pieces: :mod:`.reference` (pytorch/examples' VAE and loop, the textbook IWAE computation), :mod:`.roofline`
(each model's matrix products timed at its own shapes: the limit every wall time is divided by), :mod:`.machine`
(what an absolute time depends on) and :mod:`.report` (the generated sections of ``docs/benchmarks.md``).
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

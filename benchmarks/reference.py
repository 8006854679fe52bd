"""Reference implementations the benchmarks compare against: pytorch/examples' VAE and its training loop (the
course's reference protocol), the textbook IWAE computation, and the fixed binarization of the MNIST test set."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vae_helpers.data import ImageSplit

REFERENCE_WALL_SECONDS_10_EPOCHS = 72.0  # the reference loop, 10 epochs on a 2-core CPU (docs/benchmarks.md)
REFERENCE_TEST_LOSS = 105.6
LOSS_TOLERANCE = 0.5  # nats per image: how far our test loss may be from the reference's
BURDA_VAE, BURDA_IWAE_K50 = -86.76, -84.78
TEST_BINARIZATION_SEED = 1234


# --------------------------------------------------------------------------------------------
# The reference: pytorch/examples vae/main.py, kept as close to the original as possible
# --------------------------------------------------------------------------------------------
class ExamplesVAE(nn.Module):
    """pytorch/examples' VAE, verbatim in structure (fc1, fc21, fc22, fc3, fc4; sigmoid output)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def examples_loss(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def run_reference(
    root: Path,
    epochs: int,
    train_limit: int | None = None,
    device: torch.device | None = None,
    test_limit: int | None = None,
) -> dict:
    """The pytorch/examples training and test loop; returns wall time, per-epoch data time and test loss
    (on the first ``test_limit`` test images, all 10,000 by default)."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    device = device or torch.device("cpu")
    torch.manual_seed(1)
    train_set = datasets.MNIST(str(root), train=True, download=False, transform=transforms.ToTensor())
    test_set = datasets.MNIST(str(root), train=False, download=False, transform=transforms.ToTensor())
    if train_limit:
        train_set = Subset(train_set, range(train_limit))
    if test_limit:
        test_set = Subset(test_set, range(test_limit))
    kwargs = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
    train_loader = DataLoader(train_set, batch_size=128, shuffle=True, **kwargs)
    test_loader = DataLoader(test_set, batch_size=128, shuffle=False, **kwargs)
    model = ExamplesVAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    started = time.perf_counter()
    data_seconds = 0.0
    for _ in range(epochs):
        model.train()
        t = time.perf_counter()
        for data, _ in train_loader:
            data = data.to(device)
            data_seconds += time.perf_counter() - t
            optimizer.zero_grad()
            recon, mu, logvar = model(data)
            loss = examples_loss(recon, data, mu, logvar)
            loss.backward()
            optimizer.step()
            t = time.perf_counter()
        model.eval()
        test_loss = 0.0
        with torch.no_grad():
            for data, _ in test_loader:
                data = data.to(device)
                recon, mu, logvar = model(data)
                test_loss += examples_loss(recon, data, mu, logvar).item()
        test_loss /= len(test_loader.dataset)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return {"seconds": time.perf_counter() - started, "data_seconds": data_seconds, "test_loss": test_loss}


# --------------------------------------------------------------------------------------------
# Log-likelihood on dynamically binarized MNIST
# --------------------------------------------------------------------------------------------
def binarized_test_split(split: ImageSplit, seed: int = TEST_BINARIZATION_SEED) -> ImageSplit:
    """A fixed Bernoulli binarization of ``split`` (pixels 0 or 255), drawn with ``seed``."""
    probs = split.images.float() / 255
    binary = torch.bernoulli(probs, generator=torch.Generator().manual_seed(seed))
    return ImageSplit((binary * 255).to(torch.uint8), split.labels)


def iwae_direct(
    model,
    split: ImageSplit,
    k: int,
    batch_size: int = 100,
    chunk: int = 500,
    likelihood: str = "bernoulli",
    seed: int = 0,
    sigma: float = 1.0,
) -> torch.Tensor:
    """The textbook IWAE computation (what iwae_log_likelihood replaced): x repeated per sample,
    the logits scored whole. Same noise as :func:`iwae_log_likelihood`; per-image values ``[N]``."""
    from vae_helpers.losses import gaussian_log_density, reconstruction_nll, standard_normal_log_density
    from vae_helpers.models import eval_mode

    generator = torch.Generator().manual_seed(seed)
    values = []
    with eval_mode(model):
        for x, y in split.batches(batch_size, device=model.device):
            mu, logvar = model.encode(x, y if model.conditional else None)
            log_weights = []
            for start in range(0, k, chunk):
                s = min(chunk, k - start)
                eps = torch.randn((s, *mu.shape), generator=generator).to(mu.device)
                z = mu + eps * torch.exp(0.5 * logvar)
                yy = y.repeat(s) if model.conditional else None
                xx = x.repeat(s, 1, 1, 1)
                logits = model.likelihood_logits(z.reshape(-1, model.latent_dim), xx, yy)
                log_px_z = -reconstruction_nll(logits, xx, likelihood, sigma).view(s, -1)
                log_weights.append(log_px_z + standard_normal_log_density(z) - gaussian_log_density(z, mu, logvar))
            values.append(torch.logsumexp(torch.cat(log_weights).double(), 0).cpu() - math.log(k))
    return torch.cat(values)

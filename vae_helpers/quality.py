"""Scores of generated images from a small CNN classifier, trained once on the real training set and cached.

Its 128-d penultimate layer is the feature space of a Fréchet distance (FID, Heusel et al. 2017, with this classifier
in place of Inception); its softmax gives the mean top-class confidence and the mean predictive entropy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .atomic import atomic_torch_save
from .config import PACKAGE_DATA_DIR, REPO_ROOT, fast_mode, seed_everything
from .data import ImageDataset, ImageSplit
from .errors import ConfigError, CorruptDataError
from .models import eval_mode
from .stats import BootstrapInterval, centred_interval


class FeatureClassifier(nn.Module):
    """CNN for ``[N x 1 x 28 x 28]`` images in [0, 1]: 128-d features, then 10 logits."""

    def __init__(self, n_classes: int = 10, feature_dim: int = 128) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 28x28 -> 14x14
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 14x14 -> 7x7
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, feature_dim),
            nn.ReLU(),  # [N x 128]
        )
        self.head = nn.Linear(feature_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def classifier_path(dataset_name: str) -> Path:
    """The classifier's cache: ``vae_helpers/assets/classifier_<name>.pt``, or in fast mode, when none is committed,
    a file in ``build/`` (a fast-mode classifier never replaces the real one)."""
    committed = PACKAGE_DATA_DIR / f"classifier_{dataset_name}.pt"
    if committed.is_file() or not fast_mode():
        return committed
    return REPO_ROOT / "build" / f"classifier_{dataset_name}_fast.pt"


def accuracy(model: nn.Module, split: ImageSplit, batch_size: int = 1000) -> float:
    """Top-1 accuracy of ``model`` on ``split``, evaluated in eval mode (the model keeps its own mode)."""
    correct = 0
    with eval_mode(model):
        for x, y in split.batches(batch_size):
            correct += int((model(x).argmax(1) == y).sum())
    return correct / max(1, len(split))


def train_classifier(
    data: ImageDataset, epochs: int = 5, seed: int = 0, lr: float = 1e-3
) -> tuple[FeatureClassifier, float]:
    """Train the feature classifier on ``data.train``; returns it with its test accuracy. Reseeds the global RNGs."""
    seed_everything(seed)
    generator = torch.Generator().manual_seed(seed)
    model = FeatureClassifier(n_classes=len(data.class_names))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        model.train()
        for x, y in data.train.batches(128, shuffle=True, generator=generator):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval()
    return model, accuracy(model, data.test)


def load_or_train_classifier(
    data: ImageDataset, epochs: int = 5, path: Path | None = None
) -> tuple[FeatureClassifier, dict]:
    """``(classifier in eval mode, info)`` for ``data``, trained and cached at ``path`` on first use (default
    :func:`classifier_path`); ``info`` has ``test_accuracy``, ``epochs``, ``path`` and ``cached``. Raises
    :class:`CorruptDataError` if the cache file is empty, truncated or not such a classifier (delete it to retrain)."""
    path = Path(path) if path is not None else classifier_path(data.name)
    if path.is_file():
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            model = FeatureClassifier(n_classes=int(payload["n_classes"]))
            model.load_state_dict(payload["state"])
            info = {"test_accuracy": float(payload["test_accuracy"]), "epochs": int(payload["epochs"])}
        except Exception as err:  # empty, truncated zip, not a torch file, or another model's weights
            raise CorruptDataError(_damaged_cache_message(path, err)) from err
        return model.eval(), {**info, "path": str(path), "cached": True}
    model, acc = train_classifier(data, epochs=epochs)
    atomic_torch_save(
        {
            "state": model.state_dict(),
            "n_classes": len(data.class_names),
            "test_accuracy": acc,
            "epochs": epochs,
            "dataset": data.name,
        },
        path,
    )
    return model, {"test_accuracy": acc, "epochs": epochs, "path": str(path), "cached": False}


def _damaged_cache_message(path: Path, err: Exception) -> str:
    size = path.stat().st_size
    detail = str(err).splitlines()[0][:200] if str(err) else "no detail"
    message = (
        f"The classifier cache {path} ({size:,} bytes) is empty, truncated or not a feature classifier "
        f"({type(err).__name__}: {detail}). Delete it: load_or_train_classifier retrains and re-caches it "
        f"(a few minutes on a CPU)."
    )
    if path.resolve().parent == Path(PACKAGE_DATA_DIR).resolve():  # the file committed to the repository
        message += (
            f" It is committed to the repository: `git checkout -- vae_helpers/assets/{path.name}` restores it "
            "(or reinstall vae_helpers), "
            f"which keeps the scores equal to the committed notebook outputs."
        )
    return message


def features_and_probs(
    classifier: FeatureClassifier, images: torch.Tensor, batch_size: int = 100
) -> tuple[torch.Tensor, torch.Tensor]:
    """Features ``[N x 128]`` and class probabilities of images ``[N x 1 x 28 x 28]`` in [0, 1] (in eval mode).

    Batches of 100 keep the ``[B x 32 x 28 x 28]`` activations in cache: on a CPU about twice as fast as 1000, with
    the same features (a batch size changes at most float rounding).
    """
    feats, probs = [], []
    with eval_mode(classifier):
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].float().cpu()
            f = classifier.features(x)
            feats.append(f)
            probs.append(F.softmax(classifier.head(f), 1))
    return torch.cat(feats), torch.cat(probs)


# Keeps the square root stable when ReLU features never fire (singular covariance), as the reference FID code does.
_RIDGE = 1e-6


@dataclass(frozen=True)
class _GaussianFit:
    """A Gaussian fitted to a feature set (float64): ``mean [F]`` and ``cov [F x F]`` (normalised by N - 1)."""

    mean: torch.Tensor
    cov: torch.Tensor

    def ridged(self) -> torch.Tensor:
        """``cov + ridge * I [F x F]``."""
        return self.cov + _RIDGE * torch.eye(len(self.cov), dtype=self.cov.dtype)

    def ridged_root(self) -> torch.Tensor:
        """The symmetric square root of :meth:`ridged` ``[F x F]`` (eigendecomposition; clamped at 0)."""
        eigenvalues, vectors = torch.linalg.eigh(self.ridged())
        return (vectors * eigenvalues.clamp_min(0).sqrt()) @ vectors.T

    @classmethod
    def of(cls, feats: torch.Tensor, counts: torch.Tensor | None = None) -> _GaussianFit:
        """Fit to ``feats [N x F]``, or to the resample that takes row i ``counts[i]`` times, without building it."""
        x = feats.detach().double().cpu()
        n = len(x)
        if n < 2:
            raise ValueError(f"a Fréchet distance needs at least 2 feature rows per set, got {n}.")
        centre = x.mean(0)  # subtracted first: a covariance from raw second moments loses digits
        xc = x - centre
        if counts is None:
            mean_c = xc.mean(0)
            cov = (xc.T @ xc - n * torch.outer(mean_c, mean_c)) / (n - 1)
        else:
            w = counts.double()
            mean_c = (w @ xc) / n
            cov = ((xc * w[:, None]).T @ xc - n * torch.outer(mean_c, mean_c)) / (n - 1)
        return cls(centre + mean_c, (cov + cov.T) / 2)


def _frechet(a: _GaussianFit, b: _GaussianFit, b_root: torch.Tensor | None = None) -> float:
    """:func:`frechet_distance` of two fits, ridged inside the root: Tr((C_a C_b)^{1/2}) is the sum of the square
    roots of the eigenvalues of the symmetric R_b C_a R_b, R_b = C_b^{1/2} (``b_root``, if already computed)."""
    root = b.ridged_root() if b_root is None else b_root
    inner = root @ a.ridged() @ root
    trace_root = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp_min(0).sqrt().sum()
    distance = ((a.mean - b.mean) ** 2).sum() + a.cov.trace() + b.cov.trace() - 2 * trace_root
    return float(distance)


def frechet_distance(feats_a: torch.Tensor, feats_b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to ``feats_a [N x F]`` and ``feats_b [M x F]``:
    ||mu_a - mu_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^{1/2})."""
    return _frechet(_GaussianFit.of(feats_a), _GaussianFit.of(feats_b))


def _resample_counts(n: int, generator: torch.Generator) -> torch.Tensor:
    """How often each of n rows appears in one resample with replacement ``[n]`` (draws as ``randint``)."""
    return torch.bincount(torch.randint(n, (n,), generator=generator), minlength=n)


def _frechet_resamples(
    feats: torch.Tensor, reference_features: torch.Tensor, n_boot: int, generator: torch.Generator
) -> torch.Tensor:
    """Fréchet distances ``[n_boot]`` of resamples (with replacement) of ``feats [N x F]`` to the fixed reference."""
    reference = _GaussianFit.of(reference_features)  # fitted once: it is not resampled
    reference_root = reference.ridged_root()
    out = torch.empty(n_boot, dtype=torch.float64)
    for i in range(n_boot):
        resample = _GaussianFit.of(feats, _resample_counts(len(feats), generator))
        out[i] = _frechet(resample, reference, reference_root)
    return out


def _check_bootstrap(n_boot: int, level: float) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 2:
        raise ConfigError(f"n_boot={n_boot!r}: a bootstrap interval needs at least 2 resamples (200 is usual).")
    if level <= 0 or level >= 1:
        raise ConfigError(f"level must lie strictly between 0 and 1 (0.95 for a 95% interval), got {level!r}.")


def bootstrap_frechet(
    feats: torch.Tensor, reference_features: torch.Tensor, n_boot: int = 200, seed: int = 0, level: float = 0.95
) -> BootstrapInterval:
    """Fréchet distance of generated features ``[N x F]`` to ``reference_features [M x F]``, with a bootstrap interval.

    The N generated rows are resampled ``n_boot`` times, the reference stays fixed. Resamples are biased upwards, so
    the interval is their spread centred on the estimate (:func:`~vae_helpers.stats.centred_interval`): it shows how
    much the score depends on which samples were drawn, not the finite-sample bias itself.
    """
    _check_bootstrap(n_boot, level)
    generator = torch.Generator().manual_seed(seed)
    draws = _frechet_resamples(feats, reference_features, int(n_boot), generator)
    return centred_interval(frechet_distance(feats, reference_features), draws, level)


def bootstrap_frechet_difference(
    feats_a: torch.Tensor,
    feats_b: torch.Tensor,
    reference_features: torch.Tensor,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> BootstrapInterval:
    """``FD(a) - FD(b)`` of generated features ``[N_a x F]``, ``[N_b x F]`` against one fixed reference ``[M x F]``,
    with a bootstrap interval (as :func:`bootstrap_frechet`, both sets resampled independently). An interval that
    excludes 0 means the ranking does not hinge on which samples were drawn."""
    _check_bootstrap(n_boot, level)
    generator = torch.Generator().manual_seed(seed)
    draws_a = _frechet_resamples(feats_a, reference_features, int(n_boot), generator)
    draws_b = _frechet_resamples(feats_b, reference_features, int(n_boot), generator)
    estimate = frechet_distance(feats_a, reference_features) - frechet_distance(feats_b, reference_features)
    return centred_interval(estimate, draws_a - draws_b, level)


@dataclass
class QualityScores:
    """Scores of images: Fréchet distance to real ones (lower is better; real-vs-real is the floor), mean top-class
    ``confidence``, mean predictive ``entropy`` in nats (log 10 = 2.303 is uniform) and the share of each class."""

    frechet: float
    confidence: float
    entropy: float
    class_histogram: list[float]

    def as_row(self) -> dict[str, float]:
        return {"Fréchet distance": self.frechet, "confidence": self.confidence, "entropy (nats)": self.entropy}


def score_images(
    classifier: FeatureClassifier, images: torch.Tensor, reference_features: torch.Tensor
) -> QualityScores:
    """Fréchet distance to ``reference_features`` plus confidence and entropy of ``images``."""
    feats, probs = features_and_probs(classifier, images)
    entropy = -(probs * probs.clamp_min(1e-12).log()).sum(1)
    hist = torch.bincount(probs.argmax(1), minlength=probs.shape[1]).float() / len(probs)
    return QualityScores(
        frechet_distance(feats, reference_features),
        float(probs.max(1).values.mean()),
        float(entropy.mean()),
        hist.tolist(),
    )


def format_scores(scores: dict[str, QualityScores], first_column: str = "samples") -> str:
    """A text table of several :class:`QualityScores`, one row per image set."""
    width = max(len(first_column), *(len(name) for name in scores))
    lines = [f"{first_column:{width}s} {'Fréchet distance':>17s} {'confidence':>11s} {'entropy':>8s}"]
    lines += [f"{name:{width}s} {s.frechet:17.2f} {s.confidence:11.3f} {s.entropy:8.3f}" for name, s in scores.items()]
    return "\n".join(lines)


MAX_ENTROPY_10 = math.log(10)

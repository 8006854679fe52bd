"""Sampling uncertainty of the course's scores: bootstrap and Wilson intervals, on :mod:`scipy.stats`.

Every interval measures the noise of the *evaluation* (which items were drawn), not the variation between training
runs with different seeds. Seeded: the same call gives the same interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import stats

from .errors import ConfigError


@dataclass
class BootstrapInterval:
    """A statistic's full-sample ``estimate`` with its bootstrap interval ``[low, high]`` at coverage ``level`` (e.g.
    0.95) from ``n_boot`` resamples."""

    estimate: float
    low: float
    high: float
    level: float
    n_boot: int

    def __iter__(self):
        """``estimate, low, high = interval`` (and ``interval[0]``, ``interval[1]``, ``interval[2]``)."""
        return iter((self.estimate, self.low, self.high))

    def __getitem__(self, index: int) -> float:
        return (self.estimate, self.low, self.high)[index]

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def excludes(self, value: float = 0.0) -> bool:
        """True when ``value`` lies outside the interval (e.g. 0 for a difference)."""
        return not (self.low <= value <= self.high)

    def format(self, spec: str = ".2f", sign: bool = False) -> str:
        """E.g. ``"+3.80 (95% interval +3.52 to +4.09)"``."""
        spec = ("+" + spec) if sign else spec
        return f"{self.estimate:{spec}} ({self.level:.0%} interval {self.low:{spec}} to {self.high:{spec}})"

    def __str__(self) -> str:
        return self.format()


def _check_level(level: float, n_boot: int) -> int:
    if not 0 < level < 1:
        raise ConfigError(f"level must lie strictly between 0 and 1 (0.95 for a 95% interval), got {level!r}.")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ConfigError(f"n_boot={n_boot!r}: it must be a whole number >= 1.")
    return n_boot


def _as_values(values: torch.Tensor | Any) -> np.ndarray:
    return torch.as_tensor(values).detach().double().cpu().flatten().numpy()


def bootstrap_interval(
    values: torch.Tensor | Any, n_boot: int = 2000, seed: int = 0, level: float = 0.95, chunk: int = 200
) -> BootstrapInterval:
    """Percentile bootstrap interval of the mean of per-item values ``[N]`` (e.g. per-image ELBOs, 0/1 correctness):
    ``n_boot`` resamples with replacement (``scipy.stats.bootstrap``, seeded with ``seed``, ``chunk`` at a time)."""
    n_boot = _check_level(level, n_boot)
    x = _as_values(values)
    if len(x) < 2:
        raise ConfigError(f"bootstrap_interval() needs at least 2 values, got {len(x)}.")
    if np.all(x == x[0]):  # every resample has the same mean (scipy would warn that the data are degenerate)
        return BootstrapInterval(float(x[0]), float(x[0]), float(x[0]), level, n_boot)
    result = stats.bootstrap(
        (x,),
        np.mean,
        n_resamples=n_boot,
        batch=chunk,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return BootstrapInterval(float(x.mean()), float(interval.low), float(interval.high), level, n_boot)


def paired_bootstrap_difference(
    a: torch.Tensor | Any, b: torch.Tensor | Any, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> BootstrapInterval:
    """Bootstrap interval of ``mean(a) - mean(b)`` for two models scored on the *same* items ``[N]``, resampled
    jointly, so what the two share (an easy or a hard item) cancels."""
    a, b = _as_values(a), _as_values(b)
    if a.shape != b.shape:
        raise ConfigError(f"a paired bootstrap needs one value per item in both: got {len(a)} and {len(b)} values.")
    return bootstrap_interval(a - b, n_boot=n_boot, seed=seed, level=level)


def centred_interval(estimate: float, draws: torch.Tensor, level: float) -> BootstrapInterval:
    """The spread of bootstrap ``draws [n_boot]`` centred on ``estimate``: ``[est - (median - q_lo), est + (q_hi -
    median)]``, for a statistic whose resamples are biased (see :func:`vae_helpers.quality.bootstrap_frechet`)."""
    alpha = (1 - level) / 2
    q_lo, median, q_hi = np.quantile(torch.as_tensor(draws).double().numpy(), [alpha, 0.5, 1 - alpha]).tolist()
    return BootstrapInterval(estimate, estimate - (median - q_lo), estimate + (q_hi - median), level, len(draws))


def share_interval(flags: torch.Tensor | Any, level: float = 0.95) -> tuple[float, float, float]:
    """``(p, low, high)``: the share of True in ``flags [N]`` and its Wilson score interval, which unlike
    ``p +- z sqrt(p (1 - p) / N)`` does not shrink to nothing at p = 0 or 1."""
    flags = torch.as_tensor(flags).bool().flatten()
    if len(flags) == 0:
        raise ConfigError("share_interval() needs at least one value.")
    successes, n = int(flags.sum()), len(flags)
    interval = stats.binomtest(successes, n).proportion_ci(confidence_level=level, method="wilson")
    return successes / n, float(interval.low), float(interval.high)

"""Bootstrap intervals: per-image ELBOs, (paired) intervals of a mean, and of the Fréchet distance."""

import pytest
import torch

from vae_helpers.config import seed_everything
from vae_helpers.errors import ConfigError
from vae_helpers.evaluation import evaluate, per_image_elbo
from vae_helpers.models import AE, MLPVAE
from vae_helpers.quality import bootstrap_frechet, bootstrap_frechet_difference, frechet_distance
from vae_helpers.stats import BootstrapInterval, bootstrap_interval, paired_bootstrap_difference


def test_interval_of_a_mean_covers_at_its_level():
    # 300 data sets of 60 draws from an exponential (skewed; mean 1): a 90% interval must cover
    # the true mean about 90% of the time (the binomial spread of 300 trials is about +-1.7%).
    gen = torch.Generator().manual_seed(1)
    data = torch.empty(300, 60).exponential_(1.0, generator=gen)
    covered = [
        bootstrap_interval(row, n_boot=400, seed=i, level=0.9).excludes(1.0) is False for i, row in enumerate(data)
    ]
    coverage = sum(covered) / len(covered)
    assert 0.83 <= coverage <= 0.95, coverage


def test_interval_width_follows_the_standard_error_and_the_level():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2000, generator=gen) * 3.0
    ci = bootstrap_interval(x, n_boot=2000, seed=0, level=0.95)
    assert ci.estimate == pytest.approx(float(x.double().mean()))
    assert ci.low < ci.estimate < ci.high
    se = float(x.double().std()) / 2000**0.5
    assert ci.half_width == pytest.approx(1.96 * se, rel=0.12)
    narrow = bootstrap_interval(x, n_boot=2000, seed=0, level=0.5)
    assert narrow.half_width == pytest.approx(0.674 * se, rel=0.15)
    assert bootstrap_interval(x, n_boot=300, seed=5) == bootstrap_interval(x, n_boot=300, seed=5)  # seeded


def test_paired_interval_is_narrower_than_unpaired_when_items_are_shared():
    # Two models scored on the same 1000 images: the image difficulty (sd 20) is shared, the
    # models differ by 0.5 nats with per-image noise sd 1. Pairing removes the shared part.
    gen = torch.Generator().manual_seed(3)
    difficulty = torch.randn(1000, generator=gen) * 20
    a = difficulty + 0.5 + torch.randn(1000, generator=gen)
    b = difficulty + torch.randn(1000, generator=gen)
    paired = paired_bootstrap_difference(a, b, n_boot=1000, seed=0)
    ia, ib = bootstrap_interval(a, n_boot=1000, seed=1), bootstrap_interval(b, n_boot=1000, seed=2)
    unpaired_half_width = (ia.half_width**2 + ib.half_width**2) ** 0.5
    assert paired.estimate == pytest.approx(float((a - b).double().mean()))
    assert paired.half_width < 0.2 * unpaired_half_width
    assert paired.excludes(0.0) and paired.low > 0  # the 0.5-nat gain is resolved only when paired
    assert not (ia.low > ib.high or ib.low > ia.high)  # the separate intervals overlap


def test_bootstrap_refuses_bad_arguments():
    with pytest.raises(ConfigError, match="level"):
        bootstrap_interval(torch.randn(10), level=95)
    with pytest.raises(ConfigError, match="at least 2"):
        bootstrap_interval(torch.randn(1))
    with pytest.raises(ConfigError, match="one value per item"):
        paired_bootstrap_difference(torch.randn(10), torch.randn(9))


def test_interval_formats_with_its_level():
    ci = BootstrapInterval(3.8, 3.5, 4.1, 0.95, 100)
    assert ci.format(".1f", sign=True) == "+3.8 (95% interval +3.5 to +4.1)"
    assert ci.excludes(0.0) and not ci.excludes(4.0) and ci.half_width == pytest.approx(0.3)


def test_per_image_elbo_matches_evaluate(fashion):
    seed_everything(0)
    split = fashion.test.head(300)
    model = MLPVAE(hidden=(32,), latent_dim=4)
    values = per_image_elbo(model, split, batch_size=128, seed=7)
    assert values.shape == (300,)
    assert float(values.mean()) == pytest.approx(evaluate(model, split, batch_size=128, seed=7).elbo, abs=1e-3)
    assert not torch.equal(values, per_image_elbo(model, split, batch_size=128, seed=8))  # one z sample each
    ae = AE(hidden=(32,), latent_dim=4)
    m = evaluate(ae, split)
    assert float(per_image_elbo(ae, split).mean()) == pytest.approx(-m.recon, abs=1e-3)


def _gaussian(n, d, shift, gen):
    return torch.randn(n, d, generator=gen) + shift


def test_frechet_interval_is_centred_on_the_estimate_with_the_sampling_width():
    # In 30 dimensions with 400 samples the resampled distances sit well above the estimate (a
    # resample repeats rows): a plain percentile interval would not even contain the estimate.
    gen = torch.Generator().manual_seed(4)
    d, n = 30, 400
    reference = _gaussian(2000, d, 0.0, gen)
    shift = torch.zeros(d)
    shift[0] = 1.0
    feats = _gaussian(n, d, shift, gen)
    ci = bootstrap_frechet(feats, reference, n_boot=300, seed=0)
    assert ci.estimate == pytest.approx(frechet_distance(feats, reference))
    assert ci.low < ci.estimate < ci.high
    assert abs((ci.low + ci.high) / 2 - ci.estimate) < 0.2 * ci.half_width
    # Its width: the spread of the score over fresh sample sets of the same model, same reference,
    # or somewhat more (the bootstrap is conservative here: 1.0-1.5x in trials with other seeds).
    redraws = torch.tensor([frechet_distance(_gaussian(n, d, shift, gen), reference) for _ in range(60)])
    assert 0.8 < (ci.half_width / 1.96) / float(redraws.std()) < 1.8


def test_frechet_difference_resolves_a_real_gap_and_not_a_null_one():
    gen = torch.Generator().manual_seed(5)
    reference = _gaussian(2000, 6, 0.0, gen)
    near, far, same = _gaussian(800, 6, 0.3, gen), _gaussian(800, 6, 0.8, gen), _gaussian(800, 6, 0.3, gen)
    gap = bootstrap_frechet_difference(far, near, reference, n_boot=200, seed=0)
    assert gap.estimate > 0 and gap.low > 0  # far is worse, and the interval says so
    swapped = bootstrap_frechet_difference(near, far, reference, n_boot=200, seed=0)
    assert swapped.high < 0
    null = bootstrap_frechet_difference(same, near, reference, n_boot=200, seed=0)
    assert not null.excludes(0.0)

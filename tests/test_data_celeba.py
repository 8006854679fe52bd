"""CelebA reliability, as a student with a damaged or odd copy meets it: every failure names the file and the fix,
and nothing is silently wrong (another copy's faces from the cache, faces in the wrong split).

The CelebA folders here are small synthetic ones (random-pixel 178x218 JPEGs with the official file layout), built
in tmp_path, so these tests need no real data.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vae_helpers.atomic import atomic_torch_save
from vae_helpers.config import REPO_ROOT
from vae_helpers.data import (
    CacheWarning,
    CorruptDataError,
    DataNotFoundError,
    IncompleteCelebAWarning,
    celeba,
    find_celeba_root,
    load_celeba,
    read_celeba_annotations,
)

ATTRS = [f"Attr_{i}" for i in range(40)]


def make_celeba(root: Path, n: int = 6, seed: int = 0, partition: dict[str, str] | None = None) -> Path:
    """``root/celeba`` with ``n`` random-pixel aligned-size JPEGs, their attribute rows and partitions ``i % 3``."""
    folder = root / "celeba"
    images = folder / "img_align_celeba"
    images.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    for name in names:
        pixels = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / name, quality=90)
    rows = [f"{name} " + " ".join("1" if (i + j) % 2 else "-1" for j in range(40)) for i, name in enumerate(names)]
    (folder / "list_attr_celeba.txt").write_text(f"{n}\n" + " ".join(ATTRS) + "\n" + "\n".join(rows) + "\n")
    partition = partition or {name: str(i % 3) for i, name in enumerate(names)}
    (folder / "list_eval_partition.txt").write_text("".join(f"{k} {v}\n" for k, v in partition.items()))
    return folder


def _all_images(data) -> torch.Tensor:
    return torch.cat([data.train.images, data.val.images, data.test.images])


# ---------------------------------------------------------------------------------------------------------------
# The decode cache
# ---------------------------------------------------------------------------------------------------------------
def test_two_copies_with_the_same_file_names_get_their_own_faces(tmp_path):
    make_celeba(tmp_path / "a", seed=1)
    make_celeba(tmp_path / "b", seed=2)
    cache = tmp_path / "cache"
    a = load_celeba(tmp_path / "a", cache_dir=cache)
    b = load_celeba(tmp_path / "b", cache_dir=cache)
    assert not torch.equal(_all_images(a), _all_images(b))
    fresh_b = load_celeba(tmp_path / "b", cache_dir=tmp_path / "other_cache")
    assert torch.equal(_all_images(b), _all_images(fresh_b))
    assert len(list(cache.glob("*.pt"))) == 6  # three splits of each copy


def test_an_image_replaced_in_place_is_decoded_again(tmp_path):
    folder = make_celeba(tmp_path)
    cache = tmp_path / "cache"
    before = load_celeba(tmp_path, cache_dir=cache)
    jpg = folder / "img_align_celeba" / "000001.jpg"  # partition 0: the first training image
    Image.fromarray(np.zeros((218, 178, 3), np.uint8)).save(jpg)
    os.utime(jpg, ns=(jpg.stat().st_atime_ns, jpg.stat().st_mtime_ns + 10**9))
    after = load_celeba(tmp_path, cache_dir=cache)
    assert after.train.images[0].float().mean() < 5 < before.train.images[0].float().mean()


def test_unwritable_cache_folder_warns_and_loads_without_cache(tmp_path):
    make_celeba(tmp_path)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.warns(CacheWarning, match=str(blocker / "cache")):
        data = load_celeba(tmp_path, cache_dir=blocker / "cache")
    assert len(data.train) == 2 and data.train.images.dtype == torch.uint8


def test_disk_full_while_writing_the_cache_warns_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    make_celeba(tmp_path)

    def full_disk(obj, handle, *args, **kwargs):
        handle.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(celeba.torch, "save", full_disk)
    with pytest.warns(CacheWarning, match="No space left on device") as record:
        data = load_celeba(tmp_path, cache_dir=tmp_path / "cache")
    assert str(tmp_path / "cache") in str(record[0].message)
    assert len(data.test) == 2
    assert list((tmp_path / "cache").iterdir()) == []  # neither a half-written cache nor a temporary file


_WRITER = """
import sys, torch
from vae_helpers.atomic import atomic_torch_save
value, path = int(sys.argv[1]), sys.argv[2]
for _ in range(15):
    atomic_torch_save({"images": torch.full((64, 3, 64, 64), value, dtype=torch.uint8)}, path)
"""

_LOADER = """
import sys, warnings
from vae_helpers.data import load_celeba
warnings.simplefilter("ignore")
load_celeba(sys.argv[1], cache_dir=sys.argv[2])
"""


def _python(code: str, *args) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env, stderr=subprocess.PIPE, text=True)


def test_two_processes_writing_the_same_cache_file_never_leave_it_half_written(tmp_path):
    target = tmp_path / "cache" / "entry.pt"
    writers = [_python(_WRITER, value, target) for value in (1, 2)]
    seen = set()
    while any(w.poll() is None for w in writers):
        if target.is_file():
            images = torch.load(target, weights_only=True)["images"]  # a torn file would fail to load or be mixed
            assert images.shape == (64, 3, 64, 64) and images.unique().numel() == 1
            seen.add(int(images[0, 0, 0, 0]))
    for w in writers:
        assert w.wait() == 0, w.stderr.read()
    final = torch.load(target, weights_only=True)["images"]
    assert final.unique().tolist() in ([1], [2])
    assert [p.name for p in target.parent.iterdir()] == ["entry.pt"]  # no temporary files left behind


def test_two_processes_decoding_into_the_same_cache_give_an_intact_cache(tmp_path):
    make_celeba(tmp_path, n=9)
    cache = tmp_path / "cache"
    loaders = [_python(_LOADER, tmp_path, cache) for _ in range(2)]
    for p in loaders:
        assert p.wait() == 0, p.stderr.read()
    assert len(list(cache.glob("*.pt"))) == 3 and not list(cache.glob("*.tmp"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        cached = load_celeba(tmp_path, cache_dir=cache)
    fresh = load_celeba(tmp_path, cache_dir=tmp_path / "fresh")
    assert torch.equal(_all_images(cached), _all_images(fresh))


def test_atomic_torch_save_replaces_a_previous_file(tmp_path):
    path = tmp_path / "x.pt"
    atomic_torch_save({"v": torch.tensor(1)}, path)
    atomic_torch_save({"v": torch.tensor(2)}, path)
    assert torch.load(path, weights_only=True)["v"].item() == 2 and len(list(tmp_path.iterdir())) == 1


# ---------------------------------------------------------------------------------------------------------------
# Partitions and annotations
# ---------------------------------------------------------------------------------------------------------------
def test_present_faces_missing_from_the_partition_file_are_an_error_not_training_data(tmp_path):
    make_celeba(tmp_path, partition={"000001.jpg": "0", "000002.jpg": "1", "000003.jpg": "2", "000004.jpg": "0"})
    with pytest.raises(CorruptDataError) as err:
        load_celeba(tmp_path, cache_dir=tmp_path / "cache")
    message = str(err.value)
    assert "list_eval_partition.txt" in message and "2 images" in message
    assert "000005.jpg" in message and "000006.jpg" in message


def test_partition_value_outside_0_1_2_names_file_line_and_value(tmp_path):
    folder = make_celeba(tmp_path, partition={"000001.jpg": "0", "000002.jpg": "1", "000003.jpg": "3"})
    with pytest.raises(CorruptDataError) as err:
        read_celeba_annotations(folder)
    assert "list_eval_partition.txt, line 3" in str(err.value) and "'000003.jpg 3'" in str(err.value)


def test_ragged_attribute_row_names_file_and_line(tmp_path):
    folder = make_celeba(tmp_path)
    path = folder / "list_attr_celeba.txt"
    lines = path.read_text().splitlines()
    lines[4] = lines[4].rsplit(" ", 1)[0]  # line 5 loses its last column
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CorruptDataError, match=r"list_attr_celeba.txt, line 5: 40 columns, expected 41"):
        read_celeba_annotations(folder)


def test_attribute_value_other_than_plus_minus_one_names_file_line_and_attribute(tmp_path):
    folder = make_celeba(tmp_path)
    path = folder / "list_attr_celeba.txt"
    lines = path.read_text().splitlines()
    parts = lines[3].split()
    parts[4] = "0"
    lines[3] = " ".join(parts)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CorruptDataError, match=r"line 4: attribute Attr_3 is '0'; every value must be 1 or -1"):
        read_celeba_annotations(folder)


def test_missing_partition_file_is_named(tmp_path):
    folder = make_celeba(tmp_path)
    (folder / "list_eval_partition.txt").unlink()
    with pytest.raises(DataNotFoundError, match="list_eval_partition.txt is missing"):
        read_celeba_annotations(folder)


# ---------------------------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------------------------
def test_every_damaged_jpeg_is_named_with_the_fix(tmp_path):
    folder = make_celeba(tmp_path, n=9)
    images = folder / "img_align_celeba"
    for name in ("000002.jpg", "000006.jpg"):  # a valid and a test image cut in half
        data = (images / name).read_bytes()
        (images / name).write_bytes(data[: len(data) // 2])
    (images / "000007.jpg").write_bytes(b"<html>quota exceeded</html>")  # a training image that is not a JPEG
    with pytest.raises(CorruptDataError) as err:
        load_celeba(tmp_path, cache_dir=tmp_path / "cache")
    message = str(err.value)
    assert "3 of 9" in message and "extract img_align_celeba.zip again" in message
    for name in ("000002.jpg", "000006.jpg", "000007.jpg"):
        assert name in message
    assert sorted(p.name for p in err.value.files) == ["000002.jpg", "000006.jpg", "000007.jpg"]


def test_image_smaller_than_the_crop_is_named(tmp_path):
    folder = make_celeba(tmp_path)
    Image.fromarray(np.zeros((100, 80, 3), np.uint8)).save(folder / "img_align_celeba" / "000004.jpg")
    with pytest.raises(CorruptDataError, match=r"000004.jpg \(80x100 pixels, smaller than the 148x148 crop"):
        load_celeba(tmp_path, cache_dir=tmp_path / "cache")


def test_no_training_image_present_is_a_clear_error(tmp_path):
    folder = make_celeba(tmp_path)
    for name in ("000001.jpg", "000004.jpg"):  # the two images of partition 0
        (folder / "img_align_celeba" / name).unlink()
    with pytest.raises(DataNotFoundError, match="none of the training partition"), warnings.catch_warnings():
        warnings.simplefilter("ignore", IncompleteCelebAWarning)
        load_celeba(tmp_path, cache_dir=tmp_path / "cache")


# ---------------------------------------------------------------------------------------------------------------
# Layouts people end up with
# ---------------------------------------------------------------------------------------------------------------
def test_kaggle_nested_image_folder_is_read(tmp_path):
    folder = make_celeba(tmp_path)
    images = folder / "img_align_celeba"
    nested = images / "img_align_celeba"
    nested.mkdir()
    for jpg in images.glob("*.jpg"):
        jpg.rename(nested / jpg.name)
    data = load_celeba(tmp_path, cache_dir=tmp_path / "cache")
    assert (len(data.train), len(data.val), len(data.test)) == (2, 2, 2)


def test_kaggle_csv_annotations_only_point_to_the_converter(tmp_path, monkeypatch):
    folder = make_celeba(tmp_path)
    (folder / "list_attr_celeba.txt").rename(folder / "list_attr_celeba.csv")
    with pytest.raises(DataNotFoundError, match="celeba_txt_from_csv"):
        load_celeba(tmp_path, cache_dir=tmp_path / "cache")
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path))
    found, searched = find_celeba_root()
    assert "Kaggle mirror's CSV" in searched[0]


def test_zip_that_was_not_extracted_is_pointed_out(tmp_path):
    folder = tmp_path / "celeba"
    folder.mkdir()
    (folder / "img_align_celeba.zip").write_bytes(b"PK\x03\x04")
    with pytest.raises(DataNotFoundError, match="unzip img_align_celeba.zip"):
        load_celeba(tmp_path, cache_dir=tmp_path / "cache")

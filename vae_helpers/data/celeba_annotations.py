"""CelebA's annotation files (40 attributes per image, the official partition): read, checked line by line and
matched against the images present; :func:`celeba_txt_from_csv` converts the Kaggle mirror's CSV files."""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import CorruptDataError, DataNotFoundError
from .celeba_folder import CELEBA_HOWTO, celeba_image_dir

#: Official partition codes in ``list_eval_partition.txt``.
PARTITIONS = {0: "train", 1: "valid", 2: "test"}


def celeba_txt_from_csv(folder: str | os.PathLike) -> tuple[Path, Path]:
    """Write the official ``list_attr_celeba.txt`` / ``list_eval_partition.txt`` into ``folder`` from the CSV files of
    the Kaggle mirror 'jessicali9530/celeba-dataset'; returns the two paths (CorruptDataError for a bad CSV)."""
    folder = Path(folder)
    with open(folder / "list_attr_celeba.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], [r for r in rows[1:] if r]
    if header[0] != "image_id" or any(len(r) != len(header) for r in body):
        raise CorruptDataError(
            f"{folder / 'list_attr_celeba.csv'}: expected the Kaggle layout 'image_id,<attributes>' "
            f"with {len(header)} fields on every row."
        )
    attr_path, part_path = folder / "list_attr_celeba.txt", folder / "list_eval_partition.txt"
    lines = [str(len(body)), " ".join(header[1:])] + [" ".join(r) for r in body]
    attr_path.write_text("\n".join(lines) + "\n")
    with open(folder / "list_eval_partition.csv", newline="") as handle:
        parts = [r for r in list(csv.reader(handle))[1:] if r]
    part_path.write_text("\n".join(f"{name} {int(p)}" for name, p in parts) + "\n")
    return attr_path, part_path


def _annotation_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DataNotFoundError(
            f"CelebA: {path} is missing (the annotation files are needed with the images).\nHow to fix: {CELEBA_HOWTO}"
        )
    try:
        return path.read_text().splitlines()
    except UnicodeDecodeError as err:
        raise CorruptDataError(
            f"{path}: not a text file ({err}). Delete it and fetch the official file again."
        ) from err


def read_partition(path: Path) -> dict[str, int]:
    """``list_eval_partition.txt`` as ``{filename: 0 | 1 | 2}``; a malformed line is a :class:`CorruptDataError`."""
    partition = {}
    for lineno, line in enumerate(_annotation_lines(path), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in {"0", "1", "2"}:
            raise CorruptDataError(
                f"{path}, line {lineno}: expected '<image>.jpg <partition>' with partition 0 (train), 1 (valid) or "
                f"2 (test), found {line.strip()!r}. Fetch the official list_eval_partition.txt again."
            )
        partition[parts[0]] = int(parts[1])
    return partition


def _first_bad_attribute_line(path: Path, body: list[tuple[int, str]], names: list[str]) -> None:
    """Raise the :class:`CorruptDataError` naming the first malformed row of ``list_attr_celeba.txt``."""
    for lineno, line in body:
        row = line.split()
        if len(row) != len(names) + 1:
            raise CorruptDataError(
                f"{path}, line {lineno}: {len(row)} columns, expected {len(names) + 1} (the image name and "
                f"{len(names)} attributes). Fetch the official list_attr_celeba.txt again."
            )
        for attribute, value in zip(names, row[1:]):
            if value not in {"1", "-1"}:
                raise CorruptDataError(
                    f"{path}, line {lineno}: attribute {attribute} is {value!r}; every value must be 1 or -1. "
                    "Fetch the official list_attr_celeba.txt again."
                )
    raise CorruptDataError(
        f"{path}: the attribute table does not parse. Fetch the official list_attr_celeba.txt again."
    )


def read_celeba_annotations(folder: Path) -> tuple[list[str], list[str], np.ndarray, dict[str, int]]:
    """Parse ``folder``'s annotation files: ``(filenames, attribute_names, int8 [R x 40] 0/1 attributes, {filename:
    partition})``; DataNotFoundError for a missing file, CorruptDataError naming a malformed line."""
    path = Path(folder) / "list_attr_celeba.txt"
    lines = _annotation_lines(path)
    try:
        n_rows = int(lines[0])
        names = lines[1].split()
    except (IndexError, ValueError) as err:
        raise CorruptDataError(
            f"{path}: not the official format ({err}): line 1 must be the row count and line 2 the "
            "attribute names. Fetch the official file again."
        ) from err
    body = [(i, line) for i, line in enumerate(lines[2:], 3) if line.strip()]
    if len(body) != n_rows:
        raise CorruptDataError(
            f"{path}: header announces {n_rows:,} rows of {len(names)} attributes, "
            f"found {len(body):,} rows. Fetch a fresh copy."
        )
    # Fast path: all tokens at once; the per-line check runs only when the table does not parse, to name the bad line.
    width = len(names) + 1
    tokens = "\n".join(line for _, line in body).split()
    filenames = tokens[0::width]
    del tokens[0::width]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # older NumPy warns where newer raises ValueError
            values = np.fromstring(" ".join(tokens), dtype=np.int8, sep=" ") if tokens else np.zeros(0, np.int8)
    except (ValueError, DeprecationWarning):  # a token that is not an integer
        values = None
    if (
        values is None
        or len(filenames) != len(body)
        or len(values) != len(body) * len(names)
        or not np.isin(values, (-1, 1)).all()
    ):
        _first_bad_attribute_line(path, body, names)
    attrs = (values.reshape(len(body), len(names)) > 0).astype(np.int8)
    partition = read_partition(Path(folder) / "list_eval_partition.txt")
    return filenames, names, attrs, partition


def celeba_present_by_split(folder: Path, filenames: list[str], partition: dict[str, int]) -> dict[int, list[str]]:
    """Image names present in ``folder/img_align_celeba`` by official partition (0 train, 1 valid, 2 test);
    CorruptDataError when present images have no partition line."""
    present = {p.name for p in celeba_image_dir(folder).glob("*.jpg")}
    by_split: dict[int, list[str]] = {0: [], 1: [], 2: []}
    unassigned = []
    for name in filenames:
        if name in present:
            if name in partition:
                by_split[partition[name]].append(name)
            else:
                unassigned.append(name)
    if unassigned:
        raise CorruptDataError(
            f"{Path(folder) / 'list_eval_partition.txt'}: {len(unassigned):,} images present on disk have no partition "
            f"line (first: {', '.join(unassigned[:5])}), so their split is unknown. Fetch the official "
            "list_eval_partition.txt (202,599 lines) again."
        )
    return by_split

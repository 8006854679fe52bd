"""Pretrained, verified weights: the course's model zoo (``vae_helpers/assets/zoo/``, package data).

Every model a notebook uses is trained in one place, by one :class:`Recipe` below (the model,
the dataset and split, the training config and seed), and its weights are committed as
safetensors files with a manifest, ``manifest.json``: the recipe, the sha256 of the weights file and the
metrics measured on the test set when it was saved. Each file also records, in its safetensors metadata
(plain JSON strings), the model's name, class, config, recipe and training history, and :func:`load`
compares that record with the manifest entry. A notebook asks for a model by name::

    vae, run = zoo.get("fashion-vae-d20", train=TRAIN, device=device)

With ``train=False`` (every notebook's default) :func:`load` checks the file's hash, rebuilds the
model and returns it with its training history, so loss curves and "best epoch" lines still show.
With ``train=True`` the recipe is run (:func:`train_from_recipe`: its full settings; fast mode shrinks epochs
and images as the notebooks do) and the weights are kept in the retrain cache, ``build/retrained/``,
keyed by a hash of the recipe and the mode, so a recipe that several notebooks use is trained once
(:func:`train_into_cache`; delete the file to train it again). ``python -m vae_helpers.tools.weights``
(``make weights``) retrains the zoo and rewrites the manifest.

Weights are stored as float16 (halving the files); the manifest's metrics are measured on the
float16 weights as loaded, so what a notebook prints is what the manifest says. Weights of
masked layers (:class:`~vae_helpers.models.MaskedLinear`) are stored without their masked-out
entries, and masks are rebuilt by the model. CelebA models are never here (the dataset's terms):
notebook 10 trains its own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from . import __version__
from .atomic import atomic_write_bytes
from .config import PACKAGE_DATA_DIR, REPO_ROOT, display_path, fast_mode, get_device, parse_switch
from .data import ImageDataset, load_dataset
from .errors import CacheWarning, CheckpointError, CheckpointNotFoundError, ConfigError
from .evaluation import LossFn, evaluate, score_model
from .losses import KLSchedule
from .models import BaseVAE, build_model
from .training import FitResult, TrainConfig, steps_per_epoch, train_model

ZOO_DIR: Path = PACKAGE_DATA_DIR / "zoo"
MANIFEST: Path = ZOO_DIR / "manifest.json"
#: 1: byte-shuffled xz torch pickles (``.vaezoo``); 2: safetensors with JSON metadata.
FILE_FORMAT = 2
SUFFIX = ".safetensors"
#: Keys every manifest entry must have (what :func:`load` and :func:`get` read).
ENTRY_KEYS = ("file", "sha256", "model", "epochs_run")
#: Where ``get(name, train=True)`` keeps retrained weights: ``build/retrained/`` of the course folder
#: (of the working directory when the package is installed rather than run from a clone).
RETRAIN_CACHE_DIR: Path = (
    REPO_ROOT / "build" / "retrained"
    if (REPO_ROOT / "pyproject.toml").is_file()
    else Path.cwd() / "build" / "retrained"
)
#: The fixed test subset every weights file is re-checked on (CI): its first images, z seeded with 0.
CHECK_IMAGES = 1000
#: Nats per image the re-checked ELBO may differ from the manifest (float32 sums differ between CPU kinds).
CHECK_TOLERANCE = 0.02
RETRAIN_HINT = "retrain it with `make weights NAMES={name}` (python -m vae_helpers.tools.weights {name})"


# --------------------------------------------------------------------------------------------
# Recipes: how each model of the course is made
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Recipe:
    """How one zoo model is made.

    Attributes:
        name: the zoo name, e.g. ``"fashion-vae-d20"``.
        model: the model's registry name and config fields (``{"name": "MLPVAE", "latent_dim": 20}``).
        dataset: ``"fashion-mnist"`` or ``"mnist"``; the split is the course's: 90/10 train/validation
            of the official training set (seed 0), the official test set for metrics.
        train: :class:`TrainConfig` fields of the full run (``beta`` may be ``{"linear": fraction}``
            or ``{"cyclical": n_cycles}``, turned into a :class:`KLSchedule` once the steps are known).
        train_images: training images (``None``: all 54,000).
        fast: overrides for fast mode (``VAE_FAST=1``), e.g. ``{"epochs": 2, "train_images": 4000}``.
        full_training_set: train on all 60,000 official training images and monitor on the test set
            (pytorch/examples' protocol) instead of the 54,000 / 6,000 split.
        purpose: one line for the manifest and docs/pretrained-weights.md.
        notebooks: the notebooks that use it.
    """

    name: str
    model: dict[str, Any]
    dataset: str
    train: dict[str, Any]
    purpose: str
    notebooks: tuple[str, ...]
    train_images: int | None = None
    fast: dict[str, Any] = field(default_factory=lambda: {"epochs": 2, "train_images": 4000})
    full_training_set: bool = False

    def settings(self) -> tuple[dict[str, Any], int | None]:
        """The training config fields and image count for this run (fast mode applies :attr:`fast`)."""
        train, images = dict(self.train), self.train_images
        if fast_mode():
            train.update({k: v for k, v in self.fast.items() if k != "train_images"})
            images = self.fast.get("train_images", images)
        return train, images


#: The course's budget: at most 30 epochs, early stopping on the validation loss (patience 5), the best epoch's weights.
EARLY_STOPPING = {"epochs": 30, "patience": 5, "seed": 0}


def _recipes() -> dict[str, Recipe]:
    mlp = lambda d: {"name": "MLPVAE", "latent_dim": d}  # noqa: E731
    recipes = [
        Recipe(
            "fashion-vae-d20",
            mlp(20),
            "fashion-mnist",
            EARLY_STOPPING,
            "784-400-20 VAE, the course's reference model",
            ("00", "03", "04", "05", "06", "07", "11"),
        ),
        Recipe(
            "fashion-vae-d20-mean-bce",
            mlp(20),
            "fashion-mnist",
            {**EARLY_STOPPING, "beta": 784.0},
            "the 784-400-20 VAE trained with BCE averaged over pixels (the pitfall: beta = 784)",
            ("03",),
        ),
        Recipe(
            "fashion-ae-d20",
            {"name": "AE", "latent_dim": 20},
            "fashion-mnist",
            EARLY_STOPPING,
            "784-400-20 deterministic autoencoder",
            ("01", "05", "11"),
        ),
        Recipe(
            "fashion-ae-d2",
            {"name": "AE", "latent_dim": 2},
            "fashion-mnist",
            EARLY_STOPPING,
            "784-400-2 deterministic autoencoder",
            ("01", "05"),
        ),
        Recipe(
            "mnist-vae-d20",
            mlp(20),
            "mnist",
            {"epochs": 10, "seed": 1},
            "pytorch/examples' setting: 784-400-20 on all 60,000 MNIST images, 10 epochs, seed 1",
            ("11",),
            full_training_set=True,
        ),
        Recipe(
            "fashion-conv-vae-d20",
            {"name": "ConvVAE", "latent_dim": 20},
            "fashion-mnist",
            EARLY_STOPPING,
            "conv VAE (2 stride-2 convs, fc 256, D=20)",
            ("06",),
        ),
    ]
    for d in (2, 5, 10, 50, 100):
        used = ("05", "07", "11") if d == 2 else ("07", "08", "09") if d == 10 else ("07",)
        recipes.append(
            Recipe(
                f"fashion-vae-d{d}",
                mlp(d),
                "fashion-mnist",
                EARLY_STOPPING,
                f"784-400-{d} VAE (latent-size study)",
                used,
            )
        )
    for beta in (0.5, 2.0, 4.0, 8.0):
        recipes.append(
            Recipe(
                f"fashion-beta-vae-d10-beta{beta:g}",
                mlp(10),
                "fashion-mnist",
                {**EARLY_STOPPING, "beta": beta},
                f"784-400-10 beta-VAE, beta = {beta:g}",
                ("08",),
            )
        )
    collapse = {"epochs": 12, "seed": 0, "lr": 3e-3}  # a fast-learning decoder: "none" collapses (KL < 0.3 nats)
    ar = {"name": "AutoregressiveVAE", "latent_dim": 20}
    for run, extra in (
        ("none", {}),
        ("linear", {"beta": {"linear": 0.5}}),
        ("cyclical", {"beta": {"cyclical": 4}}),
        ("free-bits", {"free_bits": 0.25}),
    ):
        recipes.append(
            Recipe(
                f"fashion-ar-vae-{run}",
                ar,
                "fashion-mnist",
                {**collapse, **extra},
                f"VAE with an autoregressive decoder, KL annealing: {run}",
                ("09",),
                train_images=30000,
            )
        )
    recipes += [
        Recipe(
            "fashion-cvae-d10",
            {"name": "ConditionalVAE", "latent_dim": 10},
            "fashion-mnist",
            EARLY_STOPPING,
            "conditional VAE (label into encoder and decoder), D=10",
            ("09",),
        ),
        Recipe(
            "fashion-vae-d10-gauss-mse",
            mlp(10),
            "fashion-mnist",
            {**EARLY_STOPPING, "likelihood": "gaussian", "sigma": math.sqrt(0.5)},
            "784-400-10 VAE with a Gaussian decoder, sigma^2 = 1/2 (MSE)",
            ("08",),
        ),
        Recipe(
            "fashion-vae-d10-gauss-0.1",
            mlp(10),
            "fashion-mnist",
            {**EARLY_STOPPING, "likelihood": "gaussian", "sigma": 0.1},
            "784-400-10 VAE with a Gaussian decoder, sigma = 0.1",
            ("08",),
        ),
    ]
    return {r.name: r for r in recipes}


RECIPES: dict[str, Recipe] = _recipes()


def recipe(name: str) -> Recipe:
    """The recipe called ``name``; a typo gets the list of names."""
    if name not in RECIPES:
        raise ConfigError(f"No zoo model {name!r}. The zoo has: {', '.join(RECIPES)}.")
    return RECIPES[name]


# --------------------------------------------------------------------------------------------
# Train, save, load
# --------------------------------------------------------------------------------------------
@dataclass
class Pretrained:
    """A zoo model ready to use: ``model`` (eval mode), ``run`` (its training history as a
    :class:`FitResult`), and ``entry`` (its manifest entry; empty for a model just trained)."""

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
    """The recipe's model, or the same architecture as ``model_class`` (a subclass, e.g. a student's own
    ``ConditionalVAE`` whose ``encode``/``decode`` an exercise fills in)."""
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

    ``loss_fn`` and ``overrides`` (``TrainConfig`` fields, e.g. ``beta=`` a schedule function) let an
    exercise train the recipe's model on the same data and budget with the student's own loss or schedule;
    ``model_class`` (a subclass of the recipe's class) trains the student's own model.
    """
    r = recipe(name)
    _, data = dataset_for(r)
    config = replace(train_config(r, len(data.train)), progress=progress, **overrides)
    model, run = train_model(lambda: _builder(r.model, model_class), data, config, device=device, loss_fn=loss_fn)
    run.extra["train_images"] = len(data.train)
    return Pretrained(model, run)


def _state_to_store(model: BaseVAE) -> tuple[dict[str, torch.Tensor], list[str]]:
    """float16 weights; a masked layer's weight keeps only its unmasked entries; masks are dropped."""
    state = model.state_dict()
    stored, packed = {}, []
    for key, value in state.items():
        if key.endswith("mask"):
            continue  # rebuilt by the model's constructor
        mask_key = key.rsplit(".", 1)[0] + ".mask" if "." in key else "mask"
        if key.endswith("weight") and mask_key in state:
            value, _ = value[state[mask_key].bool()], packed.append(key)
        stored[key] = value.detach().cpu().to(torch.float16) if value.is_floating_point() else value.detach().cpu()
    return stored, packed


def _load_stored(model: BaseVAE, stored: dict[str, torch.Tensor], packed: list[str]) -> None:
    state = model.state_dict()
    full = {}
    for key, target in state.items():
        if key.endswith("mask"):
            full[key] = target
        elif key in packed:
            weight = torch.zeros_like(target)
            weight[state[key.rsplit(".", 1)[0] + ".mask"].bool()] = stored[key].to(target.dtype)
            full[key] = weight
        else:
            full[key] = stored[key].to(target.dtype)
    model.load_state_dict(full)


def recipe_record(r: Recipe) -> dict[str, Any]:
    """The recipe as plain JSON data (what the weights files record)."""
    return json.loads(json.dumps(dataclasses.asdict(r)))


def _file_metadata(name: str, model: BaseVAE, run: FitResult, packed: list[str]) -> dict[str, Any]:
    """What a weights file records besides its tensors: plain data only, stored as JSON strings."""
    return {
        "format": FILE_FORMAT,
        "package_version": __version__,
        "name": name,
        "model_class": type(model).__name__,
        "model_config": model.config(),
        "recipe": recipe_record(recipe(name)),
        "packed": packed,
        "training": {
            "history": run.history,
            "best_epoch": run.best_epoch,
            "best_val": run.best_val,
            "stopped": run.stopped,
            "device": run.device,
        },
    }


def save(name: str, trained: Pretrained, metrics: dict[str, float], seconds: float) -> dict[str, Any]:
    """Write ``<ZOO_DIR>/<name>.safetensors`` and return its manifest entry (hash, recipe, metrics, history summary)."""
    r = recipe(name)
    stored, packed = _state_to_store(trained.model)
    run = trained.run
    path = ZOO_DIR / f"{name}{SUFFIX}"
    write_file(path, stored, _file_metadata(name, trained.model, run, packed))
    return {
        "file": path.name,
        "sha256": sha256(path),
        "bytes": path.stat().st_size,
        "dtype": "float16",
        "model": trained.model.config(),
        "parameters": trained.model.num_parameters(),
        "dataset": r.dataset,
        "split": "train: 90% of the official training set (seed 0), validation 10%; metrics: official test set",
        "train_images": r.train_images,
        "train_config": r.train,
        "seed": r.train.get("seed", 0),
        "purpose": r.purpose,
        "notebooks": list(r.notebooks),
        "epochs_run": len(run.history["epoch"]),
        "best_epoch": run.best_epoch,
        "stopped": run.stopped,
        "train_seconds": round(seconds, 1),
        "trained_on": run.device,
        "metrics": metrics,
    }


# --------------------------------------------------------------------------------------------
# The file format: safetensors, with the model's record as JSON strings in its metadata
# --------------------------------------------------------------------------------------------
def write_file(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
    """Write ``tensors`` with ``metadata`` (plain JSON-able values, each stored as a JSON string) atomically
    to ``path`` as safetensors."""
    tensors = {key: value.detach().cpu().contiguous() for key, value in tensors.items()}
    data = safetensors_bytes(tensors, metadata={key: json.dumps(value) for key, value in metadata.items()})
    atomic_write_bytes(path, data)


def read_file(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(tensors, metadata)`` of a weights file (safetensors: loading it can never run code); a foreign,
    cut or damaged file is a :class:`CheckpointError`."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            raw = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        metadata = {key: json.loads(value) for key, value in raw.items()}
    except (SafetensorError, OSError, ValueError) as err:  # ValueError: metadata that is not JSON
        raise CheckpointError(
            f"{path} is not a readable vae_helpers weights file (safetensors with JSON metadata): {err}. "
            "Restore it (git checkout, or reinstall vae_helpers) or retrain it with `make weights`."
        ) from err
    return tensors, metadata


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _restore_hint(path: Path) -> str:
    """How to get a committed zoo file back: ``git checkout`` in a clone, or reinstall the package."""
    return f"`git checkout -- {display_path(path)}` in a clone of the course, or reinstall vae_helpers"


def read_manifest() -> dict[str, Any]:
    """The zoo manifest as a dict (``{"models": {name: entry}}``)."""
    if not MANIFEST.is_file():
        raise CheckpointNotFoundError(
            f"The zoo manifest {MANIFEST} is missing: restore it ({_restore_hint(MANIFEST)}), "
            "or retrain the zoo with `make weights`."
        )
    try:
        return json.loads(MANIFEST.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(
            f"The zoo manifest {MANIFEST} is not valid JSON ({err}); restore it ({_restore_hint(MANIFEST)}) "
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
    """The verified zoo model ``name``: the file's sha256 must equal the manifest's, and the file's own record
    of its model name and config must match the entry; the model is rebuilt from its config, on ``device``
    (default :func:`get_device`), in eval mode, with its training history."""
    return load_file(name, entry(name), device, model_class)


def _check_entry(name: str, info: Any) -> None:
    """Refuse a manifest entry that lacks a key :func:`load_file` reads, naming the entry, the key and the fix."""
    if not isinstance(info, dict):
        raise CheckpointError(
            f"The zoo manifest's entry {name!r} ({MANIFEST}) is {type(info).__name__}, not a JSON object: restore "
            f"the manifest ({_restore_hint(MANIFEST)}), or {RETRAIN_HINT.format(name=name)}."
        )
    missing = [key for key in ENTRY_KEYS if key not in info]
    if missing:
        raise CheckpointError(
            f"The zoo manifest's entry {name!r} ({MANIFEST}) lacks {', '.join(map(repr, missing))} (every entry needs "
            f"{', '.join(ENTRY_KEYS)}): the manifest was edited by hand or cut. Restore it "
            f"({_restore_hint(MANIFEST)}), or {RETRAIN_HINT.format(name=name)}, which rewrites the entry."
        )


def _check_record(name: str, info: dict[str, Any], path: Path, metadata: dict[str, Any]) -> None:
    """The file's own record (name, class, config) must be the entry's and the recipe's."""
    fix = f"Restore the manifest and the file ({_restore_hint(MANIFEST)}), or {RETRAIN_HINT.format(name=name)}."
    if metadata.get("format", 0) > FILE_FORMAT:
        raise CheckpointError(
            f"{path} has zoo format {metadata['format']}; this package reads {FILE_FORMAT}. "
            "Update the course (git pull, then make setup)."
        )
    recorded = metadata.get("name")
    if recorded != name:
        raise CheckpointError(
            f"The zoo manifest's entry {name!r} points at {path.name}, but that file holds {recorded!r}: the manifest "
            f"was edited or mixed up, and loading it would give another model under this name. {fix}"
        )
    config = metadata.get("model_config")
    wanted = recipe(name).model
    if (
        config != info["model"]
        or metadata.get("model_class") != wanted["name"]
        or any(config.get(key) != value for key, value in wanted.items())
    ):
        raise CheckpointError(
            f"{path.name} records the model {metadata.get('model_class')!r} {config}, but the manifest entry "
            f"{name!r} says {info['model']} and its recipe {wanted}: they must agree. {fix}"
        )


def load_file(
    name: str, info: dict[str, Any], device: torch.device | str | None = None, model_class: type[BaseVAE] | None = None
) -> Pretrained:
    """:func:`load` with the manifest entry ``info`` given (the retrain tool measures a file before it enters the manifest)."""
    _check_entry(name, info)
    path = ZOO_DIR / info["file"]
    fix = RETRAIN_HINT.format(name=name)
    if not path.is_file():
        raise CheckpointNotFoundError(
            f"The weights of {name!r} ({path}) are missing: restore them ({_restore_hint(path)}), "
            f"or {fix}; or set TRAIN = True."
        )
    found = sha256(path)
    if found != info["sha256"]:
        raise CheckpointError(
            f"{path} does not match its manifest entry (sha256 {found[:12]}..., expected "
            f"{str(info['sha256'])[:12]}...): it was changed or damaged. Restore it ({_restore_hint(path)}), or {fix}."
        )
    stored, metadata = read_file(path)
    _check_record(name, info, path, metadata)
    model = _builder(metadata["model_config"], model_class)
    _load_stored(model, stored, metadata["packed"])
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


# --------------------------------------------------------------------------------------------
# The retrain cache: each recipe trained once, kept as safetensors under build/retrained/
# --------------------------------------------------------------------------------------------
def recipe_key(name: str) -> str:
    """A hash of the recipe ``name`` and the mode (fast or full): a changed recipe or mode never reuses a run."""
    record = {k: v for k, v in recipe_record(recipe(name)).items() if k not in ("notebooks", "purpose")}  # docs only
    settings = json.dumps({"recipe": record, "fast": fast_mode()}, sort_keys=True)
    return hashlib.sha256(settings.encode()).hexdigest()[:16]


def retrain_cache_file(name: str) -> Path:
    """Where ``get(name, train=True)`` keeps the weights of a run of the recipe ``name`` in the current mode."""
    return RETRAIN_CACHE_DIR / f"{name}-{recipe_key(name)}{SUFFIX}"


def _tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over the tensors' names, dtypes, shapes and bytes (the retrain cache's check, which has no manifest)."""
    digest = hashlib.sha256()
    for key in sorted(tensors):
        value = tensors[key].detach().cpu().contiguous()
        digest.update(f"{key}|{value.dtype}|{tuple(value.shape)}|".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def train_into_cache(name: str, device: torch.device | str | None = None) -> Pretrained:
    """Train the recipe ``name`` (:func:`train_from_recipe`) and keep its weights in :func:`retrain_cache_file`,
    replacing any earlier run there. The course runner pre-trains shared recipes with it."""
    trained = train_from_recipe(name, device=device)
    state = {key: value.detach().cpu() for key, value in trained.model.state_dict().items()}
    metadata = _file_metadata(name, trained.model, trained.run, packed=[])
    metadata.update(
        recipe_key=recipe_key(name),
        tensors_sha256=_tensors_digest(state),
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
    """The cached run of the recipe ``name`` in the current mode, verified (its recipe hash, model name, config
    and tensors digest), or None when there is none. A damaged or foreign file is reported and ignored."""
    path = retrain_cache_file(name)
    if not path.is_file():
        return None
    try:
        state, metadata = read_file(path)
        if metadata.get("name") != name or metadata.get("recipe_key") != recipe_key(name):
            raise CheckpointError(f"it holds {metadata.get('name')!r} with recipe hash {metadata.get('recipe_key')!r}")
        if metadata.get("tensors_sha256") != _tensors_digest(state):
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
    """What the notebooks call: the verified pretrained model (``train=False``) or a run of its recipe
    (``train=True``; ``loss_fn`` and ``overrides`` as :func:`train_from_recipe`, used only then). ``model_class``
    (a subclass of the recipe's class) is built instead of the recipe's class, to train or to load into.

    With ``train=True`` and the recipe as it is (no ``loss_fn``, ``model_class`` or ``overrides``), a run kept
    in the retrain cache (:func:`retrain_cache_file`, ``build/retrained/``) is reused; otherwise the recipe is
    trained and kept there (:func:`train_into_cache`). Delete the file to train it again.
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


def measure(model: BaseVAE, name: str) -> dict[str, float]:
    """The manifest's metrics of a zoo model, on its dataset's test set: ELBO, recon, KL, MSE, active units,
    and ``check ELBO``, the ELBO on the first :data:`CHECK_IMAGES` test images that CI recomputes."""
    r = recipe(name)
    test = load_dataset(r.dataset).test
    likelihood = r.train.get("likelihood", "bernoulli")
    sigma = r.train.get("sigma", 1.0)
    metrics = score_model(model, test, likelihood=likelihood, sigma=sigma)
    metrics["check ELBO"] = evaluate(model, test.head(CHECK_IMAGES), likelihood, sigma=sigma, with_mse=False).elbo
    return {k: (round(float(v), 4) if not isinstance(v, int) else v) for k, v in metrics.items()}


__all__ = [
    "RECIPES",
    "Recipe",
    "Pretrained",
    "get",
    "load",
    "train_from_recipe",
    "train_into_cache",
    "retrain_cache_file",
    "save",
    "measure",
    "entry",
    "read_manifest",
    "recipe",
]

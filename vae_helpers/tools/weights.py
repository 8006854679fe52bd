"""Retrain the model zoo and rewrite its manifest: ``python -m vae_helpers.tools.weights [names...]`` (``make weights``).

Each model is trained by its recipe (:data:`vae_helpers.zoo.RECIPES`), in full size whatever ``VAE_FAST``
says, saved as float16 safetensors into ``vae_helpers/assets/zoo/<name>.safetensors`` (package data), measured on its
test set *as loaded back* (so the manifest holds what a notebook that loads it will print), and entered into
``vae_helpers/assets/zoo/manifest.json`` with its sha256. A progress bar per model shows the epochs.
Names filter by substring (``fashion-vae`` trains every Fashion-MNIST MLP VAE); ``--list`` prints the recipes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import torch

from .. import zoo
from ..atomic import atomic_write_bytes
from ..config import get_device
from ..data import load_dataset
from ..evaluation import evaluate, score_model
from ..models import BaseVAE
from ..zoo_files import SUFFIX, file_metadata, sha256, write_file
from ..zoo_recipes import recipe


def state_to_store(model: BaseVAE) -> tuple[dict[str, torch.Tensor], list[str]]:
    """``(float16 weights, packed keys)``: a masked weight keeps only its unmasked entries; masks are dropped."""
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


def save(name: str, trained: zoo.Pretrained, metrics: dict[str, float], seconds: float) -> dict[str, Any]:
    """Write ``<zoo.ZOO_DIR>/<name>.safetensors`` and return its manifest entry (hash, recipe, metrics, history
    summary)."""
    r = recipe(name)
    stored, packed = state_to_store(trained.model)
    run = trained.run
    path = zoo.ZOO_DIR / f"{name}{SUFFIX}"
    write_file(path, stored, file_metadata(name, trained.model, run, packed))
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


def measure(model: BaseVAE, name: str) -> dict[str, float]:
    """The manifest's test-set metrics of a zoo model, with ``check ELBO`` on the first
    :data:`vae_helpers.zoo.CHECK_IMAGES` test images."""
    r = recipe(name)
    test = load_dataset(r.dataset).test
    likelihood = r.train.get("likelihood", "bernoulli")
    sigma = r.train.get("sigma", 1.0)
    metrics = score_model(model, test, likelihood=likelihood, sigma=sigma)
    metrics["check ELBO"] = evaluate(model, test.head(zoo.CHECK_IMAGES), likelihood, sigma=sigma, with_mse=False).elbo
    return {k: (round(float(v), 4) if not isinstance(v, int) else v) for k, v in metrics.items()}


def manifest_table() -> str:
    """The zoo table of docs/pretrained-weights.md, built from the manifest (tests/test_zoo.py checks it is there)."""
    models = zoo.read_manifest()["models"]
    lines = [
        "| model | class, D | notebooks | epochs (best) | test ELBO | recon | KL | active units | MB |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, e in models.items():
        m = e["metrics"]
        elbo = f"{m['ELBO']:.2f}" if zoo.recipe(name).model["name"] != "AE" else "(no KL)"
        lines.append(
            f"| `{name}` | {e['model']['name']}, {e['model']['latent_dim']} | {', '.join(e['notebooks'])} | "
            f"{e['epochs_run']} ({e['best_epoch']}) | {elbo} | {m['recon']:.2f} | {m['KL']:.2f} | "
            f"{m.get('active units', '-')} | {e['bytes'] / 1e6:.2f} |"
        )
    total = sum(e["bytes"] for e in models.values())
    lines.append(
        f"\n{len(models)} models, {total / 1e6:.1f} MB; nats per image on the official test set (10,000 images), "
        "measured on the float16 weights as loaded."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="only recipes whose name contains one of these")
    parser.add_argument("--list", action="store_true", help="print the recipes and exit")
    parser.add_argument("--table", action="store_true", help="print the zoo table of docs/pretrained-weights.md")
    args = parser.parse_args(argv)
    if args.table:
        print(manifest_table())
        return 0
    names = [n for n in zoo.RECIPES if not args.names or any(s in n for s in args.names)]
    if args.list:
        for name in names:
            r = zoo.RECIPES[name]
            print(f"{name:34s} {r.model['name']:18s} {r.dataset:14s} notebooks {','.join(r.notebooks):12s} {r.purpose}")
        return 0
    if not names:
        print(f"No recipe matches {args.names}; see --list.", file=sys.stderr)
        return 2
    os.environ["VAE_FAST"] = "0"  # the zoo is always the full recipe
    manifest = json.loads(zoo.MANIFEST.read_text()) if zoo.MANIFEST.is_file() else {"models": {}}
    device = get_device()
    print(f"Training {len(names)} zoo model(s) on {device}: {', '.join(names)}")
    total = time.perf_counter()
    for name in names:
        started = time.perf_counter()
        trained = zoo.train_from_recipe(name, device=device, progress=True)
        seconds = time.perf_counter() - started
        zoo.ZOO_DIR.mkdir(parents=True, exist_ok=True)
        info = save(name, trained, {}, seconds)
        loaded = zoo.load_file(name, info)  # measure the float16 weights as a notebook will load them
        info["metrics"] = measure(loaded.model, name)
        manifest["models"][name] = info
        manifest["models"] = {k: manifest["models"][k] for k in zoo.RECIPES if k in manifest["models"]}
        manifest.update(
            {"format": zoo.FILE_FORMAT, "check_images": zoo.CHECK_IMAGES, "check_tolerance": zoo.CHECK_TOLERANCE}
        )
        atomic_write_bytes(zoo.MANIFEST, (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode())
        m = info["metrics"]
        print(
            f"{name}: {info['epochs_run']} epochs (best {info['best_epoch']}), {seconds:.0f} s; test ELBO {m['ELBO']:.2f}, "
            f"KL {m['KL']:.2f}; {info['bytes'] / 1e6:.2f} MB",
            flush=True,
        )
    size = sum(e["bytes"] for e in manifest["models"].values())
    print(
        f"Done in {time.perf_counter() - total:.0f} s; the zoo holds {len(manifest['models'])} models, {size / 1e6:.1f} MB."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

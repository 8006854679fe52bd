"""The course's main job: execute every notebook headless, in order, and report.

``python -m vae_helpers.tools.course`` (what ``make course`` runs) executes ``notebooks/NN_*.ipynb``
with papermill into ``build/course/`` (executed copies a person can open) while the notebooks
save their figures into ``assets/figures/``.  A notebook whose metadata says it needs a dataset
that is absent (``"vae_course": {"requires": ["celeba"]}``) is skipped with instructions, unless
``CI=true``, where missing data is an error.

Options: ``--fast`` (same as ``VAE_FAST=1``), ``--in-place`` (write the outputs back into
``notebooks/``: how maintainers refresh the committed outputs), and notebook name filters.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from ..config import REPO_ROOT, fast_mode, in_ci
from ..data import DataNotFoundError, load_dataset
from ..plots import figure_dir

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
OUTPUT_DIR = REPO_ROOT / "build" / "course"


def course_notebooks(patterns: list[str] | None = None) -> list[Path]:
    """Numbered notebooks (``NN_topic.ipynb``) in course order, optionally filtered by substrings."""
    books = sorted(p for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if patterns:
        books = [p for p in books if any(s in p.name for s in patterns)]
    return books


def missing_requirements(notebook: Path) -> list[str]:
    """Datasets the notebook declares in its metadata that cannot be found, each with the error text."""
    meta = json.loads(notebook.read_text()).get("metadata", {}).get("vae_course", {})
    missing = []
    for name in meta.get("requires", []):
        try:
            load_dataset(name, **({"max_per_split": 1} if name == "celeba" else {}))
        except DataNotFoundError as err:
            missing.append(f"{name}: {err}")
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="only notebooks whose file name contains one of these")
    parser.add_argument("--fast", action="store_true", help="fast mode (VAE_FAST=1)")
    parser.add_argument("--in-place", action="store_true", help="write executed notebooks back into notebooks/")
    args = parser.parse_args(argv)
    if args.fast:
        os.environ["VAE_FAST"] = "1"
    import papermill

    out_dir = NOTEBOOK_DIR if args.in_place else OUTPUT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, failed = [], False
    for notebook in course_notebooks(args.names):
        missing = missing_requirements(notebook)
        if missing:
            if in_ci():
                print(f"FAILED {notebook.name}: missing data under CI\n" + "\n".join(missing))
                rows.append((notebook.name, "missing data", 0.0))
                failed = True
                continue
            print(f"SKIPPED {notebook.name}: it needs data that is not here.\n" + "\n".join(missing) + "\n")
            rows.append((notebook.name, "skipped (no data)", 0.0))
            continue
        print(f"Running {notebook.name} ...", flush=True)
        started = time.perf_counter()
        try:
            papermill.execute_notebook(str(notebook), str(out_dir / notebook.name), cwd=str(NOTEBOOK_DIR),
                                       kernel_name="python3", progress_bar=False)
            status = "ok"
        except Exception as err:  # papermill raises PapermillExecutionError with the cell's traceback
            status, failed = "FAILED", True
            print(f"{notebook.name} failed:\n{err}", file=sys.stderr)
        rows.append((notebook.name, status, time.perf_counter() - started))
    mode = "fast" if fast_mode() else "full"
    print(f"\nCourse run ({mode} mode); executed notebooks in {out_dir}, figures in {figure_dir()}")
    print("| notebook | status | seconds |\n| --- | --- | ---: |")
    for name, status, seconds in rows:
        print(f"| {name} | {status} | {seconds:.1f} |")
    if not rows:
        print("No notebooks found in notebooks/.")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

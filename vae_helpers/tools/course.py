"""The course's main job: execute every notebook headless, in order, and report.

``python -m vae_helpers.tools.course`` (what ``make course`` runs) executes ``notebooks/NN_*.ipynb``
with papermill into ``build/course/`` (executed copies a person can open) while the notebooks
save their figures into ``assets/figures/``.  A notebook whose metadata says it needs a dataset
that is absent (``"vae_course": {"requires": ["celeba"]}``) is skipped with instructions, unless
``CI=true``, where missing data is an error. A dataset whose files are damaged, or a notebook that
raises, is reported by name and the run goes on with the other notebooks; the exit status is 1
when anything failed. Kernels talk to the runner over IPC sockets (TCP on Windows), which also keeps
jupyter's "Kernel is running over TCP without encryption" warning out of the log.

Options: ``--fast`` (same as ``VAE_FAST=1``), ``--in-place`` (write the outputs back into
``notebooks/``: how maintainers refresh the committed outputs), ``--train`` (the retrain path: papermill
sets ``TRAIN = True``, so every model is trained by its zoo recipe instead of loaded), ``--out DIR``, and
notebook name filters. ``make test`` runs ``--fast --train`` once, so the retrain path cannot rot.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from ..config import REPO_ROOT, fast_mode, figure_dir, in_ci
from ..data import load_dataset
from ..errors import CorruptDataError, DataNotFoundError

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
OUTPUT_DIR = REPO_ROOT / "build" / "course"


def course_notebooks(patterns: list[str] | None = None) -> list[Path]:
    """Numbered notebooks (``NN_topic.ipynb``) in course order, optionally filtered by substrings."""
    books = sorted(p for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if patterns:
        books = [p for p in books if any(s in p.name for s in patterns)]
    return books


def data_problems(notebook: Path) -> dict[str, list[str]]:
    """The datasets a notebook declares in its metadata (``"vae_course": {"requires": [...]}``) that
    cannot be used: ``{"missing": [...], "corrupt": [...]}``, one ``"<dataset>: <error text>"`` line each.

    Every declared dataset is checked, also after one fails; the error texts name the files.
    """
    meta = json.loads(notebook.read_text()).get("metadata", {}).get("vae_course", {})
    problems: dict[str, list[str]] = {"missing": [], "corrupt": []}
    for name in meta.get("requires", []):
        try:
            load_dataset(name, **({"max_per_split": 1} if name == "celeba" else {}))
        except DataNotFoundError as err:
            problems["missing"].append(f"{name}: {err}")
        except CorruptDataError as err:
            problems["corrupt"].append(f"{name}: damaged data: {err}")
    return problems


def missing_requirements(notebook: Path) -> list[str]:
    """Declared datasets that cannot be used (absent or damaged), each with its error text (see :func:`data_problems`)."""
    problems = data_problems(notebook)
    return problems["missing"] + problems["corrupt"]


def kernel_config():
    """Configuration for the kernels papermill starts: IPC transport where the OS has it (not Windows).

    Over TCP, ipykernel logs "Kernel is running over TCP without encryption" at every start; local
    IPC sockets are the transport it recommends, and they are only reachable by this user.
    """
    from traitlets.config import Config

    return Config({"KernelManager": {"transport": "ipc"}}) if os.name != "nt" else Config()


def _short_error(err: Exception) -> str:
    """``ExceptionName: message`` of the notebook's own error (papermill's ``ename``/``evalue``) or of ``err``."""
    ename, evalue = getattr(err, "ename", None), getattr(err, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    return f"{type(err).__name__}: {err}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="only notebooks whose file name contains one of these")
    parser.add_argument("--fast", action="store_true", help="fast mode (VAE_FAST=1)")
    parser.add_argument("--in-place", action="store_true", help="write executed notebooks back into notebooks/")
    parser.add_argument(
        "--train",
        action="store_true",
        help="the retrain path: TRAIN = True in every notebook (train each model by its recipe)",
    )
    parser.add_argument("--out", help="folder for the executed notebooks (default build/course)")
    args = parser.parse_args(argv)
    if args.fast:
        os.environ["VAE_FAST"] = "1"
    import papermill

    # papermill reads the parameters cell to type what it injects and warns about every line that is a call
    # (config.pick(...)): noise, since every injected value here (TRAIN) is a plain literal.
    logging.getLogger("papermill.translators").setLevel(logging.ERROR)

    out_dir = NOTEBOOK_DIR if args.in_place else Path(args.out) if args.out else OUTPUT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, float]] = []
    failures: list[str] = []
    for notebook in course_notebooks(args.names):
        problems = data_problems(notebook)
        if problems["corrupt"]:
            print(
                f"FAILED {notebook.name}: a dataset it needs is damaged (the other notebooks still run).\n"
                + "\n".join(problems["corrupt"] + problems["missing"])
                + "\n"
            )
            rows.append((notebook.name, "FAILED (damaged data)", 0.0))
            failures.append(f"{notebook.name}: " + "; ".join(problems["corrupt"]))
            continue
        if problems["missing"]:
            if in_ci():
                print(f"FAILED {notebook.name}: missing data under CI\n" + "\n".join(problems["missing"]))
                rows.append((notebook.name, "missing data", 0.0))
                failures.append(f"{notebook.name}: missing data under CI")
                continue
            print(f"SKIPPED {notebook.name}: it needs data that is not here.\n" + "\n".join(problems["missing"]) + "\n")
            rows.append((notebook.name, "skipped (no data)", 0.0))
            continue
        print(f"Running {notebook.name} ...", flush=True)
        started = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(notebook),
                str(out_dir / notebook.name),
                cwd=str(NOTEBOOK_DIR),
                kernel_name="python3",
                parameters={"TRAIN": True} if args.train else {},
                progress_bar=False,
                config=kernel_config(),
            )
            status = "ok"
        except Exception as err:  # papermill raises PapermillExecutionError with the cell's traceback
            status = "FAILED"
            failures.append(f"{notebook.name}: {_short_error(err)}")
            print(f"{notebook.name} failed (the other notebooks still run):\n{err}", file=sys.stderr, flush=True)
        rows.append((notebook.name, status, time.perf_counter() - started))
    if not rows:
        print("No notebooks found in notebooks/" + (f" matching {args.names}." if args.names else "."))
        return 1

    mode = ("fast" if fast_mode() else "full") + (
        ", retrain path (TRAIN = True)" if args.train else ", pretrained weights"
    )
    print(f"\nCourse run ({mode} mode); executed notebooks in {out_dir}, figures in {figure_dir()}")
    print("| notebook | status | seconds |\n| --- | --- | ---: |")
    for name, status, seconds in rows:
        print(f"| {name} | {status} | {seconds:.1f} |")
    if failures:
        print(f"\n{len(failures)} notebook(s) failed; the executed copies in {out_dir} show the failing cell:")
        print("\n".join(f"* {line}" for line in failures))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

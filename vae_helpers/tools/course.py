"""The course's main job: execute every notebook headless, in order, and report.

``python -m vae_helpers.tools.course`` (what ``make course`` runs) executes ``notebooks/NN_*.ipynb``
with papermill into ``build/course/`` (executed copies a person can open) while the notebooks
save their figures into ``assets/figures/``.  A notebook whose metadata says it needs a dataset
that is absent (``"vae_course": {"requires": ["celeba"]}``) is skipped with instructions, unless
``CI=true``, where missing data is an error. A dataset whose files are damaged, or a notebook that
raises, is reported by name and the run goes on with the other notebooks; the exit status is 1
when anything failed. Kernels talk to the runner over IPC sockets (TCP on Windows), which also keeps
jupyter's "Kernel is running over TCP without encryption" warning out of the log. The executed copies
never carry the machine's paths: :func:`scrub_machine_paths` rewrites them relative to the course folder
(``tests/test_notebook_outputs.py`` checks the committed notebooks for them).

Options: ``--fast`` (same as ``VAE_FAST=1``), ``--in-place`` (write the outputs back into
``notebooks/``: how maintainers refresh the committed outputs), ``--train`` (the retrain path: papermill
sets ``TRAIN = True``, so every model is trained by its zoo recipe instead of loaded; a recipe that several
notebooks use is trained once per run, by the first of them, and reused by the others), ``--out DIR``, and
notebook name filters. ``make test`` runs ``--fast --train`` once, so the retrain path cannot rot.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from ..config import REPO_ROOT, fast_mode, figure_dir, in_ci
from ..data import load_dataset
from ..errors import CorruptDataError, DataNotFoundError
from ..zoo import RETRAIN_CACHE_ENV

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
OUTPUT_DIR = REPO_ROOT / "build" / "course"


def _path_replacements() -> list[tuple[re.Pattern[str], str]]:
    """(pattern, replacement) pairs, most specific first: the course folder, the folder beside it, home, temp."""
    pairs = [
        (str(REPO_ROOT) + os.sep, ""),
        (str(REPO_ROOT), "."),
        (str(REPO_ROOT.parent) + os.sep, ".." + os.sep),
        (str(Path.home()) + os.sep, "~" + os.sep),
    ]
    patterns = [(re.compile(re.escape(old)), new) for old, new in pairs if len(old) > 1]
    # A temporary file (a kernel's connection file in a warning, a test's folder): its name says nothing.
    temp = re.escape(tempfile.gettempdir().rstrip(os.sep))
    patterns.append((re.compile(temp + r"(?![\w.+-])(?:[\\/][\w.+-]+)*"), "<tmp>"))
    return patterns


def scrub_machine_paths(nb: nbformat.NotebookNode) -> int:
    """Rewrite the machine's absolute paths in ``nb``'s outputs (in place); return how many were rewritten.

    Paths inside the course folder become relative to it, the folder beside it ``../``, the home
    folder ``~``, and temporary files ``<tmp>``. The sources are left alone.
    """
    patterns = _path_replacements()
    count = 0

    def scrub(text: str) -> str:
        nonlocal count
        for pattern, new in patterns:
            text, n = pattern.subn(lambda _match, new=new: new, text)
            count += n
        return text

    def scrub_value(value):
        if isinstance(value, str):
            return scrub(value)
        if isinstance(value, list):
            return [scrub_value(v) for v in value]
        return value

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = scrub_value(output["text"])
            if "traceback" in output:
                output["traceback"] = scrub_value(output["traceback"])
            if "evalue" in output:
                output["evalue"] = scrub_value(output["evalue"])
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/"):
                    output["data"][mime] = scrub_value(value)
    return count


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

    if args.train:  # each recipe is trained once per run, by the first notebook that asks (see zoo.get)
        retrained = tempfile.TemporaryDirectory(prefix="vae-retrained-")
        os.environ[RETRAIN_CACHE_ENV] = retrained.name
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
        os.environ["VAE_COURSE_NOTEBOOK"] = notebook.name  # its kernel inherits the environment
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
        executed = out_dir / notebook.name
        if executed.exists():  # also after a failure: the copy with the failing cell is read by people
            nb = nbformat.read(executed, as_version=4)
            if scrub_machine_paths(nb):
                nbformat.write(nb, executed)
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

"""The course's main job: execute every notebook headless, in order, and report.

``python -m vae_helpers.tools.course`` (what ``make course`` runs) executes ``notebooks/NN_*.ipynb``
with papermill into ``build/course/`` (executed copies a person can open) while the notebooks
save their figures into ``build/figures/`` (``assets/figures/`` with ``--in-place``).  A notebook whose metadata says it needs a dataset
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
notebooks use is trained once per run and reused by the others, through the retrain cache of
:func:`vae_helpers.zoo.get`, ``build/retrained/``, which a ``--train`` run empties of the current mode's runs when it
starts), ``--jobs N`` (with ``--train``: N processes
at once, one thread each; default one per CPU core), ``--out DIR``, and notebook name filters. ``make test``
runs ``--fast --train`` once, so the retrain path cannot rot.

The parallel retrain path (:func:`parallel_jobs`, and :mod:`.course_jobs`' process pool, a fresh process per job).
Notebooks that train their models themselves (08 and 09 with the student's code, 10 on CelebA) start at once; the recipes the other notebooks get from the retrain cache are
trained next, each once, through :func:`vae_helpers.zoo.train_into_cache` (the function ``zoo.get(name,
train=True)`` trains through; ``--recipe NAME`` runs it alone), longest first; each of those notebooks starts when
its recipes are done and finds them in the cache. The pretrained path runs one notebook after another.
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

from ..config import COURSE_FIGURES_ENV, REPO_ROOT, display_path, fast_mode, figure_dir, in_ci, threads_label
from ..data import load_dataset
from ..errors import ConfigError, CorruptDataError, DataNotFoundError
from ..zoo import RECIPES, read_manifest, recipe, retrain_cache_file, train_into_cache
from .course_jobs import Job, default_jobs, run_jobs

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
OUTPUT_DIR = REPO_ROOT / "build" / "course"
JOB_LOG_DIR = REPO_ROOT / "build" / "course-jobs"  # one log per job of a parallel --train run


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
    IPC sockets are the transport it recommends, and they are only reachable by this user. Their files
    go in a temporary folder of this process: jupyter's default name (``kernel-ipc-N`` in the working
    directory, ``notebooks/``) is shared by every runner, so two parallel jobs' kernels could open each
    other's sockets (papermill then fails with "Invalid Signature").
    """
    from traitlets.config import Config

    if os.name == "nt":
        return Config()
    global _KERNEL_SOCKETS
    if _KERNEL_SOCKETS is None:
        _KERNEL_SOCKETS = tempfile.TemporaryDirectory(prefix="vae-kernels-")
    return Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(_KERNEL_SOCKETS.name, "kernel")}})


_KERNEL_SOCKETS: tempfile.TemporaryDirectory | None = None


def _short_error(err: Exception) -> str:
    """``ExceptionName: message`` of the notebook's own error (papermill's ``ename``/``evalue``) or of ``err``."""
    ename, evalue = getattr(err, "ename", None), getattr(err, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    return f"{type(err).__name__}: {err}"


#: Notebooks that train their zoo models themselves on the retrain path, with the student's own code
#: (``zoo.get(..., loss_fn=...)`` or ``model_class=``), which the retrain cache never serves: a parallel run
#: does not train their recipes ahead of them. ``tests/test_course.py`` checks this against the notebooks.
TRAINS_ITS_OWN_MODELS = {
    "08": "its beta-VAE and likelihood models train with the student's losses",
    "09": "its annealing runs and conditional VAE train with the student's schedules, free bits and conditioning",
}
#: Recipes that a notebook of :data:`TRAINS_ITS_OWN_MODELS` still gets from the retrain cache (a plain
#: ``zoo.get(name, train=TRAIN)`` beside the models it trains with the student's code): a parallel run trains
#: them before the notebook starts, as for any other notebook. ``tests/test_course.py`` checks it too.
CACHED_BESIDE_OWN_MODELS = {
    "09": ("fashion-vae-d10",),  # the plain VAE that the conditional VAE's ELBO is compared with
}


def cached_recipes(notebook: Path) -> list[str]:
    """The zoo recipes ``notebook`` gets from the retrain cache on the retrain path (``zoo.get(name, train=True)``
    without the student's code): what a parallel run trains before the notebook starts."""
    number = notebook.name[:2]
    if number in TRAINS_ITS_OWN_MODELS:
        return [name for name in CACHED_BESIDE_OWN_MODELS.get(number, ()) if number in RECIPES[name].notebooks]
    return [name for name, r in RECIPES.items() if number in r.notebooks]


def _notebook_job(notebook: Path, out_dir: Path, fast: bool) -> None:
    """A parallel run's notebook job: the notebook on the retrain path, finding its recipes in the retrain cache."""
    os.environ["VAE_FAST"] = "1" if fast else "0"
    import papermill

    logging.getLogger("papermill.translators").setLevel(logging.ERROR)
    status, _, failure = run_notebook(notebook, out_dir, True, papermill)
    if status != "ok":
        raise RuntimeError(failure)


def _training_job(name: str, fast: bool) -> None:
    """A parallel run's training job: the recipe ``name`` trained into the retrain cache."""
    os.environ["VAE_FAST"] = "1" if fast else "0"
    train_recipe_into_cache(name)


def parallel_jobs(books: list[Path], out_dir: Path, fast: bool, in_place: bool) -> list[Job]:
    """The jobs of a parallel ``--train`` run: the notebooks that need no cached recipe first (the longest
    runs: they start at once), then the recipes the other notebooks get from the cache, longest training
    first (the manifest's ``train_seconds``), then those notebooks, each after its recipes. Notebooks go longest
    first (:func:`committed_seconds`), so that a long one does not start last while the other slots idle."""
    out_dir = NOTEBOOK_DIR if in_place else out_dir
    books = sorted(books, key=lambda book: -committed_seconds(book))
    needs = {book.name: cached_recipes(book) for book in books}
    seconds = _train_seconds()
    recipes = sorted({name for names in needs.values() for name in names}, key=lambda name: -seconds.get(name, 0.0))
    independent = [Job(b.name, _notebook_job, (b, out_dir, fast), notebook=b.name) for b in books if not needs[b.name]]
    training = [Job(f"train {name}", _training_job, (name, fast)) for name in recipes]
    dependent = [
        Job(
            b.name,
            _notebook_job,
            (b, out_dir, fast),
            needs=tuple(f"train {n}" for n in needs[b.name]),
            notebook=b.name,
        )
        for b in books
        if needs[b.name]
    ]
    return independent + training + dependent


def committed_seconds(book: Path) -> float:
    """How long the committed outputs of ``book`` took to compute (papermill's ``duration`` in the notebook's
    metadata, written by ``--in-place``); 0 when the notebook has none."""
    try:
        return float(json.loads(book.read_text())["metadata"]["papermill"]["duration"] or 0.0)
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def _train_seconds() -> dict[str, float]:
    """Each zoo model's training seconds from the manifest (what a parallel run orders its recipes by)."""
    try:
        models = read_manifest()["models"]
    except (KeyError, TypeError, ValueError, OSError):
        return {}
    return {name: float(entry.get("train_seconds") or 0.0) for name, entry in models.items()}


def train_recipe_into_cache(name: str) -> int:
    """``--recipe NAME``: train one recipe into the retrain cache (a parallel ``--train`` run's training job)."""
    try:
        recipe(name)
    except ConfigError as err:
        print(f"--recipe {name}: {err}", file=sys.stderr)
        return 2
    trained = train_into_cache(name)
    print(
        f"{name}: trained, {len(trained.run.history['epoch'])} epochs; kept in {display_path(retrain_cache_file(name))}"
    )
    return 0


def clear_retrain_cache() -> list[Path]:
    """Remove the retrain cache's runs of every recipe in the current mode (fast or full), so that a ``--train``
    run trains each recipe once itself rather than reusing an earlier run's weights. Returns the files removed."""
    removed = []
    for name in RECIPES:
        path = retrain_cache_file(name)
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed


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
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="with --train: processes at once, one thread each (default: one per CPU core; 1: one after another)",
    )
    parser.add_argument("--recipe", help="train one zoo recipe into the retrain cache (build/retrained/) and exit")
    parser.add_argument("--out", help="folder for the executed notebooks (default build/course)")
    args = parser.parse_args(argv)
    if args.fast:
        os.environ["VAE_FAST"] = "1"
    if args.recipe:
        return train_recipe_into_cache(args.recipe)
    jobs = args.jobs if args.jobs is not None else (default_jobs() if args.train else 1)
    if jobs < 1 or (jobs > 1 and not args.train):
        parser.error(
            "--jobs takes a whole number >= 1, and more than 1 only with --train (the pretrained path "
            "runs one notebook after another, so its outputs match nbval's run to the digit)"
        )
    import papermill

    # papermill reads the parameters cell to type what it injects and warns about every line that is a call
    # (config.pick(...)): noise, since every injected value here (TRAIN) is a plain literal.
    logging.getLogger("papermill.translators").setLevel(logging.ERROR)

    if args.train:  # each recipe is trained once per run, by this run (zoo.get)
        clear_retrain_cache()
    out_dir = NOTEBOOK_DIR if args.in_place else Path(args.out) if args.out else OUTPUT_DIR
    if args.in_place:  # refreshing the committed outputs: the figures they show go to assets/figures/ too
        os.environ[COURSE_FIGURES_ENV] = "1"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, float]] = []
    failures: list[str] = []
    runnable: list[Path] = []
    books = course_notebooks(args.names)
    order = {book.name: i for i, book in enumerate(books)}  # the report lists notebooks in course order
    for notebook in books:
        problems = data_problems(notebook)
        if problems["corrupt"]:
            print(
                f"FAILED {notebook.name}: a dataset it needs is damaged (the other notebooks still run).\n"
                + "\n".join(problems["corrupt"] + problems["missing"])
                + "\n"
            )
            rows.append((notebook.name, "FAILED (damaged data)", 0.0))
            failures.append(f"{notebook.name}: " + "; ".join(problems["corrupt"]))
        elif problems["missing"] and in_ci():
            print(f"FAILED {notebook.name}: missing data under CI\n" + "\n".join(problems["missing"]))
            rows.append((notebook.name, "missing data", 0.0))
            failures.append(f"{notebook.name}: missing data under CI")
        elif problems["missing"]:
            print(f"SKIPPED {notebook.name}: it needs data that is not here.\n" + "\n".join(problems["missing"]) + "\n")
            rows.append((notebook.name, "skipped (no data)", 0.0))
        else:
            runnable.append(notebook)
    if not rows and not runnable:
        print("No notebooks found in notebooks/" + (f" matching {args.names}." if args.names else "."))
        return 1

    started = time.perf_counter()
    if jobs > 1 and runnable:
        print(
            f"Retrain path in {jobs} parallel jobs: the recipes the notebooks share are trained first, each once; "
            f"job logs in {display_path(JOB_LOG_DIR)}",
            flush=True,
        )
        done = run_jobs(parallel_jobs(runnable, out_dir, fast_mode(), args.in_place), jobs, JOB_LOG_DIR)
        for job in done:
            if job.notebook:
                rows.append((job.notebook, job.status, job.seconds))
            if job.status != "ok":
                failures.append(f"{job.label}: failed (log {display_path(job.log)})")
        training = [j for j in done if j.notebook is None]
    else:
        training = []
        for notebook in runnable:
            status, seconds, failure = run_notebook(notebook, out_dir, args.train, papermill)
            rows.append((notebook.name, status, seconds))
            if failure:
                failures.append(failure)
    wall = time.perf_counter() - started

    mode = ("fast" if fast_mode() else "full") + (
        ", retrain path (TRAIN = True)" if args.train else ", pretrained weights"
    )
    print(f"\nCourse run ({mode} mode); executed notebooks in {out_dir}, figures in {figure_dir()}")
    print("| notebook | status | seconds |\n| --- | --- | ---: |")
    for name, status, seconds in sorted(rows, key=lambda row: order[row[0]]):
        print(f"| {name} | {status} | {seconds:.1f} |")
    for job in training:
        print(f"| {job.label} ({threads_label(job.threads)}) | {job.status} | {job.seconds:.1f} |")
    print(f"| **wall clock, {jobs} job{'s' if jobs != 1 else ''} at once** | | {wall:.1f} |")
    if failures:
        print(
            f"\n{len(failures)} notebook(s) or job(s) failed; the executed copies in {out_dir} show the failing cell:"
        )
        print("\n".join(f"* {line}" for line in failures))
    return 1 if failures else 0


def run_notebook(notebook: Path, out_dir: Path, train: bool, papermill) -> tuple[str, float, str | None]:
    """Execute one notebook with papermill into ``out_dir``: ``(status, seconds, failure line or None)``."""
    print(f"Running {notebook.name} ...", flush=True)
    started = time.perf_counter()
    failure = None
    try:
        papermill.execute_notebook(
            str(notebook),
            str(out_dir / notebook.name),
            cwd=str(NOTEBOOK_DIR),
            kernel_name="python3",
            parameters={"TRAIN": True} if train else {},
            progress_bar=False,
            config=kernel_config(),
        )
        status = "ok"
    except Exception as err:  # papermill raises PapermillExecutionError with the cell's traceback
        status = "FAILED"
        failure = f"{notebook.name}: {_short_error(err)}"
        print(f"{notebook.name} failed (the other notebooks still run):\n{err}", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    executed = out_dir / notebook.name
    if executed.exists():  # also after a failure: the copy with the failing cell is read by people
        nb = nbformat.read(executed, as_version=4)
        if scrub_machine_paths(nb):
            nbformat.write(nb, executed)
    return status, seconds, failure


if __name__ == "__main__":
    raise SystemExit(main())

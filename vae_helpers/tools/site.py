"""The course as a static website: ``python -m vae_helpers.tools.site`` (what ``make site`` runs).

Builds an HTML book of the course into ``build/site/`` from the committed full-run outputs, without executing
any notebook and without the network (Sphinx + myst-nb with ``nb_execution_mode = "off"``, sphinx-book-theme,
MathJax 3 served from the build by ``sphinx-mathjax-offline``; the configuration is ``site/conf.py``).

The committed notebooks are never edited. They are copied, prepared, into a staging folder
(``build/site-src/``) that mirrors the repository's layout, and Sphinx builds from there:

* the notebooks are found by glob: ``notebooks/[0-9][0-9]_*.ipynb`` in course order, then appendix notebooks
  (any other ``notebooks/*.ipynb``, ``notebooks/appendix/*.ipynb``, and numbered ones named ``*appendix*``);
* cells tagged ``teacher-only`` are left out and hidden tests are cleared (nbgrader's own ``ClearHiddenTests``),
  both on the page and in the notebook offered for download;
* solution cells (nbgrader ``solution: true``) are folded: code behind a "Show solution" toggle, written answers
  in a collapsed "Show the expected answer" box;
* the "Learning goals" list of the first cell is shown in a box at the top of the page;
* interactive widgets cannot run on a static page: their (stateless) outputs are replaced by a note saying the
  live controls run in JupyterLab and that the figure under it is their static preview along each slider's range;
* each page starts with links to download the notebook and its student version (``notebooks/student/``) if any;
* every ``docs/*.md`` present at build time becomes a page (none is required), with the repository files it links
  to copied along so that the links resolve;
* the landing page (``site/landing.md`` and a generated table of the notebooks with their reading and run times).

Staged files are rewritten only when their content changes, so Sphinx's incremental build redoes only what changed.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import nbformat

from ..config import REPO_ROOT
from ..errors import ConfigError, CorruptDataError

SITE_CONFIG_DIR = REPO_ROOT / "site"
STAGING_DIR = REPO_ROOT / "build" / "site-src"
OUTPUT_DIR = REPO_ROOT / "build" / "site"
TEACHER_ONLY_TAG = "teacher-only"
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_KEY = "widgets"
READING_WORDS_PER_MINUTE = 45  # prose with equations and figures to study, not skim
_LEARNING_GOALS = re.compile(
    r"^\*\*Learning goals\*\*[ \t]*\n((?:[ \t]*(?:\d+\.|[-*])[ \t].*\n?(?:[ \t]+\S.*\n?)*)+)", re.M
)
_DOC_LINK = re.compile(r"(!?)\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


@dataclass(frozen=True)
class CourseNotebook:
    """One notebook of the site: its committed file, its page name and where it sits in the book."""

    path: Path
    appendix: bool

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def student_version(self) -> Path | None:
        student = self.path.parent / "student" / self.path.name
        return student if student.is_file() else None


def discover_notebooks(notebook_dir: Path = REPO_ROOT / "notebooks") -> list[CourseNotebook]:
    """The course's notebooks in book order: numbered ones (``NN_*.ipynb``, sorted), then the appendix.

    Appendix notebooks are any other ``*.ipynb`` directly in ``notebook_dir``, those in ``notebook_dir/appendix/``,
    and numbered notebooks whose name contains ``appendix``; the student versions (``student/``) are not pages.
    """
    if not notebook_dir.is_dir():
        raise ConfigError(
            f"The notebook folder {notebook_dir} does not exist: run the site build from the course's repository "
            "(the folder that holds notebooks/ and site/)."
        )
    numbered = sorted(notebook_dir.glob("[0-9][0-9]_*.ipynb"))
    course = [path for path in numbered if "appendix" not in path.stem.lower()]
    others = sorted(set(notebook_dir.glob("*.ipynb")) - set(course))
    appendix = others + sorted((notebook_dir / "appendix").glob("*.ipynb"))
    if not course:
        raise ConfigError(
            f"No course notebook (NN_name.ipynb) in {notebook_dir}: the site needs at least one numbered notebook."
        )
    return [CourseNotebook(path, False) for path in course] + [CourseNotebook(path, True) for path in appendix]


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path`` (nbformat 4), or a :class:`CorruptDataError` that names the file."""
    try:
        return nbformat.read(path, as_version=4)
    except (json.JSONDecodeError, nbformat.reader.NotJSONError, nbformat.ValidationError, KeyError) as error:
        raise CorruptDataError(
            f"{path} is not a readable Jupyter notebook ({type(error).__name__}: {error}). Restore it from git "
            f"(git checkout -- {path.name}) or re-save it from JupyterLab."
        ) from error


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def is_solution_cell(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution", False))


def remove_teacher_material(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without ``teacher-only`` cells and with hidden tests cleared (what may be published)."""
    from nbgrader.preprocessors import ClearHiddenTests

    nb = copy.deepcopy(nb)
    nb.cells = [cell for cell in nb.cells if TEACHER_ONLY_TAG not in _tags(cell)]
    nb, _ = ClearHiddenTests().preprocess(nb, {})
    return nb


def learning_goals(nb: nbformat.NotebookNode) -> str | None:
    """The "**Learning goals**" list of the notebook's first Markdown cell (Markdown text), or None."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = _LEARNING_GOALS.search(cell.source + "\n")
            return match.group(1).rstrip() if match else None
    return None


def title(nb: nbformat.NotebookNode, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def prose_words(nb: nbformat.NotebookNode) -> int:
    """Words of the Markdown cells (without teacher-only cells): the text a student reads."""
    text = " ".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    return len(re.findall(r"[A-Za-z0-9][\w'’-]*", text))


def run_seconds(nb: nbformat.NotebookNode) -> float | None:
    """How long the committed run took (papermill's ``duration``), or None when unknown."""
    duration = nb.metadata.get("papermill", {}).get("duration")
    return float(duration) if isinstance(duration, (int, float)) else None


def _fold_solution(cell) -> None:
    if cell.cell_type == "code":
        tags = _tags(cell)
        if "hide-input" not in tags:
            cell.metadata["tags"] = tags + ["hide-input"]
        cell.metadata["mystnb"] = {"code_prompt_show": "Show solution", "code_prompt_hide": "Hide solution"}
    else:
        body = re.sub(r"<!--\s*(BEGIN|END) SOLUTION\s*-->\n?", "", cell.source).strip()
        cell.source = f"::::{{admonition}} Show the expected answer\n:class: dropdown\n\n{body}\n::::"


def _live_widget_note(next_cell_has_figure: bool) -> nbformat.NotebookNode:
    where = (
        "The figure under this note is its static version: the images the controls decode across their range "
        "(one row per slider, or the whole grid of a 2-D pad)."
        if next_cell_has_figure
        else "Its static figures are in the notebook's committed outputs."
    )
    return nbformat.v4.new_markdown_cell(
        ":::{note}\n**The live sliders run in JupyterLab.** A static page cannot run Python, so the interactive "
        f"widget of the cell above is not shown here. {where} Open the notebook in JupyterLab (`make lab`) to drag "
        "the sliders and see the image decoded as you move.\n:::",
        metadata={"tags": ["live-widget-note"]},
    )


def _has_figure(cell) -> bool:
    return cell.cell_type == "code" and any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))


def replace_widgets(nb: nbformat.NotebookNode) -> int:
    """Drop widget outputs (and the notebook's widget state) and put a note after each widget cell.

    Without this myst-nb would load the widget manager from a CDN, and still show nothing: the committed
    outputs are views without state. Returns the number of widget cells found.
    """
    nb.metadata.pop(WIDGET_STATE_KEY, None)
    cells, found = [], 0
    for index, cell in enumerate(nb.cells):
        cells.append(cell)
        if cell.cell_type != "code":
            continue
        kept = [out for out in cell.get("outputs", []) if WIDGET_VIEW_MIME not in out.get("data", {})]
        if len(kept) != len(cell.outputs):
            found += 1
            cell.outputs = kept
            following = nb.cells[index + 1] if index + 1 < len(nb.cells) else None
            cells.append(_live_widget_note(following is not None and _has_figure(following)))
    nb.cells = cells
    return found


def _downloads_cell(notebook: CourseNotebook) -> nbformat.NotebookNode:
    links = [f"{{download}}`this notebook <../downloads/{notebook.path.name}>` (with outputs and solutions)"]
    if notebook.student_version is not None:
        links.append(f"{{download}}`the student version <../downloads/student/{notebook.path.name}>` (exercises blank)")
    return nbformat.v4.new_markdown_cell(
        "**Download:** " + " · ".join(links) + ". Run it in JupyterLab with the course's environment (`make lab`).",
        metadata={"tags": ["site-downloads"]},
    )


def page_notebook(nb: nbformat.NotebookNode, notebook: CourseNotebook) -> nbformat.NotebookNode:
    """The notebook as its page shows it (``nb`` must already be without teacher material)."""
    nb = copy.deepcopy(nb)
    goals = learning_goals(nb)
    for cell in nb.cells:
        if is_solution_cell(cell):
            _fold_solution(cell)
    first_markdown = next((cell for cell in nb.cells if cell.cell_type == "markdown"), None)
    if goals and first_markdown is not None:
        first_markdown.source = _LEARNING_GOALS.sub(
            lambda _: f":::{{admonition}} Learning goals\n:class: tip\n\n{goals}\n:::\n", first_markdown.source + "\n"
        ).rstrip()
    replace_widgets(nb)
    position = nb.cells.index(first_markdown) + 1 if first_markdown is not None else 0
    nb.cells.insert(position, _downloads_cell(notebook))
    return nb


def _write_if_changed(path: Path, content: bytes) -> None:
    if path.is_file() and path.read_bytes() == content:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _notebook_bytes(nb: nbformat.NotebookNode) -> bytes:
    return (nbformat.writes(nb) + "\n").encode()


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def notebook_table(rows: list[tuple[CourseNotebook, str, int, float | None]]) -> str:
    """The landing page's Markdown table: notebook (linked), prose words, reading time, run time."""
    lines = [
        "| notebook | reading | run (pretrained weights) |",
        "| --- | ---: | ---: |",
    ]
    for notebook, page_title, words, seconds in rows:
        reading = max(1, round(words / READING_WORDS_PER_MINUTE))
        lines.append(
            f"| [{page_title}](notebooks/{notebook.path.name}) | {reading} min ({words:,} words) | {_minutes(seconds)} |"
        )
    return "\n".join(lines)


def _toctree(caption: str, entries: list[str]) -> str:
    if not entries:
        return ""
    # Hidden: the landing page lists the pages itself (with times); the toctree makes the book's navigation.
    return "\n".join([":::{toctree}", f":caption: {caption}", ":maxdepth: 1", ":hidden:", "", *entries, ":::", ""])


def landing_page(course_rows, appendix_rows, doc_pages: list[tuple[str, str]], landing_text: str) -> str:
    """The landing page's MyST source: ``landing_text``, the notebook tables, the guides (``(stem, title)``)."""
    parts = [landing_text.rstrip(), "", "## The notebooks", "", notebook_table(course_rows), ""]
    parts += [
        "Reading time counts the prose of each notebook at "
        f"{READING_WORDS_PER_MINUTE} words a minute (text with equations to work through); run time is the "
        "committed run on 2 CPU cores with the course's pretrained weights (`TRAIN = False`, the default).",
        "",
    ]
    if appendix_rows:
        parts += ["## Appendix", "", notebook_table(appendix_rows), ""]
    if doc_pages:
        parts += ["## Guides", "", *[f"- [{doc_title}](docs/{stem}.md)" for stem, doc_title in doc_pages], ""]
    parts += [
        _toctree("Course", [f"notebooks/{row[0].stem}" for row in course_rows]),
        _toctree("Appendix", [f"notebooks/{row[0].stem}" for row in appendix_rows]),
        _toctree("Guides", [f"docs/{stem}" for stem, _ in doc_pages]),
    ]
    return "\n".join(part for part in parts if part is not None) + "\n"


def _is_url(target: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I))


def prepare_doc(markdown: str, doc_dir: Path, repo: Path) -> tuple[str, list[Path]]:
    """A ``docs/*.md`` page as the site shows it, and the repository images it needs copied along.

    Links to web addresses, to anchors, to other ``docs/*.md`` pages and to the course's notebook pages stay
    links. An image stays an image (the file is copied into the site). A link to any other repository file or
    folder (``../data/README.md``, ``../Makefile``) would not exist on a static host, so it becomes its text
    followed by the path in the repository; so does a link to a page that does not exist (yet).
    """
    repo = repo.resolve()
    pages = {path.resolve() for path in repo.glob("docs/*.md")}
    pages |= {notebook.path.resolve() for notebook in discover_notebooks(repo / "notebooks")}
    images: list[Path] = []

    def rewrite(match: re.Match) -> str:
        bang, text, target = match.group(1), match.group(2), match.group(3)
        if _is_url(target) or target.startswith("#"):
            return match.group(0)
        path = (doc_dir / unquote(target.split("#", 1)[0])).resolve()
        inside = path.is_relative_to(repo)
        if bang and inside and path.is_file():
            images.append(path)
            return match.group(0)
        if path in pages:
            return match.group(0)
        where = path.relative_to(repo).as_posix() if inside else target
        if bang:
            return f"*{text}* (image `{where}` not found)"
        return f"{text} (`{where}` in the course's repository)"

    return _DOC_LINK.sub(rewrite, markdown), images


def notebook_images(nb: nbformat.NotebookNode, notebook_dir: Path, repo: Path) -> list[Path]:
    """The repository files that ``nb``'s Markdown cells show as images (``![alt](../assets/...)``), so that
    they can be staged at the same relative place and the page's links resolve."""
    repo = repo.resolve()
    images = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for match in _DOC_LINK.finditer(cell.source):
            if not match.group(1) or _is_url(match.group(3)):
                continue
            path = (notebook_dir / unquote(match.group(3).split("#", 1)[0])).resolve()
            if path.is_relative_to(repo) and path.is_file():
                images.append(path)
    return images


def stage(staging: Path = STAGING_DIR, repo: Path = REPO_ROOT) -> dict[str, int]:
    """Write the site's sources into ``staging``; returns counts of what was staged."""
    landing_source = repo / "site" / "landing.md"
    if not landing_source.is_file():
        raise ConfigError(f"{landing_source} is missing: the landing page's text lives there (restore it from git).")
    notebooks = discover_notebooks(repo / "notebooks")
    expected: set[Path] = set()

    def put(relative: str, content: bytes) -> None:
        target = staging / relative
        expected.add(target)
        _write_if_changed(target, content)

    course_rows, appendix_rows, widgets = [], [], 0
    for notebook in notebooks:
        published = remove_teacher_material(read_notebook(notebook.path))
        put(f"downloads/{notebook.path.name}", _notebook_bytes(published))
        if notebook.student_version is not None:
            put(f"downloads/student/{notebook.path.name}", notebook.student_version.read_bytes())
        page = page_notebook(published, notebook)
        widgets += sum(1 for cell in page.cells if "live-widget-note" in _tags(cell))
        put(f"notebooks/{notebook.path.name}", _notebook_bytes(page))
        for image in notebook_images(page, notebook.path.parent, repo):  # the diagrams the Markdown shows
            put(image.relative_to(repo.resolve()).as_posix(), image.read_bytes())
        row = (notebook, title(published, notebook.stem), prose_words(published), run_seconds(published))
        (appendix_rows if notebook.appendix else course_rows).append(row)

    doc_pages = []
    for doc in sorted((repo / "docs").glob("*.md")):
        text, images = prepare_doc(doc.read_text(encoding="utf-8"), doc.parent, repo)
        put(f"docs/{doc.name}", text.encode())
        heading = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), doc.stem)
        doc_pages.append((doc.stem, heading))
        for image in images:
            put(image.relative_to(repo.resolve()).as_posix(), image.read_bytes())

    landing = landing_page(course_rows, appendix_rows, doc_pages, landing_source.read_text(encoding="utf-8"))
    put("index.md", landing.encode())

    # Whatever an earlier build staged that no longer exists (a renamed notebook, a removed doc) goes.
    if staging.is_dir():
        for path in sorted(staging.rglob("*"), reverse=True):
            if path.is_file() and path not in expected:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    return {"notebooks": len(notebooks), "docs": len(doc_pages), "widgets": widgets}


def build(staging: Path = STAGING_DIR, output: Path = OUTPUT_DIR, quiet: bool = True) -> None:
    """Run Sphinx on ``staging`` into a fresh ``output`` (doctrees beside it, so unchanged pages are not re-read;
    the output is emptied first so that nothing of an earlier build, such as a renamed page, is left to publish)."""
    if output.is_dir():
        shutil.rmtree(output)
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-b",
        "html",
        "-c",
        str(SITE_CONFIG_DIR),
        "-d",
        str(output.parent / "site-doctrees"),
        "-W",  # a warning (an image that cannot be read, a broken cross-reference) fails the build
        "--keep-going",
        str(staging),
        str(output),
    ]
    if quiet:
        command.insert(-2, "-q")
    result = subprocess.run(command, cwd=REPO_ROOT, check=False)
    if result.returncode != 0:
        raise SystemExit(f"Sphinx failed (exit {result.returncode}): see its messages above; command: {command}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUTPUT_DIR, help="where the HTML goes (default build/site)")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = stage()
    build(output=args.out.resolve(), quiet=not args.verbose)
    pages = sum(1 for _ in args.out.rglob("*.html"))
    size = sum(path.stat().st_size for path in args.out.rglob("*") if path.is_file())
    print(
        f"site: {counts['notebooks']} notebooks, {counts['docs']} docs, {counts['widgets']} live widgets shown "
        f"as static previews; {pages} HTML files, {size / 2**20:.1f} MiB in {args.out} "
        f"({time.perf_counter() - started:.0f} s). Open {args.out / 'index.html'} or serve the folder."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

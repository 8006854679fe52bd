"""The course's website: how the notebooks are prepared for it, and every built page checked in a real browser.

The first tests run the staging step (``vae_helpers.tools.site``) on small notebooks made here. The browser test
opens every page of the built site (``build/site/``, what ``make site`` writes; built here when absent) in headless
Debian chromium through Playwright, served by a local ``http.server`` on 127.0.0.1, with every request to another
host refused, and fails on: mathematics left as raw ``$``/``\\(`` source or a MathJax error, an image that did
not load (``naturalWidth == 0``), an internal link or anchor that does not resolve, a console error or a failed
request, a page without its title. Screenshots of the landing page and of one notebook page go to
``test-artifacts/site/``. Without ``chromium`` the browser test skips, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import nbformat
import pytest

from vae_helpers.config import REPO_ROOT, in_ci
from vae_helpers.errors import ConfigError, CorruptDataError
from vae_helpers.tools import site

ARTIFACTS = REPO_ROOT / "test-artifacts" / "site"
PAGE_LOAD_S = 60  # one page loaded and its mathematics typeset (the largest notebook page is about 2 MB)
SCREENSHOT_PAGE = "notebooks/05_mlp_vae.html"  # a notebook with an exercise, a solution and a latent slider


def _notebook(cells, widgets: bool = False) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["papermill"] = {"duration": 125.0}
    if widgets:
        nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


def _course(tmp_path: Path, names=("00_intro.ipynb", "01_topic.ipynb")) -> Path:
    """A small repository: notebooks, a student version of 01, a landing text."""
    (tmp_path / "notebooks" / "student").mkdir(parents=True)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "landing.md").write_text("# A course\n\nWhat it is.\n")
    first = nbformat.v4.new_markdown_cell(
        "# 01 · A topic\n\nIntro with $x$.\n\n**Learning goals**\n1. Learn a thing.\n2. Learn another.\n\nMore text."
    )
    teacher = nbformat.v4.new_markdown_cell("Teachers' note: the answer is 42.", metadata={"tags": ["teacher-only"]})
    solution = nbformat.v4.new_code_cell(
        "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
        metadata={"nbgrader": {"solution": True, "grade": False, "grade_id": "ex1", "locked": False}},
    )
    hidden = nbformat.v4.new_code_cell(
        "check(f)\n### BEGIN HIDDEN TESTS\nsecret_check(f)\n### END HIDDEN TESTS",
        metadata={"nbgrader": {"solution": False, "grade": True, "grade_id": "t1", "locked": True, "points": 1}},
    )
    answer = nbformat.v4.new_markdown_cell(
        "<!-- BEGIN SOLUTION -->\n*Expected answer.* Because $a > b$.\n<!-- END SOLUTION -->",
        metadata={"nbgrader": {"solution": True, "grade": True, "grade_id": "p1", "locked": False, "points": 1}},
    )
    widget = nbformat.v4.new_code_cell("explorer")
    widget.outputs = [
        nbformat.v4.new_output(
            "display_data", data={site.WIDGET_VIEW_MIME: {"model_id": "abc"}, "text/plain": "HBox(...)"}
        )
    ]
    preview = nbformat.v4.new_code_cell("explorer.static_preview()")
    preview.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "F"})]
    for name in names:
        cells = [first, teacher, solution, hidden, answer, widget, preview]
        nbformat.write(_notebook(cells, widgets=True), tmp_path / "notebooks" / name)
    nbformat.write(_notebook([first]), tmp_path / "notebooks" / "student" / names[-1])
    return tmp_path


def test_notebooks_are_found_by_glob_in_course_order_then_the_appendix(tmp_path):
    names = ("01_b.ipynb", "00_a.ipynb", "10_c.ipynb", "09_appendix_reproductions.ipynb", "A_extra.ipynb")
    repo = _course(tmp_path, names)
    (repo / "notebooks" / "appendix").mkdir()
    nbformat.write(_notebook([]), repo / "notebooks" / "appendix" / "reading.ipynb")
    found = site.discover_notebooks(repo / "notebooks")
    assert [(nb.path.name, nb.appendix) for nb in found] == [
        ("00_a.ipynb", False),
        ("01_b.ipynb", False),
        ("10_c.ipynb", False),
        ("09_appendix_reproductions.ipynb", True),
        ("A_extra.ipynb", True),
        ("reading.ipynb", True),
    ]
    assert found[-1].student_version is None
    assert [nb.student_version for nb in found if nb.path.name == "A_extra.ipynb"][0] is not None


def test_a_missing_notebook_folder_or_a_broken_notebook_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="notebook folder .* does not exist"):
        site.discover_notebooks(tmp_path / "nowhere")
    (tmp_path / "notebooks").mkdir()
    with pytest.raises(ConfigError, match="No course notebook"):
        site.discover_notebooks(tmp_path / "notebooks")
    broken = tmp_path / "notebooks" / "00_broken.ipynb"
    broken.write_text('{"cells": [')
    with pytest.raises(CorruptDataError, match="00_broken.ipynb is not a readable Jupyter notebook.*git checkout"):
        site.read_notebook(broken)


def test_a_page_hides_teacher_material_folds_solutions_and_replaces_widgets(tmp_path):
    repo = _course(tmp_path)
    notebook = site.discover_notebooks(repo / "notebooks")[1]
    published = site.remove_teacher_material(site.read_notebook(notebook.path))
    sources = "\n".join(cell.source for cell in published.cells)
    assert "42" not in sources and "secret_check" not in sources  # teacher-only cell and hidden tests gone
    assert "check(f)" in sources and "return 1" in sources  # the visible check and the solution stay

    page = site.page_notebook(published, notebook)
    code = [cell for cell in page.cells if cell.cell_type == "code"]
    solution = next(cell for cell in code if "return 1" in cell.source)
    assert "hide-input" in solution.metadata.tags
    assert solution.metadata.mystnb["code_prompt_show"] == "Show solution"
    answer = next(cell for cell in page.cells if "Expected answer" in cell.source)
    assert answer.source.startswith("::::{admonition} Show the expected answer\n:class: dropdown")
    assert "BEGIN SOLUTION" not in answer.source
    assert "widgets" not in page.metadata
    assert not any(site.WIDGET_VIEW_MIME in out.get("data", {}) for cell in code for out in cell.outputs)
    note = page.cells[[cell.source for cell in page.cells].index("explorer") + 1]
    assert "live sliders run in JupyterLab" in note.source and "figure under this note" in note.source
    first = page.cells[0].source
    assert ":::{admonition} Learning goals" in first and "1. Learn a thing.\n2. Learn another." in first
    assert "**Learning goals**" not in first and "More text." in first
    downloads = page.cells[1].source
    assert "../downloads/01_topic.ipynb" in downloads and "../downloads/student/01_topic.ipynb" in downloads
    # The committed notebook itself is untouched.
    assert "42" in notebook.path.read_text() and site.WIDGET_VIEW_MIME in notebook.path.read_text()


def test_staging_lists_every_notebook_with_its_times_and_picks_up_docs_when_present(tmp_path):
    repo = _course(tmp_path)
    staging = tmp_path / "staging"
    counts = site.stage(staging, repo)
    assert counts == {"notebooks": 2, "docs": 0, "widgets": 2}  # no docs/ folder is fine
    index = (staging / "index.md").read_text()
    assert "| [01 · A topic](notebooks/00_intro.ipynb) |" in index and "2 min |" in index  # 125 s run
    assert "docs/" not in index.split("## The notebooks")[1]
    assert sorted(path.name for path in (staging / "downloads" / "student").iterdir()) == ["01_topic.ipynb"]

    (repo / "docs").mkdir()
    (repo / "assets").mkdir()
    (repo / "assets" / "plot.png").write_bytes(b"png")
    (repo / "data").mkdir()
    (repo / "data" / "README.md").write_text("# Data\n")
    (repo / "docs" / "teaching.md").write_text(
        "# Teaching\n\nSee [the data](../data/README.md#celeba), [below](#more), [benchmarks](benchmarks.md),\n"
        "[notebook 01](../notebooks/01_topic.ipynb), [the web](https://example.org/x.md), [kit](../kit/).\n\n"
        "![a plot](../assets/plot.png)\n\n## More\n"
    )
    (repo / "notebooks" / "00_intro.ipynb").unlink()
    counts = site.stage(staging, repo)
    assert counts["docs"] == 1 and counts["notebooks"] == 1
    index = (staging / "index.md").read_text()
    assert ":caption: Guides" in index and "- [Teaching](docs/teaching.md)" in index
    teaching = (staging / "docs" / "teaching.md").read_text()
    # Links that exist on the site stay links; the rest become text with the repository path.
    assert "the data (`data/README.md` in the course's repository)" in teaching
    assert "benchmarks (`docs/benchmarks.md` in the course's repository)" in teaching  # not written yet
    assert "kit (`kit` in the course's repository)" in teaching
    for kept in ("[below](#more)", "[notebook 01](../notebooks/01_topic.ipynb)", "[the web](https://example.org/x.md)"):
        assert kept in teaching
    assert "![a plot](../assets/plot.png)" in teaching and (staging / "assets" / "plot.png").read_bytes() == b"png"
    assert not (staging / "data").exists()
    assert not (staging / "notebooks" / "00_intro.ipynb").exists()  # a removed notebook leaves the site


def test_a_diagram_a_notebook_shows_is_staged_where_its_link_points(tmp_path):
    repo = _course(tmp_path)
    (repo / "assets" / "figures" / "diagrams").mkdir(parents=True)
    (repo / "assets" / "figures" / "diagrams" / "model.svg").write_text("<svg/>")
    path = repo / "notebooks" / "01_topic.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("![the model](../assets/figures/diagrams/model.svg)"))
    nbformat.write(nb, path)
    staging = tmp_path / "staging"
    site.stage(staging, repo)
    assert (staging / "assets" / "figures" / "diagrams" / "model.svg").read_text() == "<svg/>"
    assert "](../assets/figures/diagrams/model.svg)" in (staging / "notebooks" / "01_topic.ipynb").read_text()


# ---------------------------------------------------------------------------------------------- the browser test


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = "Debian's chromium is not installed (needed by the site's browser test): run `make browser`."
        if in_ci():
            pytest.fail("CI=true and " + reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def built_site() -> Path:
    """``build/site`` as ``make site`` left it; built here when absent."""
    if not (site.OUTPUT_DIR / "index.html").is_file():
        site.main([])
    return site.OUTPUT_DIR


@pytest.fixture(scope="module")
def server(built_site):
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the test reports failures itself
        pass


# Runs in the page once MathJax has finished: what a reader would see that is wrong.
_PAGE_REPORT = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const images = [...document.images];
  images.forEach(img => { img.loading = 'eager'; });
  await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done); img.addEventListener('error', done); })));
  const walker = document.createTreeWalker(document.querySelector('main') || document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: node => node.parentElement.closest('pre, code, script, style, mjx-container, .highlight')
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT });
  const raw = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent;
    if (/\\$[^$\\s][^$]*\\$|\\$\\$|\\\\\\(|\\\\\\[|\\\\begin\\{/.test(text)) raw.push(text.trim().slice(0, 120));
  }
  return {
    title: document.title,
    h1: (document.querySelector('main h1') || {}).textContent || '',
    math: document.querySelectorAll('mjx-container').length,
    mathErrors: [...document.querySelectorAll('mjx-merror, [data-mjx-error]')].map(e => e.textContent.slice(0, 120)),
    raw,
    brokenImages: images.filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src.slice(0, 160)),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id).concat(
      [...document.querySelectorAll('a[name]')].map(e => e.name)),
  };
}"""


def _pages(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*.html"))  # every HTML file is a page


def test_every_page_renders_offline_in_a_real_browser(built_site, server):
    from playwright.sync_api import sync_playwright

    pages = _pages(built_site)
    assert "index.html" in pages and SCREENSHOT_PAGE in pages, pages
    notebook_pages = [page for page in pages if page.startswith("notebooks/")]
    assert len(notebook_pages) == len(site.discover_notebooks()), notebook_pages
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    reports: dict[str, dict] = {}
    external: list[str] = []

    def refuse_other_hosts(route):
        if route.request.url.startswith(server) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=_chromium(),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", refuse_other_hosts)
            for name in pages:
                page = context.new_page()
                page.set_default_timeout(PAGE_LOAD_S * 1000)
                errors: list[str] = []
                page.on("console", lambda msg, errors=errors: msg.type == "error" and errors.append(msg.text))
                page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                page.on("requestfailed", lambda req, errors=errors: errors.append(f"request failed: {req.url}"))
                response = page.goto(server + name, wait_until="load")
                if response is None or response.status != 200:
                    problems.append(f"{name}: HTTP {response.status if response else 'no response'}")
                report = page.evaluate(_PAGE_REPORT)
                reports[name] = report
                if name == "index.html":
                    page.screenshot(path=str(ARTIFACTS / "landing.png"), full_page=True)
                if name == SCREENSHOT_PAGE:
                    page.screenshot(path=str(ARTIFACTS / "notebook_04.png"))
                    page.locator("details.hide.above-input summary").first.scroll_into_view_if_needed()
                    page.screenshot(path=str(ARTIFACTS / "notebook_05_solution.png"))
                    page.locator(".admonition.note", has_text="live sliders").first.scroll_into_view_if_needed()
                    page.screenshot(path=str(ARTIFACTS / "notebook_05_slider.png"))
                for error in errors:
                    problems.append(f"{name}: console error or failed request: {error}")
                page.close()
        finally:
            browser.close()

    ids = {name: set(report["ids"]) for name, report in reports.items()}
    for name, report in reports.items():
        if not report["title"].strip() or "<no title>" in report["title"] or not report["h1"].strip():
            problems.append(f"{name}: no title (document.title={report['title']!r}, h1={report['h1']!r})")
        problems += [f"{name}: raw mathematics left unrendered: {text!r}" for text in report["raw"]]
        problems += [f"{name}: MathJax error: {text!r}" for text in report["mathErrors"]]
        problems += [f"{name}: image did not load: {src}" for src in report["brokenImages"]]
        for href in report["links"]:
            url, fragment = urldefrag(href)
            if not url.startswith(server):
                continue  # external links are the reader's to follow; only the site's own must resolve
            target = unquote(urlparse(url).path).lstrip("/") or "index.html"
            if target.endswith("/"):
                target += "index.html"
            if not (built_site / target).is_file():
                problems.append(f"{name}: link to a missing file: {href}")
            elif fragment and target.endswith(".html") and unquote(fragment) not in ids.get(target, set()):
                problems.append(f"{name}: link to a missing anchor: {href}")
    problems += [f"request to another host refused (the site must be offline): {url}" for url in sorted(set(external))]
    summary = {name: {"title": r["title"], "math": r["math"], "links": len(r["links"])} for name, r in reports.items()}
    (ARTIFACTS / "pages.json").write_text(json.dumps(summary, indent=1))
    assert not problems, f"{len(problems)} problem(s) on the built site:\n" + "\n".join(problems[:60])
    # The notebook pages carry their typeset mathematics (02 alone has dozens of formulas).
    assert sum(reports[name]["math"] for name in notebook_pages) > 100
    assert (ARTIFACTS / "landing.png").stat().st_size > 10_000


def test_the_page_report_finds_raw_math_broken_images_and_missing_titles(tmp_path):
    """The checks above are not vacuous: a page with each fault is reported."""
    from playwright.sync_api import sync_playwright

    bad = tmp_path / "bad.html"
    bad.write_text(
        "<html><head></head><body><main><p>Raw $x^2$ and \\(y\\).</p>"
        '<img src="missing.png"><a href="#nowhere">x</a></main></body></html>'
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(bad.as_uri())
            report = page.evaluate(_PAGE_REPORT)
        finally:
            browser.close()
    assert report["title"] == "" and report["h1"] == ""
    assert report["raw"] == ["Raw $x^2$ and \\(y\\)."]
    assert len(report["brokenImages"]) == 1
    assert "nowhere" not in report["ids"]


def test_the_build_leaves_nothing_to_fetch_from_a_cdn(built_site):
    """No page or script of the site names a CDN: everything it loads is in the build."""
    cdn = re.compile(r"(cdn\.jsdelivr|cdnjs\.cloudflare|unpkg\.com|fonts\.googleapis|mathjax\.org|polyfill\.io)")
    offenders = [page for page in _pages(built_site) if cdn.search((built_site / page).read_text(errors="replace"))]
    assert offenders == []
    assert (built_site / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert (built_site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()

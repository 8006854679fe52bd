"""Sphinx configuration of the course's website (``make site``; sources staged by ``vae_helpers.tools.site``).

Offline by construction: notebooks are never executed (``nb_execution_mode = "off"``: the pages show the committed
full-run outputs), the theme's fonts and scripts ship inside its wheel, MathJax 3 is copied into the build by
``sphinx-mathjax-offline``, and myst-nb's widget manager (loaded from a CDN) is switched off: the widgets are
replaced by notes and static previews at staging time.
"""

import shutil
from pathlib import Path

project = "Variational Autoencoders in PyTorch"
author = "the course's authors (code MIT, text and figures CC BY 4.0)"

extensions = [
    "myst_nb",
    "sphinx_togglebutton",  # "dropdown" admonitions: folded written answers
    "sphinx-mathjax-offline",  # MathJax 3 (tex-chtml with its woff fonts) served from _static/mathjax
]

# Notebooks: committed outputs only.
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # the default loads require.js and the widget manager from CDNs
nb_render_markdown_format = "myst"  # Markdown printed by code cells may hold $math$ too
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3  # [text](#section) links inside a notebook resolve
suppress_warnings = ["mystnb.unknown_mime_type", "misc.highlighting_failure"]

mathjax_path = "mathjax/tex-chtml.js"  # relative to _static, where sphinx-mathjax-offline puts MathJax

exclude_patterns = ["downloads/**", "**/.ipynb_checkpoints", "_build"]
html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_copy_source = False  # each page links its notebook for download instead
html_show_sourcelink = False
html_last_updated_fmt = None
html_show_copyright = False
html_show_sphinx = False
html_use_index = False  # the course has no index entries: an empty "Index" page would only confuse
html_context = {"default_mode": "light"}  # figures are drawn on white; also keeps the theme quiet on a first visit
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "search_bar_text": "Search the course...",
}


MATHJAX_BUNDLE = "tex-chtml.js"


def _tidy_build(app, exception) -> None:
    """Drop what the build copies but never loads: the themes' template partials in ``_static`` (HTML files no
    page links, which a static host would still serve) and MathJax's other combined bundles and SVG output
    (``tex-chtml.js`` loads its TeX extensions, CHTML fonts and accessibility parts from the folders kept)."""
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    for partial in static.glob("*.html"):
        partial.unlink()
    mathjax = static / "mathjax"
    if (mathjax / MATHJAX_BUNDLE).is_file():
        for bundle in mathjax.glob("*.js"):
            if bundle.name != MATHJAX_BUNDLE:
                bundle.unlink()
        shutil.rmtree(mathjax / "output" / "svg", ignore_errors=True)


def setup(app):
    # After sphinx-mathjax-offline (default priority 500) has copied MathJax in.
    app.connect("build-finished", _tidy_build, priority=900)

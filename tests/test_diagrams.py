"""The diagrams of the ideas (assets/figures/diagrams/*.svg) are well-formed and every notebook finds them.

A notebook shows a diagram with a Markdown image link relative to its own folder; the release moves the
student versions one folder deeper (``notebooks/student/``) and rewrites those links
(``release.relink_for_student_folder``), so the same picture shows in both.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest

from vae_helpers.config import REPO_ROOT
from vae_helpers.tools.release import relink_for_student_folder, source_notebook

DIAGRAMS = REPO_ROOT / "assets" / "figures" / "diagrams"
SVG = "{http://www.w3.org/2000/svg}"
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) + sorted(
    (REPO_ROOT / "notebooks" / "student").glob("*.ipynb")
)
IMAGE_LINK = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
EXPECTED = {
    "graphical_model.svg": ("02_elbo_and_kl.ipynb",),
    "mlp_vae_architecture.svg": ("05_mlp_vae.ipynb",),
    "conv_vae_architecture.svg": ("06_conv_vae.ipynb",),
    "reparameterization.svg": ("04_reparameterization.ipynb",),
    "rate_distortion.svg": ("08_beta_vae_and_likelihoods.ipynb",),
}


def image_links(path: Path) -> list[tuple[int, str, str]]:
    """(cell index, alt text, target) of every Markdown image link in the notebook at ``path``."""
    nb = nbformat.read(path, as_version=4)
    return [
        (index, alt, target)
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "markdown"
        for alt, target in IMAGE_LINK.findall(cell.source)
    ]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_diagram_is_an_svg_with_a_title_and_a_description(name: str):
    root = ET.parse(DIAGRAMS / name).getroot()
    assert root.tag == f"{SVG}svg" and root.get("viewBox")
    assert root.findtext(f"{SVG}title", "").strip(), f"{name}: add a <title> (screen readers read it)"
    assert len(root.findtext(f"{SVG}desc", "").split()) >= 15, f"{name}: describe the picture in <desc>"
    assert not list(root.iter(f"{SVG}script")), f"{name}: a diagram is a static picture, without scripts"


@pytest.mark.parametrize("name, notebooks", sorted(EXPECTED.items()))
def test_each_diagram_is_shown_where_its_idea_is_introduced(name: str, notebooks: tuple[str, ...]):
    for notebook in notebooks:
        targets = [target for _, _, target in image_links(REPO_ROOT / "notebooks" / notebook)]
        assert f"../assets/figures/diagrams/{name}" in targets, f"{notebook} does not show {name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO_ROOT / "notebooks")))
def test_every_image_a_notebook_links_exists_and_has_alt_text(path: Path):
    problems = []
    for index, alt, target in image_links(path):
        if target.startswith(("http://", "https://", "attachment:", "data:")):
            continue
        if not (path.parent / target).resolve().is_file():
            problems.append(f"cell {index}: {target} does not exist relative to {path.parent.name}/")
        if len(alt.split()) < 3:
            problems.append(f"cell {index}: {target} needs an alt text that says what the picture shows")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_the_release_moves_links_out_of_the_notebook_folder_one_level_up():
    markdown = (
        "![The graph](../assets/figures/diagrams/graphical_model.svg) and "
        '<img src="../assets/x.svg">, [a section](#section-2), [README](https://example.org/../x), '
        "[next](06_conv_vae.ipynb)"
    )
    assert relink_for_student_folder(markdown) == (
        "![The graph](../../assets/figures/diagrams/graphical_model.svg) and "
        '<img src="../../assets/x.svg">, [a section](#section-2), [README](https://example.org/../x), '
        "[next](06_conv_vae.ipynb)"
    )
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("![A picture of it](../assets/a.svg)"), nbformat.v4.new_code_cell("1")]
    )
    released = source_notebook(nb)
    assert released.cells[0].source == "![A picture of it](../../assets/a.svg)"
    assert nb.cells[0].source == "![A picture of it](../assets/a.svg)"  # the solution notebook is not changed

"""Every course notebook opens with a header a reader can plan by, and ends with its takeaways.

The header's reading time is the site's measure (prose words at ``READING_WORDS_PER_MINUTE``), so the notebook, the
README's table and the website's landing page cannot disagree by more than rounding and later small edits.
"""

import re
from pathlib import Path

import nbformat
import pytest

from vae_helpers.tools.site import READING_WORDS_PER_MINUTE, TEACHER_ONLY_TAG, prose_words

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
READ_TIME = re.compile(r"\*\*Time[.:]\*\*\s+[Aa]bout (\d+) minutes? to read")


def _published(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if TEACHER_ONLY_TAG not in c.metadata.get("tags", [])]
    return nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_header_states_prerequisites_goals_and_a_true_reading_time(path):
    nb = _published(path)
    header = nb.cells[0].source
    assert header.startswith(f"# {path.name[:2]} · "), f"{path.name}: the first cell's title must start with its number"
    assert "**Learning goals**" in header, f"{path.name}: the header has no learning goals"
    assert re.search(r"\*\*(Prerequisites|Before this notebook)", header), (
        f"{path.name}: the header has no prerequisites"
    )
    found = READ_TIME.search(header)
    assert found, f"{path.name}: the header gives no reading time ('**Time.** About N minutes to read')"
    measured = prose_words(nb) / READING_WORDS_PER_MINUTE
    stated = int(found.group(1))
    assert abs(stated - measured) <= max(3, 0.15 * measured), (
        f"{path.name}: the header says {stated} minutes to read, the prose measures {measured:.0f} "
        f"({prose_words(nb)} words at {READING_WORDS_PER_MINUTE} a minute): update the header"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_ends_with_key_takeaways_in_prose(path):
    # The solution notebook: 07's takeaways answer its graded written question, so they are teacher-only there.
    nb = nbformat.read(path, as_version=4)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert any(s.startswith("## Key takeaways") for s in markdown[-3:]), (
        f"{path.name}: no '## Key takeaways' at the end"
    )

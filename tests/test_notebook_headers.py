"""Every course notebook opens with a header a reader can plan by, and ends with its takeaways.

The header's reading time is the site's measure (prose words at ``READING_WORDS_PER_MINUTE``), so the notebook, the
README's table and the website's landing page cannot disagree by more than rounding and later small edits. The run
time with the pretrained weights, in the header and in the README's table, is checked against the duration papermill
recorded in the committed full run (``tools.course.committed_seconds``): a rerun that makes a notebook much faster or
slower fails here until the text says so.
"""

import re
from pathlib import Path

import nbformat
import pytest

from vae_helpers.tools.course import committed_seconds
from vae_helpers.tools.site import READING_WORDS_PER_MINUTE, TEACHER_ONLY_TAG, prose_words

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
READ_TIME = re.compile(r"\*\*Time[.:]\*\*\s+[Aa]bout (\d+) minutes? to read")
README = Path(__file__).resolve().parents[1] / "README.md"
_AMOUNT = r"(about|under) (\d+|a) (seconds?|minutes?)"
# "about 70 seconds with the pretrained weights", "under a minute (nothing is trained here)", "under 2 minutes when it
# reuses the model you trained before" (notebook 10, which has no pretrained weights)
RUN_TIME = re.compile(_AMOUNT + r"(?: to run)?\s+(?:with the pretrained|\(nothing is trained|when it\s+reuses)")


def _seconds(kind: str, number: str, unit: str) -> tuple[str, float]:
    return kind, (1 if number == "a" else int(number)) * (60 if unit.startswith("minute") else 1)


def _agrees(kind: str, stated: float, measured: float) -> bool:
    """Whether a stated time fits the measured one: "under N" is less than N, "about N" within a factor of 1.5 either
    way (rounding, and a machine's speed from day to day)."""
    return measured < stated if kind == "under" else stated / 1.5 <= measured <= stated * 1.5


def _readme_rows() -> list[str]:
    """The rows of the README's course table, one per notebook."""
    return [line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("| [")]


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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_header_run_time_agrees_with_the_committed_run(path):
    header = " ".join(_published(path).cells[0].source.split())
    found = RUN_TIME.search(header)
    assert found, f"{path.name}: the header gives no run time ('about N minutes with the pretrained weights')"
    kind, stated = _seconds(*found.groups())
    measured = committed_seconds(path)
    assert measured > 0, f"{path.name}: the committed notebook records no run time (run it with the course runner)"
    assert _agrees(kind, stated, measured), (
        f"{path.name}: the header says '{found.group(0)}', the committed run took {measured:.0f} s: update the header"
    )


def test_readme_run_times_agree_with_the_committed_runs():
    rows = _readme_rows()
    assert len(rows) == len(NOTEBOOKS), "the README's course table has one row per notebook"
    for path, row in zip(NOTEBOOKS, rows):
        assert f"(notebooks/{path.name})" in row, f"the README's rows follow the notebooks in order: {path.name}"
        cell = row.split("|")[5].strip()  # | notebook | what | data | read | run time | with TRAIN = True |
        found = re.search(r"(?:under )?(\d+(?:\.\d+)?) (s|min)\b", cell.split("then")[-1])
        assert found, f"README, {path.name}: no run time in '{cell}'"
        stated = float(found.group(1)) * (60 if found.group(2) == "min" else 1)
        kind = "under" if found.group(0).startswith("under") else "about"
        measured = committed_seconds(path)
        assert _agrees(kind, stated, measured), (
            f"README, {path.name}: '{cell}', the committed run took {measured:.0f} s: update the table"
        )


def test_header_and_readme_agree_on_the_time_with_train_true():
    rows = _readme_rows()
    checked = 0
    for path, row in zip(NOTEBOOKS, rows):
        header = " ".join(_published(path).cells[0].source.split())
        found = re.search(_AMOUNT + r" with `TRAIN = True`", header)
        if not found:  # 02 trains nothing; 10 always trains the first time (its header says how long)
            continue
        _, stated = _seconds(*found.groups())
        table = re.search(r"(\d+(?:\.\d+)?) (s|min)", row.split("|")[6])
        assert table, f"README, {path.name}: no time in the `TRAIN = True` column"
        listed = float(table.group(1)) * (60 if table.group(2) == "min" else 1)
        assert abs(stated - listed) <= max(60, 0.2 * listed), (
            f"{path.name}: the header says '{found.group(0)}', the README's table {table.group(0)}: make them agree"
        )
        checked += 1
    assert checked >= 9

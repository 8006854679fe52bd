"""Committed notebook outputs read as a course, not as a log of the machine that ran them.

Every committed notebook (the solution notebooks and the student versions) is scanned: no absolute path
of this machine (``PosixPath('/home/...')`` echoes, data folders, a package file in a warning, a
kernel's temporary connection file), no progress bar frozen at some percentage, no jupyter transport
warning. The mechanisms that keep them out are tested too: ``plots.save_figure``'s path is not echoed,
the course's own warnings print without the package's file names, data summaries show paths relative
to the course folder, and ``tools.course`` rewrites any remaining path when it writes a notebook.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from pathlib import Path

import matplotlib
import nbformat
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from vae_helpers import plots  # noqa: E402
from vae_helpers.config import REPO_ROOT, display_path  # noqa: E402
from vae_helpers.errors import CourseWarning, IncompleteCelebAWarning  # noqa: E402
from vae_helpers.tools.course import scrub_machine_paths  # noqa: E402

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb")) + sorted(
    (REPO_ROOT / "notebooks" / "student").glob("*.ipynb")
)

# What must never appear in a committed output, with the reason a reviewer would give.
FORBIDDEN = [
    (re.escape(str(REPO_ROOT)), "the course folder's absolute path on the machine that ran it"),
    (r"(?<![\w.~])/(?:home|root|Users|tmp|private/var|work)/", "an absolute machine path"),
    (r"[A-Z]:\\\\Users\\\\", "an absolute Windows path"),
    (r"\b(?:Posix|Windows)Path\(", "an echoed Path object (a cell ending with a path)"),
    (r"Kernel is running over TCP", "jupyter's transport warning (tools.course uses IPC sockets)"),
    (r"\d+%\|", "a tqdm progress bar (it reads as frozen in a committed notebook)"),
]


def output_texts(nb: nbformat.NotebookNode):
    """(cell index, text) of every textual output: streams, results, displays, errors."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            parts = [output.get("text", ""), output.get("evalue", "")] + list(output.get("traceback", []))
            parts += [value for mime, value in output.get("data", {}).items() if mime.startswith("text/")]
            for part in parts:
                yield index, "".join(part) if isinstance(part, list) else str(part)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO_ROOT / "notebooks")))
def test_committed_outputs_carry_no_machine_paths_bars_or_transport_warnings(path: Path):
    nb = nbformat.read(path, as_version=4)
    problems = []
    for index, text in output_texts(nb):
        for pattern, why in FORBIDDEN:
            match = re.search(pattern, text)
            if match:
                start = max(0, match.start() - 60)
                problems.append(f"cell {index}: {why}: ...{text[start : match.end() + 40]!r}...")
    assert not problems, (
        f"{path.name} has outputs that should not be committed (re-run it with "
        "`python -m vae_helpers.tools.course --in-place <name>`, which rewrites paths, "
        "or fix the cell that prints them):\n" + "\n".join(problems[:20])
    )


def test_the_scan_finds_what_it_looks_for():
    """The forbidden patterns match the outputs this file exists to keep out (so the scan cannot pass vacuously)."""
    samples = [
        f"PosixPath('{REPO_ROOT}/assets/figures/x.png')",
        "/home/alice/course/vae_helpers/data/sources.py:211: IncompleteCelebAWarning: ...",
        "  0%|          | 0/30 [00:00<?, ?it/s]",
        "[W 12:00:00] Kernel is running over TCP without encryption.",
    ]
    for sample in samples:
        assert any(re.search(pattern, sample) for pattern, _ in FORBIDDEN), sample
    clean = (
        "fashion-mnist: train 54,000 / val 6,000 / test 10,000 images of 1x28x28 from ../shared/data/FashionMNIST/raw"
    )
    assert not any(re.search(pattern, clean) for pattern, _ in FORBIDDEN)


def test_scrub_machine_paths_rewrites_outputs_and_leaves_sources():
    temp = Path(tempfile.gettempdir())
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(source=f"print('{REPO_ROOT}')")
    cell.outputs = [
        nbformat.v4.new_output(
            "stream",
            name="stderr",
            text=f"{REPO_ROOT}/vae_helpers/x.py:3: W: data at {REPO_ROOT.parent}/shared/data ok "
            f"{temp}/tmpab_1/kernel-42.json\n",
        ),
        nbformat.v4.new_output("execute_result", data={"text/plain": f"PosixPath('{REPO_ROOT}/assets/a.png')"}),
    ]
    nb.cells = [cell]
    assert scrub_machine_paths(nb) == 4
    assert cell.outputs[0]["text"] == "vae_helpers/x.py:3: W: data at ../shared/data ok <tmp>\n"
    assert cell.outputs[1]["data"]["text/plain"] == "PosixPath('assets/a.png')"
    assert cell.source == f"print('{REPO_ROOT}')"
    assert scrub_machine_paths(nb) == 0  # idempotent


def test_display_path_is_relative_to_the_course_folder():
    assert display_path(REPO_ROOT / "assets" / "figures" / "x.png") == "assets/figures/x.png"
    assert display_path(REPO_ROOT) == "."
    assert display_path(REPO_ROOT.parent / "shared" / "data") == "../shared/data"
    outside = Path("/opt/somewhere/else") if not REPO_ROOT.is_relative_to("/opt") else Path("/srv/x")
    assert display_path(outside) == str(outside)


def test_save_figure_returns_a_path_that_a_notebook_does_not_echo(tmp_path: Path):
    from IPython.core.interactiveshell import InteractiveShell

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    path = plots.save_figure(fig, "probe", folder=tmp_path)
    plt.close(fig)
    assert isinstance(path, Path) and path.exists() and path.name == "probe.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data, metadata = InteractiveShell.instance().display_formatter.format(path)
    assert data == {} and metadata == {}  # ipykernel sends no execute_result for an empty one


def test_course_warnings_print_without_the_package_file_name():
    assert issubclass(IncompleteCelebAWarning, CourseWarning)
    text = warnings.formatwarning("6,000 of 202,599 present", IncompleteCelebAWarning, "/x/vae_helpers/y.py", 211)
    assert text == "IncompleteCelebAWarning: 6,000 of 202,599 present\n"
    other = warnings.formatwarning("deprecated", DeprecationWarning, "/x/lib.py", 3)
    assert "/x/lib.py:3" in other  # everybody else's warnings keep their location

"""Generate the student version of every exercise notebook from its solution notebook.

The solution notebook (``notebooks/NN_topic.ipynb``, with full-run outputs) is the only source.
Inside its code cells, solution code sits between two marker lines::

    def linear_warmup(step, warmup_steps, beta_max=1.0):
        \"\"\"Docstring the student keeps.\"\"\"
        ### BEGIN SOLUTION
        ### HINT: beta grows linearly from 0 at step 0 to beta_max at warmup_steps, then stays there.
        return beta_max * min(1.0, step / warmup_steps)
        ### END SOLUTION

and in the student version the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` become,
at the indentation of the ``BEGIN`` marker::

        # YOUR CODE HERE
        raise NotImplementedError("Hint: beta grows linearly ...")

``### HINT:`` lines (any number, right after ``BEGIN``) give the hint text. In markdown cells,
prose between ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->`` becomes
``*Your answer here.*``. Markers in the solution notebook are ordinary comments, so it runs as is.

The student notebook has no outputs, no execution counts and no execution metadata, so the
output is a pure function of the solution's *sources*: re-running the solution notebook does not
change it, and the generator is byte-for-byte deterministic.

Commands::

    python -m vae_helpers.tools.student          # (re)write notebooks/student/ from every notebook with markers
    python -m vae_helpers.tools.student --check  # exit 1 if a committed student notebook differs (CI)
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

import nbformat

from ..config import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
STUDENT_DIR = NOTEBOOK_DIR / "student"

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
HINT = "### HINT:"
MD_BEGIN = "<!-- BEGIN SOLUTION -->"
MD_END = "<!-- END SOLUTION -->"
MD_PLACEHOLDER = "*Your answer here.*"
DEFAULT_HINT = "replace this line with your implementation."
#: Notebook-level metadata kept in the student version (everything else, e.g. papermill's, is dropped).
KEPT_METADATA = ("kernelspec", "language_info", "vae_course")
#: Cell metadata kept (tags drive nbval/papermill; the rest is execution bookkeeping).
KEPT_CELL_METADATA = ("tags",)


class MarkerError(ValueError):
    """Unbalanced or misplaced solution markers; the message names the cell and line."""


def has_markers(nb: nbformat.NotebookNode) -> bool:
    """True when any cell holds a solution marker."""
    return any(BEGIN in c.source or MD_BEGIN in c.source for c in nb.cells)


def strip_code(source: str, where: str = "cell") -> str:
    """Replace each solution block of a code cell by ``# YOUR CODE HERE`` + ``raise NotImplementedError(hint)``."""
    out: list[str] = []
    lines = source.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith(END):
            raise MarkerError(f"{where}, line {i + 1}: '{END}' without a matching '{BEGIN}'.")
        if not stripped.startswith(BEGIN):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        hints: list[str] = []
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(END):
            inner = lines[j].strip()
            if inner.startswith(BEGIN):
                raise MarkerError(
                    f"{where}, line {j + 1}: nested '{BEGIN}' (the block opened at line {i + 1} is not closed)."
                )
            if inner.startswith(HINT):
                hints.append(inner[len(HINT) :].strip())
            j += 1
        if j == len(lines):
            raise MarkerError(f"{where}, line {i + 1}: '{BEGIN}' is never closed by '{END}'.")
        hint = " ".join(hints) or DEFAULT_HINT
        out.append(f"{indent}# YOUR CODE HERE")
        out.append(f"{indent}raise NotImplementedError({json.dumps('Hint: ' + hint, ensure_ascii=False)})")
        i = j + 1
    return "\n".join(out)


def strip_markdown(source: str, where: str = "cell") -> str:
    """Replace each ``<!-- BEGIN SOLUTION -->`` ... ``<!-- END SOLUTION -->`` span by the answer placeholder."""
    pattern = re.compile(re.escape(MD_BEGIN) + r".*?" + re.escape(MD_END), re.DOTALL)
    result = pattern.sub(MD_PLACEHOLDER, source)
    if MD_BEGIN in result or MD_END in result:
        raise MarkerError(f"{where}: unbalanced '{MD_BEGIN}' / '{MD_END}'.")
    return result


def student_notebook(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The student version of ``solution``: solution blocks replaced, outputs and execution data removed."""
    nb = copy.deepcopy(solution)
    nb.metadata = nbformat.NotebookNode({k: nb.metadata[k] for k in KEPT_METADATA if k in nb.metadata})
    if "language_info" in nb.metadata:  # the kernel fills in its version on execution: keep only the name
        nb.metadata["language_info"] = nbformat.NotebookNode(
            {"name": nb.metadata["language_info"].get("name", "python")}
        )
    nb.metadata.setdefault("vae_course", nbformat.NotebookNode())
    nb.metadata["vae_course"]["student_version"] = True
    for index, cell in enumerate(nb.cells):
        where = f"{name}, cell {index}"
        # Empty values are dropped: papermill adds "tags": [] to every cell it executes.
        cell.metadata = nbformat.NotebookNode({k: cell.metadata[k] for k in KEPT_CELL_METADATA if cell.metadata.get(k)})
        if cell.cell_type == "code":
            cell.source = strip_code(cell.source, where)
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = strip_markdown(cell.source, where)
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    """The exact text written to disk (nbformat's JSON, one trailing newline)."""
    nbformat.validate(nb)
    return nbformat.writes(nb, version=4) + "\n"


def solution_notebooks() -> list[Path]:
    """Numbered notebooks of the course that contain solution markers."""
    return [p for p in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")) if has_markers(nbformat.read(p, as_version=4))]


def expected_outputs() -> dict[Path, str]:
    """``{student path: text}`` for every solution notebook with markers."""
    return {
        STUDENT_DIR / p.name: render(student_notebook(nbformat.read(p, as_version=4), p.name))
        for p in solution_notebooks()
    }


def _show(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if any committed student notebook differs from the generator's output",
    )
    args = parser.parse_args(argv)
    expected = expected_outputs()
    if not expected:
        print(f"No notebook in {NOTEBOOK_DIR} contains '{BEGIN}' markers; nothing to generate.")
        return 0
    stale = sorted(p for p in STUDENT_DIR.glob("*.ipynb") if p not in expected) if STUDENT_DIR.is_dir() else []
    if args.check:
        bad = [p for p, text in expected.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
        for p in bad:
            print(
                f"OUT OF DATE: {_show(p)} differs from what the generator makes of notebooks/{p.name}.", file=sys.stderr
            )
        for p in stale:
            print(f"STALE: {_show(p)} has no solution notebook with markers in notebooks/.", file=sys.stderr)
        if bad or stale:
            print("Run `python -m vae_helpers.tools.student` and commit notebooks/student/.", file=sys.stderr)
            return 1
        print(f"{len(expected)} student notebook(s) up to date: " + ", ".join(p.name for p in expected))
        return 0
    STUDENT_DIR.mkdir(parents=True, exist_ok=True)
    for path, text in expected.items():
        changed = not path.is_file() or path.read_text(encoding="utf-8") != text
        path.write_text(text, encoding="utf-8")
        print(f"{'wrote' if changed else 'unchanged'} {_show(path)}")
    for p in stale:
        print(f"warning: {_show(p)} has no solution notebook with markers; delete it if it is obsolete.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Nothing a student receives holds an answer.

What a student receives: the released notebooks (``notebooks/student/``) and the installed package
(``vae_helpers/``, every text file in it). What counts as an answer:

* the key lines of every solution region (``### BEGIN SOLUTION`` ... ``### END SOLUTION``) and every hidden-test
  region (``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``) of the source notebooks ``notebooks/NN_*.ipynb``;
* the body lines of every reference solution (``reference_*``) of the teacher's grading module (``grading/``), and
  the lines of its hidden tests (``hidden_*``) that hold a number (their other inputs: seeds, sizes, values), except
  a line that the visible check of the same notebook also has (a call of a shared helper is not a hidden input);
* the names of those functions: a file a student receives must not define or call ``hidden_*``/``reference_*``.

Key lines are compared after :func:`key`: comments dropped, whitespace collapsed, a leading ``return`` or
assignment target removed (so ``z = mu + ...`` in one notebook matches ``return mu + ...`` in another). A key of
fewer than :data:`MIN_KEY_CHARS` characters (``return x``, ``nn.ReLU(),``, ``s = kl``, ``total_steps / n_cycles``)
and a block opener (a line ending in ``:``, such as ``with torch.no_grad():``) are skipped: they cannot identify a
solution and would match ordinary code. A scanned line leaks when it contains a key.

A few hits are not answers and are listed in :data:`ACCEPTED`, each with its reason (the teaching library's own
implementation that later notebooks import; a step that the text states before the exercise). Every entry must
still match something (:func:`test_every_accepted_hit_still_exists`), so the list cannot go stale.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
STUDENT_DIR = NOTEBOOK_DIR / "student"
PACKAGE_DIR = REPO_ROOT / "vae_helpers"
GRADING_DIR = REPO_ROOT / "grading"
#: Keys shorter than this (after normalisation) are skipped: too short to identify a solution.
MIN_KEY_CHARS = 25
REGIONS = (("### BEGIN SOLUTION", "### END SOLUTION"), ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"))
TEACHER_NAME = re.compile(r"(?<!self\.)(?<!\w)(hidden|reference)_\w+\s*\(")  # not a model's `self.hidden_*` layer
#: ``(received file, key): reason`` for the hits that are not answers (see the module doc).
ACCEPTED = {
    ("vae_helpers/latent.py", "int((variances > threshold).sum()), variances"): (
        "the library's active_units, which notebooks 03 and 07 use on whole models; notebook 07's text says so"
    ),
    ("notebooks/student/06_conv_vae.ipynb", "kl.sort(descending=True).values"): (
        "06 plots the KL per dimension largest first; 07's exercise is the cumulative count, not the sort"
    ),
    ("notebooks/student/08_beta_vae_and_likelihoods.ipynb", "recon + beta * kl, recon, kl"): (
        "08's likelihood comparison combines the student's own KL with a Gaussian reconstruction; the text states "
        "L = D + beta R before exercise 1, whose answer is computing the two terms"
    ),
    ("vae_helpers/exercises/nb09_conditional.py", "torch.eye(model.n_classes)"): (
        "the visible check of exercise 2c (interpolate_classes) builds its expected soft labels; its docstring and "
        "message state y_t = (1 - t) one_hot(a) + t one_hot(b), which the notebook's text gives too"
    ),
}
TEXT_SUFFIXES = {".py", ".md", ".txt", ".json", ".toml", ".cfg", ".ipynb", ".yml", ".yaml"}


def key(line: str) -> str:
    """The comparable core of a line of code: no comment, one space between tokens, no ``return``/assignment."""
    line = re.sub(r"\s+#.*$|^\s*#.*$", "", line)  # comments (a `#` inside a string is rare in solution code)
    line = " ".join(line.split())
    line = re.sub(r"^return\s+", "", line)
    line = re.sub(r"^[\w\s,.\[\]]+?\s*(?<![=!<>+\-*/])=(?!=)\s*", "", line)  # `a, b = ...`, `self.x = ...`
    return line.strip()


def _is_key(k: str) -> bool:
    return len(k) >= MIN_KEY_CHARS and not k.endswith(":")


def _region_keys(source: str) -> list[str]:
    keys, inside = [], False
    for line in source.split("\n"):
        if any(begin in line for begin, _ in REGIONS):
            inside = True
        elif any(end in line for _, end in REGIONS):
            inside = False
        elif inside:
            keys.append(key(line))
    return keys


def notebook_keys() -> dict[str, str]:
    """``{key: where it comes from}`` for every solution and hidden-test region of the source notebooks."""
    found = {}
    for path in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            gid = cell.metadata.get("nbgrader", {}).get("grade_id", "?")
            for k in _region_keys(cell.source):
                if _is_key(k):
                    found.setdefault(k, f"{path.name} cell {gid}")
    return found


def grading_keys() -> dict[str, str]:
    """``{key: where}`` for the reference solutions and the hidden tests' inputs in the teacher's grading module."""
    found = {}
    for path in sorted(GRADING_DIR.glob("nb*.py")) if GRADING_DIR.is_dir() else []:
        source = path.read_text(encoding="utf-8")
        lines = source.split("\n")
        visible_module = PACKAGE_DIR / "exercises" / path.name
        visible = {key(line) for line in visible_module.read_text(encoding="utf-8").split("\n")}
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith(("hidden_", "reference_")):
                continue
            body = node.body[1:] if ast.get_docstring(node) else node.body
            for line in lines[body[0].lineno - 1 : node.end_lineno] if body else []:
                k = key(line)
                hidden_input = re.search(r"\d", k) and k not in visible
                if _is_key(k) and (node.name.startswith("reference_") or hidden_input):
                    found.setdefault(k, f"grading/{path.name}:{node.name}")
    return found


def reading_notebooks() -> list[Path]:
    """The notebooks without an exercise (00, 03, the appendix 11): the student kit ships them from ``notebooks/``."""
    return [
        p
        for p in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
        if not any("nbgrader" in c.metadata for c in nbformat.read(p, as_version=4).cells)
    ]


def received_files() -> list[Path]:
    """Everything a student receives: the student notebooks, the notebooks without an exercise and the package's
    text files."""
    package = [
        p
        for p in sorted(PACKAGE_DIR.rglob("*"))
        if p.is_file() and p.suffix in TEXT_SUFFIXES and "__pycache__" not in p.parts
    ]
    return sorted(STUDENT_DIR.glob("*.ipynb")) + reading_notebooks() + package


def rel_path(path: Path) -> Path:
    return path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path


def _lines(path: Path) -> list[tuple[str, str]]:
    """``(location, line)`` of a received file: notebooks by cell, other files by line number."""
    rel = rel_path(path)
    if path.suffix == ".ipynb":
        return [
            (f"{rel} cell {i} line {j}", line)
            for i, cell in enumerate(nbformat.read(path, as_version=4).cells)
            for j, line in enumerate(cell.source.split("\n"), 1)
        ]
    return [(f"{rel}:{j}", line) for j, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1)]


def find_leaks(files: list[Path], keys: dict[str, str]) -> list[str]:
    leaks = []
    for path in files:
        for where, line in _lines(path):
            normal = " ".join(re.sub(r"\s+#.*$|^\s*#.*$", "", line).split())
            if TEACHER_NAME.search(line):
                leaks.append(f"{where}: defines or calls a hidden test or reference solution: {line.strip()}")
                continue
            for k, origin in keys.items():
                if k in normal and (str(rel_path(path)), k) not in ACCEPTED:
                    leaks.append(f"{where}: holds the answer line {k!r} of {origin}")
                    break
    return leaks


def test_key_rule():
    assert key("    z = mu + torch.exp(0.5 * logvar) * eps  # [n x N x D]") == "mu + torch.exp(0.5 * logvar) * eps"
    assert key("return codes.mean(0),   codes.std(0)") == "codes.mean(0), codes.std(0)"
    assert key("mean, std = codes.mean(0), codes.std(0)") == "codes.mean(0), codes.std(0)"
    assert key("if a == b:") == "if a == b:"
    assert key("x += 1") == "x += 1"


def test_scan_finds_a_planted_answer(tmp_path):
    keys = notebook_keys()
    assert len(keys) >= 20, "the source notebooks' solution regions were not found"
    planted = tmp_path / "leaky.py"
    planted.write_text("def f(mu, logvar, eps):\n    out = mu + torch.exp(0.5 * logvar) * eps\n    return out\n")
    called = tmp_path / "calls.py"
    called.write_text("nb01.hidden_empirical_gaussian(empirical_gaussian)\nh = self.hidden_to_out(x)\n")
    leaks = find_leaks([planted, called], keys)
    assert len(leaks) == 2 and "leaky.py:2" in leaks[0] and "calls.py:1" in leaks[1], leaks


@pytest.mark.parametrize("path", received_files(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_nothing_a_student_receives_holds_an_answer(path):
    leaks = find_leaks([path], {**notebook_keys(), **grading_keys()})
    assert not leaks, "answers in a file a student receives:\n" + "\n".join(leaks)


def test_every_accepted_hit_still_exists():
    keys = {**notebook_keys(), **grading_keys()}
    for (file, k), reason in ACCEPTED.items():
        assert reason and k in keys, f"{k!r} is no longer an answer key: remove it from ACCEPTED"
        text = " ".join(line for _, line in _lines(REPO_ROOT / file))
        assert k in " ".join(text.split()), f"{file} no longer holds {k!r}: remove it from ACCEPTED"


def test_the_installed_package_is_what_was_scanned(tmp_path):
    """`pip install .` ships vae_helpers only: no grading module, and no file the scan above did not see."""
    import subprocess
    import sys
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", ".", "-w", str(tmp_path)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith(("grading/", "tests/", "notebooks/"))]
    # Weights (safetensors, the classifier's .pt) are tensors, not text: they cannot hold an answer line.
    binary = (".safetensors", ".pt")
    shipped = {n for n in names if not n.split("/")[0].endswith(".dist-info") and not n.endswith(binary)}
    assert any(n.endswith(".safetensors") for n in names), "the wheel carries the zoo's weights as package data"
    scanned = {str(p.relative_to(REPO_ROOT)) for p in received_files() if p.is_relative_to(PACKAGE_DIR)}
    assert shipped <= scanned, f"files in the wheel that the scan does not read: {sorted(shipped - scanned)}"

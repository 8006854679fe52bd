"""The package's modules import each other without a cycle, and only through each other's public names.

Every ``from . import``/``from .x import``/``import vae_helpers.x`` anywhere in a module counts (also inside
functions and under ``TYPE_CHECKING``): an import deferred into a function or hidden from the type checker is still
a dependency, and a cycle means two modules that cannot be read (or moved) apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

import vae_helpers

PACKAGE = "vae_helpers"


def _module_files(root: Path) -> dict[str, Path]:
    """``{dotted module name: file}`` for every module of the package under ``root`` (read from disk, not imported)."""
    files = {}
    for path in sorted(root.rglob("*.py")):
        parts = [PACKAGE, *path.relative_to(root).with_suffix("").parts]
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    base = parts[: len(parts) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(root: Path) -> dict[str, set[str]]:
    """``{module: modules of the package it imports}``; ``from . import x`` names the submodule ``x``."""
    files = _module_files(root)
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node)
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base for alias in node.names]
            for target in targets:
                while target and target not in files:  # vae_helpers.data.sources.x -> vae_helpers.data.sources
                    target = target.rpartition(".")[0]
                if target and target != name and target.startswith(PACKAGE) and target != PACKAGE:
                    graph[name].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first search, each as ``[a, b, ..., a]``; a package's ``__init__`` importing its
    own submodules is not a cycle unless a submodule imports the package back."""
    cycles, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_the_package_has_no_import_cycle():
    cycles = find_cycles(import_graph(Path(vae_helpers.__file__).parent))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_a_cycle_is_found(tmp_path):
    package = tmp_path / PACKAGE
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "losses.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .models import M\n"
    )
    (package / "models.py").write_text("from .losses import f\n")
    (package / "data" / "__init__.py").write_text("from .sources import load\n")
    (package / "data" / "sources.py").write_text("def load():\n    from .celeba import c\n")
    (package / "data" / "celeba.py").write_text("from . import sources\nfrom ..losses import f\n")
    cycles = {frozenset(c) for c in find_cycles(import_graph(package))}
    assert frozenset({f"{PACKAGE}.losses", f"{PACKAGE}.models"}) in cycles
    assert frozenset({f"{PACKAGE}.data.sources", f"{PACKAGE}.data.celeba"}) in cycles


def private_imports(root: Path) -> list[str]:
    """``"module: name from other"`` for every underscore name one module imports from another module of the package.

    A module's private helpers are its own business; a sibling that needs one is using part of its API, so the name
    should be public. A private module (``exercises/_common.py``) is exempt: it exists to share helpers.
    """
    files = _module_files(root)
    found = []
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = _resolve(name, is_package, node)
            if not base.startswith(PACKAGE) or base.rpartition(".")[2].startswith("_"):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{name}: {alias.name} from {base}")
    return found


def test_no_module_imports_another_modules_private_names():
    found = private_imports(Path(vae_helpers.__file__).parent)
    assert not found, "make these names public in the module that defines them: " + "; ".join(found)


def test_a_private_import_is_found(tmp_path):
    package = tmp_path / PACKAGE
    (package / "exercises").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "zoo_files.py").write_text("def _check():\n    pass\n")
    (package / "zoo.py").write_text("from .zoo_files import _check\nfrom . import zoo_files\n")
    (package / "exercises" / "__init__.py").write_text("")
    (package / "exercises" / "_common.py").write_text("def _ok():\n    pass\n")
    (package / "exercises" / "nb01.py").write_text("from ._common import _ok\nfrom .. import zoo\n")
    assert private_imports(package) == [f"{PACKAGE}.zoo: _check from {PACKAGE}.zoo_files"]

"""Repo-wide pytest hooks: print how long each notebook (nbval) and each unit-test file took.

``make test`` runs pytest twice (unit tests, then notebooks), so both summaries appear in its log: this is the CI
budget report (issue: the whole fast suite should stay within about 10 minutes on 2 CPU cores).
"""

from __future__ import annotations

from collections import defaultdict

import pytest

_SECONDS: dict[str, dict[str, float]] = {"notebook": defaultdict(float), "unit-test file": defaultdict(float)}


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    kind = "notebook" if path.endswith(".ipynb") else "unit-test file"
    _SECONDS[kind][path] += report.duration  # setup + call + teardown


def pytest_terminal_summary(terminalreporter):
    for kind, seconds in _SECONDS.items():
        if not seconds:
            continue
        terminalreporter.section(f"{kind} run times")
        for path, s in sorted(seconds.items()):
            terminalreporter.write_line(f"{s:8.1f} s  {path}")
        terminalreporter.write_line(f"{sum(seconds.values()):8.1f} s  total ({len(seconds)} {kind}s)")


def pytest_collection_modifyitems(config, items):
    """Outside CI, skip the cells of a notebook whose declared data (metadata ``vae_course.requires``) is absent,
    with the how-to-get-it text as the reason. Under ``CI=true`` nothing is skipped: the notebook runs and fails."""
    from vae_helpers.config import in_ci

    if in_ci():
        return
    from vae_helpers.tools.course import missing_requirements

    missing: dict = {}
    for item in items:
        path = item.path
        if path.suffix != ".ipynb":
            continue
        if path not in missing:
            missing[path] = missing_requirements(path)
        if missing[path]:
            item.add_marker(pytest.mark.skip(reason="needs data that is not here:\n" + "\n".join(missing[path])))

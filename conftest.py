"""Repo-wide pytest hooks: print how long each notebook (nbval) and each unit-test file took.

``make test`` runs pytest twice (unit tests, then notebooks), so both summaries appear in its log: this is the CI
budget report (issue: the whole fast suite should stay within about 10 minutes on 2 CPU cores).
"""

from __future__ import annotations

from collections import defaultdict

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

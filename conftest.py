"""Repo-wide pytest hooks: print how long each notebook (nbval) and each unit-test file took.

``make test`` runs pytest twice (unit tests, then notebooks), so both summaries appear in its log: this is the CI
budget report (the whole fast suite should stay short on 2 CPU cores).

Also: the notebooks whose declared data is missing or corrupt are skipped (failed under ``CI=true``) with the reason,
and a broken data folder never crashes collection (tests/test_data_conftest_hook.py).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

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


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "vae_data_problem(message): the notebook's data is missing or corrupt (fails it)"
    )


def _data_problems(notebook) -> list[str]:
    """What is wrong with the data ``notebook`` declares (metadata ``vae_course.requires``): one line per problem.

    Never raises: a corrupt dataset (:class:`CorruptDataError`) or any other error while checking becomes a line, so
    a broken data folder cannot turn collection into a pytest INTERNALERROR.
    """
    try:
        from vae_helpers.tools.course import missing_requirements

        return list(missing_requirements(notebook))
    except Exception as err:  # CorruptDataError, DataNotFoundError, or anything else: report, never crash collection
        return [f"{type(err).__name__}: {err}"]


#: The longest test files first (measured on 2 cores), so that two pytest-xdist workers (``make unit``, ``make notebooks``
#: run with ``--no-loadscope-reorder``) start them early and finish together; the rest keep pytest's order.
LONGEST_FIRST = (
    "tests/test_nbgrader.py",
    "tests/test_student_kit.py",
    "tests/test_teaching_doc.py",
    "tests/test_bench.py",
    "tests/test_site.py",
)


def _longest_first(items) -> None:
    """Sort ``items`` in place: the :data:`LONGEST_FIRST` test files, then notebooks by the time their committed
    outputs took (the order the retrain path starts them in), then the rest; stable, so cells keep their order."""
    from vae_helpers.tools.course import committed_seconds

    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    seconds: dict = {}

    def key(item) -> tuple[int, float]:  # by the file's folder and name: item.path is absolute
        path = Path(item.path)
        if path.suffix == ".ipynb":
            if path not in seconds:
                seconds[path] = committed_seconds(path)
            return len(rank), -seconds[path]
        return rank.get(f"{path.parent.name}/{path.name}", len(rank) + 1), 0.0

    items.sort(key=key)


def pytest_collection_modifyitems(config, items):
    """A notebook whose declared data (metadata ``vae_course.requires``) is absent or corrupt: outside CI its cells are
    skipped with the message (how to get or fix the data); under ``CI=true`` they fail with it, never skip. Then the
    longest files go first (:func:`_longest_first`)."""
    from vae_helpers.config import in_ci

    _longest_first(items)

    problems: dict = {}
    for item in items:
        path = item.path
        if path.suffix != ".ipynb":
            continue
        if path not in problems:
            problems[path] = _data_problems(path)
        if problems[path]:
            text = "\n".join(problems[path])
            if in_ci():
                item.add_marker(
                    pytest.mark.vae_data_problem(
                        f"CI=true and the data this notebook needs is missing or corrupt:\n{text}"
                    )
                )
            else:
                item.add_marker(pytest.mark.skip(reason="needs data that is missing or corrupt here:\n" + text))


def pytest_runtest_setup(item):
    """Fail (under CI) the cells of a notebook marked by :func:`pytest_collection_modifyitems`, before any cell runs."""
    mark = item.get_closest_marker("vae_data_problem")
    if mark is not None:
        pytest.fail(mark.args[0], pytrace=False)

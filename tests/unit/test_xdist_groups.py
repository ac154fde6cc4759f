"""Tests marked with one ``xdist_group`` run on one worker (tests/conftest.py's hook): the
suite's grouped modules share expensive module fixtures, built once per worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipelines.settings import PROJECT_ROOT
from tests.conftest import LONG_MODULES, start_order

GROUPED = """
import os
import pytest

pytestmark = pytest.mark.xdist_group("shared")


@pytest.mark.parametrize("case", ["a", "b]c", "d", "e", "f", "g"])
def test_grouped(case):
    worker = os.environ["PYTEST_XDIST_WORKER"]
    with open(os.environ["WORKERS_FILE"], "a") as out:
        out.write(f"grouped {worker}\\n")
"""

UNGROUPED = """
import os
import time

import pytest


@pytest.mark.parametrize("case", range(6))
def test_alone(case):
    time.sleep(0.2)
    with open(os.environ["WORKERS_FILE"], "a") as out:
        out.write(f"alone {os.environ['PYTEST_XDIST_WORKER']}\\n")
"""


def test_a_group_runs_on_one_worker(tmp_path: Path):
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_collection_modifyitems  # noqa: F401\n"
    )
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_ungrouped.py").write_text(UNGROUPED)
    workers = tmp_path / "workers.txt"
    env = os.environ | {"PYTHONPATH": str(PROJECT_ROOT), "WORKERS_FILE": str(workers)}
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull]
    run = subprocess.run(
        [*pytest, "-n", "2", "--dist", "loadgroup", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    lines = [line.split() for line in workers.read_text().splitlines()]
    grouped = {worker for kind, worker in lines if kind == "grouped"}
    alone = {worker for kind, worker in lines if kind == "alone"}
    assert len(lines) == 12
    assert len(grouped) == 1, lines  # all six on one worker
    assert alone == {"gw0", "gw1"}, lines  # ungrouped tests still spread over both


def test_every_long_module_exists():
    """A renamed long module would silently fall back into collection order."""
    tests = PROJECT_ROOT / "tests"
    assert {name for name in LONG_MODULES if list(tests.rglob(name))} == set(LONG_MODULES)


def test_long_units_start_first_each_followed_by_short_ones():
    first, second = LONG_MODULES[:2]
    units = [
        ("test_a.py", ["a1"]),
        (second, ["s1"]),
        ("test_b.py", ["b1", "b2"]),
        (first, ["f1", "f2"]),
        ("test_c.py", ["c1"]),
        ("test_d.py", ["d1"]),
        ("test_e.py", ["e1"]),
    ]
    order = [unit[1] for unit in start_order(units)]
    # the short units between the long ones are the last collected (the unit tests)
    assert order == [["f1", "f2"], ["e1"], ["d1"], ["s1"], ["c1"], ["b1", "b2"], ["a1"]]

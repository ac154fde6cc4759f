"""Tests marked with one ``xdist_group`` run on one worker (tests/conftest.py's hook): the
suite's grouped modules share expensive module fixtures, built once per worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipelines.settings import PROJECT_ROOT

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

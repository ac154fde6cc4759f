"""Shared fixtures: an isolated data directory per test and the real merchant exports."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.settings import PROJECT_ROOT

REAL_EXPORTS = PROJECT_ROOT.parent / "shared" / "real-exports"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CRM_DATA_DIR (landing, warehouse, truth) for one test."""
    data = tmp_path / "data"
    for var in ("CRM_LANDING_DIR", "DUCKDB_PATH", "CRM_DUCKDB_TEMP_DIR", "DAGSTER_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CRM_DATA_DIR", str(data))
    monkeypatch.setenv("CRM_DUCKDB_MEMORY_LIMIT", "1GB")
    (data / "landing").mkdir(parents=True)
    return data


@pytest.fixture(scope="session")
def real_exports() -> Path:
    # CI has ../shared beside the checkout; a missing folder is a broken set-up, not a skip.
    assert REAL_EXPORTS.is_dir(), f"real merchant exports not found at {REAL_EXPORTS}"
    return REAL_EXPORTS


def deliver(landing: Path, source: str, day: str, src_file: Path, name: str | None = None) -> Path:
    """Copy a file into <landing>/<source>/<day>/ as a merchant delivery would land."""
    target = landing / source / day / (name or src_file.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src_file, target)
    return target

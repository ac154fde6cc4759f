"""dbt_project.yml as Python reads it: the project's vars (the tunables the macros and the
Python twins share), its profile name and its target-path, declared there once.

Read again whenever the file changes (its modification time is the cache key), so a
long-lived process (the Dagster daemon, `dagster dev`) sees a var changed between two
nights as the dbt process it starts does: the build fingerprints would otherwise miss the
change that rebuilds the models reading it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from pipelines.settings import DBT_PROJECT_DIR

PROJECT_FILE = "dbt_project.yml"


@lru_cache(maxsize=4)
def _parsed(path: Path, modified_ns: int) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def project_file(project_dir: Path = DBT_PROJECT_DIR) -> dict[str, Any]:
    """dbt_project.yml as written (no Jinja rendered). Callers must not change it."""
    path = project_dir / PROJECT_FILE
    return _parsed(path, path.stat().st_mtime_ns)


def project_vars(project_dir: Path = DBT_PROJECT_DIR) -> dict[str, Any]:
    """The vars dbt_project.yml declares (the orchestration never passes --vars)."""
    return project_file(project_dir).get("vars") or {}

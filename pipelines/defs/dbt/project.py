"""The dbt project as Dagster sees it, with a manifest that is never stale."""

from __future__ import annotations

import os
from pathlib import Path

from dagster_dbt import DbtProject
from dagster_dbt.dbt_project import DagsterDbtProjectPreparer

from pipelines.lib.dbt_invocation import checkout_target, dbt_environment
from pipelines.resources import WarehouseDbtResource
from pipelines.settings import DBT_PROJECT_DIR, get_settings

# The checkout's parse and manifest go where `crm-warehouse dbt` and new data directories
# look for them (dbt_invocation.checkout_target: the project's target-path).
dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target_path=checkout_target(),
)

_SOURCES = ("models", "macros", "seeds", "tests", "dbt_project.yml")


class _WarehouseProjectPreparer(DagsterDbtProjectPreparer):
    """dagster-dbt's preparer (``dbt parse`` under its lock, so concurrent processes parse
    once), with dbt started by WarehouseDbtResource: profiles.yml reads the warehouse's
    settings from the environment it is given, not from this process's."""

    def _prepare_manifest(self, project: DbtProject) -> None:
        env = dbt_environment(get_settings(), os.environ)
        resource = WarehouseDbtResource(project_dir=project)
        resource.cli(["parse", "--quiet"], env=env, target_path=project.target_path).wait()
        self._invalidate_seeds_in_partial_parse(project)


def _newest_source_mtime(project_dir: Path) -> float:
    newest = 0.0
    for name in _SOURCES:
        path = project_dir / name
        paths = [path] if path.is_file() else path.rglob("*") if path.exists() else []
        for p in paths:
            newest = max(newest, p.stat().st_mtime)
    return newest


def prepare_manifest() -> Path:
    """Run ``dbt parse`` when manifest.json is missing or older than any model, macro,
    seed or test file (a mere existence check would keep a stale manifest)."""
    manifest = dbt_project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime(DBT_PROJECT_DIR):
        _WarehouseProjectPreparer().prepare(dbt_project)
    return manifest

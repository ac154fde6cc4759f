"""The dbt project as Dagster sees it, with a manifest that is never stale."""

from __future__ import annotations

from pathlib import Path

from dagster_dbt import DbtProject

from pipelines.settings import DBT_PROJECT_DIR, export_to_environment

# profiles.yml reads these; they must be set before dbt parses.
export_to_environment()

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

_SOURCES = ("models", "macros", "seeds", "tests", "dbt_project.yml")


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
        dbt_project.preparer.prepare(dbt_project)
    return manifest

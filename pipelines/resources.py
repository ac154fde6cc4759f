"""Dagster resources: the warehouse connection and the dbt CLI, both from settings.py."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import cached_property
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DagsterDbtTranslator, DbtCliInvocation, DbtCliResource
from dagster_dbt.asset_utils import (
    DBT_INDIRECT_SELECTION_ENV,
    extract_runtime_selection_from_args,
    get_updated_cli_invocation_params_for_context,
)
from dagster_dbt.compat import DBT_PYTHON_VERSION
from dagster_dbt.dbt_manifest import validate_manifest

from pipelines.lib.dbt_invocation import DBT_EXECUTABLE
from pipelines.lib.privacy import resolve_salt
from pipelines.lib.warehouse import connect
from pipelines.settings import Settings, get_settings


class WarehouseResource(dg.ConfigurableResource):
    """Short-lived DuckDB connections: DuckDB allows one writer per file, so every asset
    closes its connection before the next step (dbt above all) opens the file.

    The settings are those of the environment (settings.py); a run started by hand reads
    folders that have been quiet for a few seconds only (``landing_quiet_seconds``, set by
    pipelines/run.py through the run's config, not through the environment)."""

    landing_quiet_seconds: float | None = None

    def settings(self) -> Settings:
        settings = get_settings()
        if self.landing_quiet_seconds is None:
            return settings
        return replace(settings, landing_quiet_seconds=self.landing_quiet_seconds)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # A run launched from the UI or the schedule refuses at its first step, with the
        # reason, when personal data cannot be hashed safely (production without salt).
        resolve_salt(self.settings())

    @contextmanager
    def connection(self, *, read_only: bool = False):
        con: duckdb.DuckDBPyConnection = connect(self.settings(), read_only=read_only)
        try:
            yield con
        finally:
            con.close()

    @property
    def landing_dir(self) -> Path:
        return self.settings().landing_dir


class WarehouseDbtResource(DbtCliResource):
    """dagster-dbt's dbt CLI, given dbt's environment as a dict, and without its two
    start-up probes.

    The environment: dagster-dbt's ``cli()`` hands dbt a copy of ``os.environ``, so the
    warehouse's settings could reach dbt only by writing them into this process's
    environment. :meth:`cli` takes them as ``env`` instead (built by
    ``dbt_invocation.dbt_environment``) and starts dbt as dagster-dbt 0.29 does otherwise
    (DECISIONLOG.md, "Configuration").

    The probes cost every dbt step about 5 s whatever the night holds (DECISIONLOG.md,
    issue 18): it runs ``dbt --version`` in a subprocess (3.2 s) to tell dbt Core from the
    Fusion engine, and builds a dbt adapter in-process (1.8 s) that only its column-metadata
    and row-count helpers use; the models' row counts come from their own post-hook
    instead."""

    def __init__(self, **kwargs):
        # The locked dbt beside this interpreter, not the first `dbt` on PATH.
        super().__init__(**{"dbt_executable": str(DBT_EXECUTABLE), **kwargs})

    @cached_property
    def _cli_version(self):
        # The dbt executable is the entry point of the dbt-core installed beside dagster-dbt
        # (uv.lock), whose version dagster-dbt has already read.
        return DBT_PYTHON_VERSION

    def _initialize_dbt_core_adapter(self, args):
        return None

    def cli(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        raise_on_error: bool = True,
        manifest=None,
        dagster_dbt_translator: DagsterDbtTranslator | None = None,
        context: dg.OpExecutionContext | dg.AssetExecutionContext | None = None,
        target_path: Path | None = None,
    ) -> DbtCliInvocation:
        """Start ``dbt <args>`` with the environment ``env`` plus the variables dagster-dbt
        sets for its own reading of dbt (JSON logs, artefact folder, project and profiles),
        selecting the context's assets as dagster-dbt does."""
        translator = dagster_dbt_translator or DagsterDbtTranslator()
        args, selects, excludes = extract_runtime_selection_from_args(args)
        params = get_updated_cli_invocation_params_for_context(
            context=context,
            manifest=validate_manifest(manifest) if manifest else {},
            dagster_dbt_translator=translator,
            runtime_selects=selects,
            runtime_excludes=excludes,
        )
        project = params.dbt_project
        project_dir = Path(project.project_dir if project else self.project_dir)
        target_path = target_path or self._get_unique_target_path(context=context)
        if not target_path.is_absolute():
            target_path = project_dir / target_path
        process_env = {
            **env,
            "DAGSTER_DBT_CLI": "true",
            "PYTHONUNBUFFERED": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_LOG_FORMAT": "json",
            "DBT_TARGET_PATH": os.fspath(target_path),
            "DBT_LOG_PATH": os.fspath(target_path),
            **({"DBT_PROFILES_DIR": self.profiles_dir} if self.profiles_dir else {}),
            "DBT_PROJECT_DIR": str(project_dir),
        }
        if params.indirect_selection:
            process_env[DBT_INDIRECT_SELECTION_ENV] = params.indirect_selection
        profile_args = (["--profile", self.profile] if self.profile else []) + (
            ["--target", self.target] if self.target else []
        )
        return DbtCliInvocation.run(
            args=[
                self.dbt_executable,
                *self.global_config_flags,
                *args,
                *profile_args,
                *params.selection_args,
            ],
            env=process_env,
            manifest=params.manifest,
            dagster_dbt_translator=params.dagster_dbt_translator,
            project_dir=project_dir,
            target_path=target_path,
            raise_on_error=raise_on_error,
            context=context,
            adapter=None,
            cli_version=self._cli_version,
            dbt_project=project,
        )

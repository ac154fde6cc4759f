"""Dagster resources: the warehouse connection and the dbt CLI, both from settings.py."""

from __future__ import annotations

from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource
from dagster_dbt.compat import DBT_PYTHON_VERSION

from pipelines.lib.privacy import resolve_salt
from pipelines.lib.warehouse import connect
from pipelines.settings import Settings, export_to_environment


class WarehouseResource(dg.ConfigurableResource):
    """Short-lived DuckDB connections: DuckDB allows one writer per file, so every asset
    closes its connection before the next step (dbt above all) opens the file."""

    def settings(self) -> Settings:
        return export_to_environment()

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
    """dagster-dbt's dbt CLI without its two start-up probes, which cost every dbt step
    about 5 s whatever the night holds (DECISIONLOG.md, issue 18): it runs ``dbt --version``
    in a subprocess (3.2 s) to tell dbt Core from the Fusion engine, and builds a dbt adapter
    in-process (1.8 s) that only its column-metadata and row-count helpers use; the models'
    row counts come from their own post-hook instead."""

    @cached_property
    def _cli_version(self):
        # The dbt executable is the entry point of the dbt-core installed beside dagster-dbt
        # (uv.lock), whose version dagster-dbt has already read.
        return DBT_PYTHON_VERSION

    def _initialize_dbt_core_adapter(self, args):
        return None

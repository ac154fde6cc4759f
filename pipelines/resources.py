"""Dagster resources: the warehouse connection and the dbt CLI, both from settings.py."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.lib.privacy import resolve_salt
from pipelines.settings import Settings, connect, export_to_environment


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

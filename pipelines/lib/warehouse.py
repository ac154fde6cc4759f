"""Connections to the warehouse file: bounded memory, threads and spill folder, and file
access limited to the warehouse's own folders. The settings say where and how much
(pipelines/settings.py); this opens the file."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.settings import Settings, get_settings


def restrict_file_access(con: duckdb.DuckDBPyConnection, directories: list[Path]) -> None:
    """Let this DuckDB database read and write files only under ``directories``: no other
    path (a crafted file name, ``..``), no extension install, no scan of Python variables
    by name. The setting belongs to the database, not the connection, and cannot be undone
    while it is open; a database already restricted (another connection of this process
    opened it) is left as it is."""
    if not con.execute("select current_setting('enable_external_access')").fetchone()[0]:
        return
    # DuckDB takes no parameters in SET; the folders come from settings, not from data.
    folders = ", ".join("'" + f"{d}/".replace("'", "''") + "'" for d in directories)
    con.execute(f"set allowed_directories = [{folders}]")
    con.execute("set enable_external_access = false")


def connect(
    settings: Settings | None = None, *, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse with bounded memory, threads and a spill directory, and with
    file access limited to the warehouse's own folders."""
    settings = settings or get_settings()
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    settings.duckdb_temp_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        str(settings.duckdb_path),
        read_only=read_only,
        config={
            "memory_limit": settings.duckdb_memory_limit,
            "threads": settings.duckdb_threads,
            "temp_directory": str(settings.duckdb_temp_dir),
        },
    )
    restrict_file_access(con, settings.file_access_directories)
    return con

"""Write gated outputs as files: write to a staging folder, audit, publish.

``exports/<as_of_date>/<output>.csv`` and ``.parquet`` plus ``manifest.json`` (rows and
SHA-256 per file). The folder appears by rename, so a reader never sees half of it;
rows are written in a total order, so the same marts give byte-identical files. The
audiences' contact lists go the same way to a restricted folder readable by its owner
only (:data:`CONTACT_OUTPUTS`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import duckdb

from pipelines.lib.workdirs import remove_dead_writers

MARTS_SCHEMA = "marts"
# Segment outputs for marketing: published only when every blocking check upstream passes.
GATED_OUTPUTS = (
    "customer_segments",
    "customer_clv",
    "audience_win_back",
    "audience_birthday_this_month",
    "audience_recommendations",
)
FORMATS = ("csv", "parquet")
MANIFEST = "manifest.json"
# Work folders beside the published ones: "<prefix><writer pid>-...", hidden by the dot.
STAGING_PREFIX = ".staging-"
REPLACED_PREFIX = ".replaced-"
# Contact lists of the audiences (raw e-mail, phone, name) for marketing's send tools:
# dbt schema restricted, CSV only, written to Settings.restricted_exports_dir.
RESTRICTED_SCHEMA = "restricted"
CONTACT_OUTPUTS = (
    "audience_win_back_contacts",
    "audience_birthday_this_month_contacts",
    "audience_recommendations_contacts",
)
CONTACT_FORMATS = ("csv",)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy(con: duckdb.DuckDBPyConnection, relation: str, target: Path, fmt: str) -> None:
    options = "(format csv, header true)" if fmt == "csv" else "(format parquet, compression zstd)"
    # Paths come from settings, never from data; quote them as SQL literals all the same.
    literal = "'" + str(target).replace("'", "''") + "'"
    con.execute(f"copy (select * from {relation} order by all) to {literal} {options}")


def write_exports(
    con: duckdb.DuckDBPyConnection,
    exports_dir: Path,
    as_of_date: dt.date,
    run_id: str,
    gate: list[str],
    *,
    outputs: tuple[str, ...] = GATED_OUTPUTS,
    schema: str = MARTS_SCHEMA,
    formats: tuple[str, ...] = FORMATS,
    private: bool = False,
) -> tuple[Path, dict]:
    """Write every output (a table of ``schema``) into a staging folder, check it, then
    rename it into place. ``private``: folders readable by their owner only, for personal
    data. Returns the published folder and the manifest."""
    mode = 0o700 if private else 0o777  # 0o777 & umask: the usual permissions
    exports_dir.mkdir(parents=True, exist_ok=True, mode=mode)
    if private:
        exports_dir.chmod(mode)  # mkdir leaves an existing folder's mode alone
    # staging and set-aside folders of a writer that died (a killed run)
    remove_dead_writers(exports_dir, (STAGING_PREFIX, REPLACED_PREFIX))
    staging = exports_dir / f"{STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"
    staging.mkdir(mode=mode)
    try:
        files = {}
        for table in outputs:
            relation = f"{schema}.{table}"
            rows = con.execute(f"select count(*) from {relation}").fetchone()[0]
            entry = {"rows": int(rows)}
            for fmt in formats:
                path = staging / f"{table}.{fmt}"
                _copy(con, relation, path, fmt)
                entry[fmt] = {
                    "file": path.name,
                    "bytes": path.stat().st_size,
                    "sha256": sha256_of(path),
                }
            files[table] = entry
        _audit(con, staging, files, formats)
        manifest = {
            "as_of_date": as_of_date.isoformat(),
            "run_id": run_id,
            "published_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "gate": gate,
            "outputs": files,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        target = exports_dir / as_of_date.isoformat()
        _swap_in(staging, target)
        return target, manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _audit(
    con: duckdb.DuckDBPyConnection, staging: Path, files: dict, formats: tuple[str, ...]
) -> None:
    """The files say what the marts say: row counts read back from each file."""
    for table, entry in files.items():
        for fmt in formats:
            path = str(staging / entry[fmt]["file"]).replace("'", "''")
            reader, opts = ("read_csv", ", header = true") if fmt == "csv" else ("read_parquet", "")
            back = con.execute(f"select count(*) from {reader}('{path}'{opts})").fetchone()[0]
            if back != entry["rows"]:
                raise RuntimeError(
                    f"export audit: {entry[fmt]['file']} holds {back} rows, {table} has {entry['rows']}"
                )


def _swap_in(staging: Path, target: Path) -> None:
    """Rename the staging folder to the target; an earlier folder for the same day is
    moved aside first and removed only after the new one is in place."""
    aside = None
    if target.exists():
        aside = target.with_name(f"{REPLACED_PREFIX}{os.getpid()}-{target.name}-{uuid.uuid4().hex}")
        os.replace(target, aside)
    os.replace(staging, target)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def read_manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


def published_folders(exports_dir: Path) -> list[Path]:
    if not exports_dir.exists():
        return []
    return sorted(p for p in exports_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

"""Versioned, read-only serving copies of the BI-facing marts, switched atomically.

DuckDB lets one process write a file and locks it, so BI tools must never open the
working warehouse. Each publication builds a new version beside the old ones:

    serving/versions/v20260131T020512123456Z/parquet/<mart>.parquet   (the data, written once)
    serving/versions/v20260131T020512123456Z/warehouse.duckdb   (views over those files
                                                                  + serving.manifest)
    serving/versions/v20260131T020512123456Z/manifest.json
    serving/current.duckdb -> versions/<version>/warehouse.duckdb   (the BI entry point)
    serving/current        -> versions/<version>                    (Parquet readers)

A version is complete before either link points at it, the links are replaced by rename
(never rewritten in place), and a version is never modified after it is published, so a
reader sees the old or the new version whole and never waits on a lock.

Only what changed is written: each mart's fingerprint (columns, rows, a hash of every
row) is kept in the manifest, a mart with the previous version's fingerprint is that
version's file hard-linked, and when no mart changed no version is made at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.lib.warehouse import restrict_file_access
from pipelines.lib.workdirs import remove_dead_writers
from pipelines.settings import Settings

SERVED_SCHEMA = "marts"  # BI-facing by construction: identity, raw and staging stay behind
VERSIONS = "versions"
CURRENT_DB = "current.duckdb"
CURRENT_DIR = "current"
DB_FILE = "warehouse.duckdb"
MANIFEST = "manifest.json"
# Work folder of a version being built: "<prefix><builder pid>-<version>", hidden by the dot.
BUILDING_PREFIX = ".building-"


@dataclass(frozen=True)
class Version:
    name: str
    path: Path
    manifest: dict

    @property
    def rows(self) -> dict[str, int]:
        return self.manifest["marts"]


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def new_version_name(now: dt.datetime | None = None) -> str:
    return "v" + (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S%fZ")


def remove_stale_builds(settings: Settings) -> list[str]:
    """Delete the ``.building-<pid>-<version>`` folders of builds whose process has died:
    never linked and so never read, but each a copy of every mart, one more per killed
    night. Runs are one at a time, but the serving asset can be materialised alone beside
    one, so a live builder's folder stays (lib/workdirs.py)."""
    removed = remove_dead_writers(settings.serving_dir, (BUILDING_PREFIX,))
    # A build killed while it named its work folder by the version's final path.
    versions = settings.serving_dir / VERSIONS
    for link in versions.iterdir() if versions.is_dir() else ():
        if link.is_symlink() and not link.exists():
            link.unlink()
            removed.append(f"{VERSIONS}/{link.name}")
    return removed


def _columns(con, mart: str) -> list[tuple[str, str]]:
    return con.execute(
        "select column_name, data_type from information_schema.columns where table_catalog = "
        "'working' and table_schema = $s and table_name = $t order by ordinal_position",
        {"s": SERVED_SCHEMA, "t": mart},
    ).fetchall()


def _fingerprint(con, mart: str) -> tuple[int, str]:
    """(rows, fingerprint of the columns and every row's values, whatever their order).
    One scan that writes nothing: much cheaper than a copy, so an unchanged mart is found
    before it would be written again."""
    columns = _columns(con, mart)
    values = ", ".join(_quote(name) for name, _ in columns)
    rows, total = con.execute(
        f"select count(*), coalesce(sum(hash({values})), 0)::varchar "
        f"from working.{SERVED_SCHEMA}.{_quote(mart)}"
    ).fetchone()
    digest = hashlib.sha256(json.dumps([columns, rows, total]).encode()).hexdigest()
    return rows, digest


def _parquet(version_dir: Path, mart: str) -> Path:
    return version_dir / "parquet" / f"{mart}.parquet"


def _link(previous: Version, mart: str, target: Path) -> bool:
    """Hard-link the previous version's file of ``mart`` (False where the file system has
    no hard links: the mart is then written again)."""
    try:
        os.link(_parquet(previous.path, mart), target)
    except OSError:
        return False
    return True


def build_version(
    settings: Settings, *, run_id: str, as_of_date: str | None, previous: Version | None = None
) -> Version | None:
    """Write the working warehouse's marts as a new version (one Parquet file per mart, and
    a DuckDB file of views over them); nothing points at it yet. A mart whose content is
    the ``previous`` version's is hard-linked from it, not written again; when every mart
    is, no version is built (None)."""
    versions = settings.serving_dir / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    name = new_version_name()
    remove_stale_builds(settings)
    building = settings.serving_dir / f"{BUILDING_PREFIX}{os.getpid()}-{name}"
    final = versions / name
    (building / "parquet").mkdir(parents=True)
    try:
        con = duckdb.connect(
            str(building / DB_FILE),
            config={
                "memory_limit": settings.duckdb_memory_limit,
                "threads": settings.duckdb_threads,
                "temp_directory": str(settings.duckdb_temp_dir),
            },
        )
        try:
            restrict_file_access(con, settings.file_access_directories)  # serving is in data
            con.execute(f"attach {_sql_literal(str(settings.duckdb_path))} as working (read_only)")
            marts = [
                r[0]
                for r in con.execute(
                    "select table_name from information_schema.tables "
                    "where table_catalog = 'working' and table_schema = $s order by table_name",
                    {"s": SERVED_SCHEMA},
                ).fetchall()
            ]
            rows: dict[str, int] = {}
            fingerprints: dict[str, str] = {}
            for mart in marts:
                rows[mart], fingerprints[mart] = _fingerprint(con, mart)
            before = previous.manifest.get("fingerprints", {}) if previous else {}
            # A data folder moved or restored elsewhere: the previous version's views still
            # name the old place, so the same marts need a version of their own.
            moved = previous is not None and previous.manifest.get("path") != str(previous.path)
            if before == fingerprints and not moved:
                return None
            linked = []
            for mart in marts:
                parquet = _parquet(building, mart)
                if before.get(mart) == fingerprints[mart] and _link(previous, mart, parquet):
                    linked.append(mart)
                else:
                    con.execute(
                        f"copy (select * from working.{SERVED_SCHEMA}.{_quote(mart)}) to "
                        f"{_sql_literal(str(parquet))} (format parquet, compression zstd)"
                    )
            con.execute("detach working")
            # Views over the version's own files, by the path they will have once published:
            # the data is written once, and a reader of the DuckDB file takes no lock on it.
            # DuckDB reads a view's files when it creates it, so that path leads to the
            # work folder for this while (a published version is never a symlink).
            os.symlink(os.path.relpath(building, versions), final)
            try:
                con.execute(f"create schema {SERVED_SCHEMA}")
                for mart in marts:
                    source = _sql_literal(str(_parquet(final, mart)))
                    con.execute(
                        f"create view {SERVED_SCHEMA}.{_quote(mart)} as select * from {source}"
                    )
            finally:
                final.unlink()
            # Inside the file too, so a reader can check what it opened is one whole version.
            con.execute("create schema serving")
            con.execute(
                "create table serving.manifest (version varchar, mart varchar, row_count bigint)"
            )
            con.executemany(
                "insert into serving.manifest values (?, ?, ?)",
                [(name, m, n) for m, n in rows.items()],
            )
            con.execute("checkpoint")
        finally:
            con.close()
        manifest = {
            "version": name,
            "run_id": run_id,
            "as_of_date": as_of_date,
            "published_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "marts": rows,
            "path": str(final),  # where its views read its files
            "fingerprints": fingerprints,
            # Unchanged since the previous version: its files, hard-linked.
            "linked": linked,
        }
        (building / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.replace(building, final)
        return Version(name, final, manifest)
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _replace_symlink(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` by renaming a new link over it: atomic on POSIX."""
    temporary = link.with_name(f".{link.name}.{uuid.uuid4().hex}")
    os.symlink(target, temporary)
    os.replace(temporary, link)


def switch_to(settings: Settings, name: str) -> Version:
    version = get_version(settings, name)
    # The database link first: it is what BI tools open.
    _replace_symlink(settings.serving_dir / CURRENT_DB, f"{VERSIONS}/{name}/{DB_FILE}")
    _replace_symlink(settings.serving_dir / CURRENT_DIR, f"{VERSIONS}/{name}")
    return version


def current_name(settings: Settings) -> str | None:
    link = settings.serving_dir / CURRENT_DB
    if not link.is_symlink():
        return None
    return Path(os.readlink(link)).parts[1]


def get_version(settings: Settings, name: str) -> Version:
    path = settings.serving_dir / VERSIONS / name
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        known = ", ".join(v.name for v in list_versions(settings)) or "none"
        raise ValueError(f"no serving version {name!r} (published: {known})")
    return Version(name, path, json.loads(manifest_path.read_text(encoding="utf-8")))


def list_versions(settings: Settings) -> list[Version]:
    root = settings.serving_dir / VERSIONS
    if not root.is_dir():
        return []
    return [
        get_version(settings, p.name)
        for p in sorted(root.iterdir())
        if p.is_dir() and (p / MANIFEST).is_file()
    ]


def prune(settings: Settings, keep: int) -> list[str]:
    """Remove all but the newest ``keep`` versions; the current one is always kept."""
    current = current_name(settings)
    versions = list_versions(settings)
    doomed = [v for v in versions[: max(len(versions) - keep, 0)] if v.name != current]
    for version in doomed:
        shutil.rmtree(version.path)
    return [v.name for v in doomed]


@dataclass(frozen=True)
class Publication:
    version: Version
    new: bool  # False: no mart changed since the current version, which stays


def publish(settings: Settings, *, run_id: str, as_of_date: str | None) -> Publication:
    """A new version made current, or none when every mart is as the current version holds
    it (a night with nothing new must not push real versions out of rollback's reach)."""
    current = current_name(settings)
    known = {v.name: v for v in list_versions(settings)}
    # A current link to a version that is gone (removed by hand): publish whole, anew.
    previous = known.get(current) if current else None
    version = build_version(settings, run_id=run_id, as_of_date=as_of_date, previous=previous)
    if version is None:
        return Publication(previous, new=False)
    switch_to(settings, version.name)
    prune(settings, settings.serving_keep)
    return Publication(version, new=True)


def rollback(settings: Settings, to: str | None = None) -> Version:
    """Switch the entry points to ``to``, or to the version published before the current."""
    if to is None:
        names = [v.name for v in list_versions(settings)]
        current = current_name(settings)
        if current not in names or names.index(current) == 0:
            raise ValueError(f"no version before {current} to roll back to (published: {names})")
        to = names[names.index(current) - 1]
    return switch_to(settings, to)
